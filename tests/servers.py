"""Start real servers for tests: a subprocess on a free loopback port, polled until healthy.

Port finding and the health wait are the benchmark's (``bench.servers``);
tests differ only in what they start: any command, not just the serve command.
"""

import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

from bench.servers import free_port, wait_healthy

__all__ = ["free_port", "running_server", "serve_command"]


@contextmanager
def running_server(args: list[str], port: int, env: Mapping[str, str] = (),
                   health_path: str = "/health") -> Iterator[str]:
    """Run ``args`` (with ``sys.executable`` in front), yield its base URL once ``health_path`` answers 200.

    The server's output goes to a file, not a pipe: a pipe nobody reads fills
    up and blocks the server mid-request.
    """
    with tempfile.TemporaryFile("w+") as log:
        process = subprocess.Popen([sys.executable, *args], env={**os.environ, **dict(env)},
                                   stdout=log, stderr=subprocess.STDOUT, text=True)
        try:
            wait_healthy(process, port, log, health_path)
            yield f"http://127.0.0.1:{port}"
        finally:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def serve_command(port: int) -> list[str]:
    """The README's serve command, bound to loopback for tests."""
    return ["-m", "wsgi_service", "--bind", f"127.0.0.1:{port}"]
