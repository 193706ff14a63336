"""gunicorn settings for every way the service runs: ``python -m wsgi_service``,
the container's CMD and the Procfile all use ``-c python:wsgi_service.operations.gunicorn_config``.

gunicorn reads this module once, in the master, before it loads the app.
Command-line flags still override it (the tests pass ``--bind 127.0.0.1:<port>``).

It also prepares what the app's metrics and logs need from the server: the
directory where every worker writes its metric values (``/metrics`` sums
them), and JSON log lines at ``LOG_LEVEL``.
"""

import atexit
import functools
import gc
import os
import shutil
import tempfile

from wsgi_service.operations import private_gunicorn
from wsgi_service.operations.door import bind_with_a_door
from wsgi_service.operations.draining import FINISH_SECONDS, drain_then_stop
from wsgi_service.operations.front import WORKER_CLASS
from wsgi_service.operations.logs import server_logging
from wsgi_service.operations.settings import ENV_MULTIPROC_DIR, ServerSettings

_server = ServerSettings.from_env()

wsgi_app = "wsgi_service:create_app_from_env()"
bind = [f"0.0.0.0:{_server.port}"]
workers = _server.workers
# Each worker an event loop that reads requests whole before the app sees them (the ``front`` package):
# slow or idle clients hold a socket, never a worker.
worker_class = WORKER_CLASS
# Connections per worker; at the limit the longest-idle kept-alive one is closed to make room.
worker_connections = 1000
# An idle kept-alive connection lasts longer than nginx's upstream keepalive_timeout (60 s) and an
# ALB's idle timeout (60 s), so the proxy in front, not the server, closes it: never mid-request.
keepalive = 75
# Load the model once in the master; forked workers share its pages.
preload_app = True
loglevel = _server.log_level
# Every line as JSON, gunicorn's own too (wsgi_service.operations.logs).
logconfig_dict = server_logging(_server.log_level)
# The app writes one JSON line per request itself (wsgi_service.operations.logs): gunicorn's would repeat it.
accesslog = None
timeout = 30
# After the drain (draining.py): time for each worker to finish the request in hand.
graceful_timeout = FINISH_SECONDS
# gunicorn 27's control socket sits at one fixed path per user: two servers on
# one host (tests, CI's serve and Procfile runs) would fight over it.
control_socket_disable = True


def on_starting(server):
    """Bind the listening sockets here, with SO_REUSEPORT, so that the drain can close the door
    without privilege (``door``); gunicorn then takes them as bound (as it takes a re-exec's or
    systemd's). Its own ``reuse_port`` would give every worker a socket of its own instead, and
    a busy worker's queue would wait while the other is idle. A port another server listens on
    is refused first: SO_REUSEPORT alone would let both bind it and split its connections."""
    if private_gunicorn.has_listeners(server) or os.environ.get("GUNICORN_FD") or os.environ.get("LISTEN_FDS"):
        return
    try:
        fds = bind_with_a_door(*private_gunicorn.bind_settings(server))
    except OSError as error:
        # gunicorn prints a RuntimeError from here as one "Error:" line and exits 1.
        raise RuntimeError(str(error)) from None
    if fds is not None:
        private_gunicorn.adopt_listeners(server, fds)


def when_ready(server):
    """SIGTERM drains before gunicorn's graceful stop (``draining``)."""
    private_gunicorn.replace_term_handler(server, functools.partial(drain_then_stop, server, _server.drain_seconds))


def pre_fork(server, worker):
    """Move what the master loaded (the model, numpy, scikit-learn) out of the
    cyclic garbage collector's reach: a worker's collections would otherwise
    write to every inherited object and copy its page, tens of MiB per worker
    (copy-on-write), once it has served a few large batches."""
    gc.freeze()


def _use_private_metrics_dir() -> None:
    """Point prometheus_client at a fresh private directory, unless the user named one.

    Set here because prometheus_client chooses multiprocess mode when it is
    imported, and the app imports it when gunicorn loads it, after this
    module. Fresh, so no file of an earlier run is ever summed with this
    one's: nothing to wipe. (A wipe in ``on_starting`` would come too late:
    with ``preload_app`` the master has loaded the app and written its own
    files by then, the model's identity among them.)
    """
    if os.environ.get(ENV_MULTIPROC_DIR):
        return
    path = tempfile.mkdtemp(prefix="wsgi-service-metrics-")
    os.environ[ENV_MULTIPROC_DIR] = path
    atexit.register(_remove_in_master, path, os.getpid())


def _remove_in_master(path: str, master_pid: int) -> None:
    """Remove the directory when the master exits, a refused start included; not when a worker
    does (workers are forks and run the master's exit handlers). A USR2 re-exec makes its own."""
    if os.getpid() == master_pid:
        shutil.rmtree(path, ignore_errors=True)


_use_private_metrics_dir()


def child_exit(server, worker):
    """prometheus_client's bookkeeping for a dead worker: its live gauges go, its counts stay."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)
