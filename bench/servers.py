"""Start one gunicorn server on loopback, time it to a healthy /health, stop it by PID.

Every server is started the way production starts it, ``python -m
wsgi_service`` (so gunicorn reads ``wsgi_service.gunicorn_config``), with only
``--bind 127.0.0.1:PORT`` added, and ``--worker-class`` when one is asked for.
The ceiling differs from the service by its app alone: the app URI given on
the command line replaces the config's ``wsgi_app``.

Servers run in their own session, so a Ctrl-C reaches the benchmark, whose
``finally`` stops them by PID (master, then any worker it left behind),
rather than racing gunicorn's own shutdown.
"""

import http.client
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from bench.memory import worker_pids

REPO_ROOT = Path(__file__).resolve().parent.parent
STARTUP_TIMEOUT_S = 30
STOP_TIMEOUT_S = 35  # gunicorn's graceful_timeout is 30 s
POLL_INTERVAL_S = 0.01


@dataclass(frozen=True)
class Server:
    base_url: str
    port: int
    pid: int
    start_to_healthy_s: float


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def running_server(app_args: list[str], env: Mapping[str, str],
                   worker_class: str | None = None) -> Iterator[Server]:
    """Yield a healthy server; the clock runs from just before the process is created."""
    port = free_port()
    command = [sys.executable, "-m", "wsgi_service", "--bind", f"127.0.0.1:{port}",
               *(["--worker-class", worker_class] if worker_class else []), *app_args]
    with tempfile.TemporaryFile("w+") as log:
        started = time.perf_counter()
        # The access log goes to a file, as it would in production: a pipe
        # nobody reads would block the workers once full.
        process = subprocess.Popen(command, cwd=REPO_ROOT, env={**os.environ, **env, "PORT": str(port)},
                                   stdout=log, stderr=subprocess.STDOUT, text=True, start_new_session=True)
        try:
            wait_healthy(process, port, log)
            yield Server(f"http://127.0.0.1:{port}", port, process.pid, time.perf_counter() - started)
        finally:
            _stop(process)


def wait_healthy(process: subprocess.Popen, port: int, log, health_path: str = "/health") -> None:
    """Until ``health_path`` on 127.0.0.1:``port`` answers 200; the server's
    output (``log``, a file) in the error when it exits first."""
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            log.seek(0)
            raise RuntimeError(f"server exited with status {process.returncode}:\n{log.read()[-4000:]}")
        if _healthy(port, health_path):
            return
        time.sleep(POLL_INTERVAL_S)
    raise RuntimeError(f"server on port {port} not healthy at {health_path} after {STARTUP_TIMEOUT_S} s")


def _healthy(port: int, health_path: str) -> bool:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
    try:
        connection.request("GET", health_path)
        return connection.getresponse().status == 200
    except OSError:
        return False
    finally:
        connection.close()


def _stop(process: subprocess.Popen) -> None:
    """SIGTERM to the master (gunicorn stops its workers), SIGKILL to whatever outlives it."""
    workers = worker_pids(process.pid) if process.poll() is None else []
    process.terminate()
    try:
        process.wait(timeout=STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    for pid in workers:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass  # exited with its master, as it should
