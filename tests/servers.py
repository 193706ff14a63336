"""Start real servers for tests: a subprocess on a free loopback port, polled until healthy."""

import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

import requests

STARTUP_TIMEOUT_S = 30


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def running_server(args: list[str], port: int, env: Mapping[str, str] = (),
                   health_path: str = "/health") -> Iterator[str]:
    """Run ``args`` (with ``sys.executable`` in front), yield its base URL once ``health_path`` answers 200.

    The server's output goes to a file, not a pipe: a pipe nobody reads fills
    up and blocks the server mid-request.
    """
    base_url = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryFile("w+") as log:
        process = subprocess.Popen([sys.executable, *args], env={**os.environ, **dict(env)},
                                   stdout=log, stderr=subprocess.STDOUT, text=True)
        try:
            _wait_healthy(process, base_url + health_path, log)
            yield base_url
        finally:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _wait_healthy(process: subprocess.Popen, url: str, log) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            log.seek(0)
            raise RuntimeError(f"server exited with {process.returncode}:\n{log.read()}")
        try:
            if requests.get(url, timeout=1).status_code == 200:
                return
        except requests.ConnectionError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"server not healthy at {url} after {STARTUP_TIMEOUT_S} s")


def serve_command(port: int) -> list[str]:
    """The README's serve command, bound to loopback for tests."""
    return ["-m", "wsgi_service", "--bind", f"127.0.0.1:{port}"]
