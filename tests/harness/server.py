"""Start a real gunicorn server on a free loopback port; stop it by PID.

``running_server`` is the one way tests, the benchmark and the reliability
runs start a server. Every server is started the way production starts it,
``python -m wsgi_service`` (so gunicorn reads the service's config module),
with ``--bind 127.0.0.1:PORT`` added; further gunicorn arguments override
the config (``--worker-class gthread``) or name another app to load
(``tests.support.faulty_app:make_app()``), which replaces the config's
``wsgi_app``.

A server runs in a session of its own, so a Ctrl-C reaches the caller,
whose exit stops it by PID (master, then any worker it left behind) rather
than racing gunicorn's own shutdown. Its output goes to a file: a pipe nobody
reads fills up and blocks the server mid-request.
"""

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.harness.proc import worker_pids
from wsgi_service.operations.draining import stop_bound_seconds
from wsgi_service.operations.settings import ENV_MODEL_DIR, ENV_PORT, ENV_WEB_CONCURRENCY, ServerSettings

REPO_ROOT = Path(__file__).resolve().parents[2]
HOST = "127.0.0.1"
# WEB_CONCURRENCY for every server: figures and tests compare across machines.
WORKERS = 2
STARTUP_TIMEOUT_S = 30
WORKERS_TIMEOUT_S = 10
STOP_TIMEOUT_S = stop_bound_seconds(ServerSettings().drain_seconds) + 5  # the drain's bound, and a margin
POLL_INTERVAL_S = 0.01


@dataclass(frozen=True)
class Server:
    """A running server: where it listens, its master's PID, its output, how long it took to be healthy."""

    process: subprocess.Popen
    port: int
    log_path: Path
    start_to_healthy_s: float

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def base_url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def workers(self) -> list[int]:
        return worker_pids(self.pid)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def worker_class(self) -> str:
        for line in self.log().splitlines():
            if "Using worker: " in line:  # gunicorn's line, a JSON object as every line the server writes
                return json.loads(line)["message"].rsplit("Using worker: ", 1)[1]
        return "unknown"

    def wait_for_workers(self, count: int = WORKERS, timeout_s: float = WORKERS_TIMEOUT_S) -> list[int]:
        """The workers' PIDs once there are ``count``: /health answers as soon as one is up."""
        deadline = time.monotonic() + timeout_s
        while len(pids := self.workers()) < count:
            if time.monotonic() > deadline:
                raise RuntimeError(f"gunicorn {self.pid} has {len(pids)} workers, not {count}, "
                                   f"after {timeout_s} s:\n{self.log()[-3000:]}")
            time.sleep(POLL_INTERVAL_S)
        return pids


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def launch(*gunicorn_args: str, port: int, output, model_dir: Path | None = None,
           env: Mapping[str, str] = (), workers: int = WORKERS,
           command: Sequence[str] | None = None) -> subprocess.Popen:
    """The one place a server process is created: ``python -m wsgi_service`` on 127.0.0.1:``port``
    (or ``command``, which binds that port itself), ``WEB_CONCURRENCY=workers``, in a session of
    its own, writing to the file ``output``."""
    environment = {**os.environ, ENV_PORT: str(port), ENV_WEB_CONCURRENCY: str(workers),
                   **({ENV_MODEL_DIR: str(model_dir)} if model_dir is not None else {}), **dict(env)}
    command = command or [sys.executable, "-m", "wsgi_service", "--bind", f"{HOST}:{port}"]
    return subprocess.Popen([*command, *gunicorn_args], cwd=REPO_ROOT, env=environment, stdout=output,
                            stderr=subprocess.STDOUT, start_new_session=True)


@contextmanager
def running_server(*gunicorn_args: str, model_dir: Path | None = None, env: Mapping[str, str] = (),
                   workers: int = WORKERS, health_path: str = "/health",
                   command: Sequence[str] | None = None, port: int | None = None) -> Iterator[Server]:
    """Yield a server once ``health_path`` answers 200 and all ``workers`` are forked; stop it at exit.

    The clock of ``start_to_healthy_s`` runs from just before the process is created.
    """
    port = port or free_port()
    with tempfile.TemporaryDirectory(prefix="live-server-") as scratch:
        log_path = Path(scratch) / "server.log"
        with open(log_path, "w") as log:
            started = time.perf_counter()
            process = launch(*gunicorn_args, port=port, output=log, model_dir=model_dir, env=env, workers=workers,
                             command=command)
        try:
            _wait_healthy(process, port, log_path, health_path)
            server = Server(process, port, log_path, time.perf_counter() - started)
            server.wait_for_workers(workers)
            yield server
        finally:
            stop(process)


@dataclass(frozen=True)
class RefusedStart:
    """How a server that was meant to refuse its start ended: exit status, output, seconds."""

    exit_code: int
    output: str
    seconds: float

    @property
    def output_lines(self) -> list[str]:
        return [line for line in self.output.splitlines() if line.strip()]


def refused_start(*gunicorn_args: str, model_dir: Path | None = None, env: Mapping[str, str] = (),
                  timeout_s: float = STARTUP_TIMEOUT_S) -> RefusedStart:
    """Start a server that must refuse to start; its exit once it has (a server still up after
    ``timeout_s`` is stopped, and that is an error)."""
    with tempfile.TemporaryFile("w+") as output:
        started = time.perf_counter()
        process = launch(*gunicorn_args, port=free_port(), output=output, model_dir=model_dir, env=env)
        try:
            process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            stop(process)
            raise RuntimeError(f"the server did not refuse to start within {timeout_s} s") from None
        seconds = time.perf_counter() - started
        output.seek(0)
        return RefusedStart(process.returncode, output.read(), seconds)


def _wait_healthy(process: subprocess.Popen, port: int, log_path: Path, health_path: str) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            output = log_path.read_text(errors="replace")
            raise RuntimeError(f"server exited with status {process.returncode}:\n{output[-4000:]}")
        if answers_200(port, health_path):
            return
        time.sleep(POLL_INTERVAL_S)
    raise RuntimeError(f"server on port {port} not healthy at {health_path} after {STARTUP_TIMEOUT_S} s")


def healthy_within(port: int, timeout_s: float, path: str = "/health") -> bool:
    """Whether ``path`` on 127.0.0.1:``port`` answers 200 within ``timeout_s``: for a server this
    harness did not start (a container), or one that has just been under stress."""
    deadline = time.monotonic() + timeout_s
    while not answers_200(port, path):
        if time.monotonic() > deadline:
            return False
        time.sleep(POLL_INTERVAL_S * 10)
    return True


def answers_200(port: int, path: str) -> bool:
    connection = http.client.HTTPConnection(HOST, port, timeout=1)
    try:
        connection.request("GET", path)
        return connection.getresponse().status == 200
    except OSError:
        return False
    finally:
        connection.close()


def stop(process: subprocess.Popen) -> None:
    """SIGTERM to the master (gunicorn stops its workers); SIGKILL, by PID, to whatever outlives it."""
    workers = worker_pids(process.pid) if process.poll() is None else []
    if process.poll() is None:
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
