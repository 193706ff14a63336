"""gunicorn settings for every way the service runs: ``python -m wsgi_service``,
the container's CMD and the Procfile all use ``-c python:wsgi_service.gunicorn_config``.

gunicorn reads this module once, in the master. Command-line flags still
override it (the tests pass ``--bind 127.0.0.1:<port>``).
"""

import gc
import logging

from wsgi_service.settings import ServerSettings

_server = ServerSettings.from_env()

wsgi_app = "wsgi_service:create_app_from_env()"
bind = [f"0.0.0.0:{_server.port}"]
workers = _server.workers
# Load the model once in the master; forked workers share its pages.
preload_app = True
loglevel = _server.log_level
accesslog = "-"
access_log_format = '%(h)s "%(r)s" %(s)s %(B)s %(M)sms rid=%({x-request-id}o)s'
timeout = 30
graceful_timeout = 30
# gunicorn 27's control socket sits at one fixed path per user: two servers on
# one host (tests, CI's serve and Procfile runs) would fight over it.
control_socket_disable = True


def pre_fork(server, worker):
    """Move what the master loaded (the model, numpy, scikit-learn) out of the
    cyclic garbage collector's reach: a worker's collections would otherwise
    write to every inherited object and copy its page, tens of MiB per worker
    (copy-on-write), once it has served a few large batches."""
    gc.freeze()


def _log_app_errors_to_stderr(level: str) -> None:
    """gunicorn configures only its own loggers; the app's go to stderr beside them."""
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("[%(asctime)s] [%(process)d] [%(levelname)s] %(name)s: %(message)s"))
    logger = logging.getLogger("wsgi_service")
    logger.addHandler(handler)
    logger.setLevel(level.upper())
    logger.propagate = False


_log_app_errors_to_stderr(_server.log_level)
