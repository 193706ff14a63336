"""Logs as one JSON object a line: one line per request, and the app's own lines in the same shape.

Elastic Beanstalk shows a container's output as it is, one line after
another, and CloudWatch Logs Insights parses JSON lines into fields: so
every record, a traceback included, is one line. The access line is written
by the app itself (``wsgi_service.access``) because only the app knows the
request id it answered with and the rows it predicted.

``server_logging`` is what the server's gunicorn config applies, once, at
start: gunicorn's own lines (its start, workers booting and exiting,
signals, the drain's lines, errors) then come out in the same shape as the
app's, so every line the server writes parses. An app embedded in another
WSGI stack leaves logging to its host, whose handlers receive the same
records (the fields in ``record.fields``).
"""

import json
import logging
import time

APP_LOGGER = "wsgi_service"
ACCESS_LOGGER = "wsgi_service.access"
GUNICORN_ERROR_LOGGER = "gunicorn.error"
GUNICORN_ACCESS_LOGGER = "gunicorn.access"
# A client's X-Forwarded-For is logged, not trusted: keep a forged one from filling the line.
MAX_CLIENT_CHARS = 64

access_log = logging.getLogger(ACCESS_LOGGER)
# Built once: json.dumps with any option builds a new encoder per call.
_encode = json.JSONEncoder(default=str).encode


class JsonFormatter(logging.Formatter):
    """A record as one JSON line: time (ISO 8601, UTC, ms), level, logger, pid, message, its fields, a traceback."""

    def format(self, record: logging.LogRecord) -> str:
        line = {
            "time": f"{time.strftime('%Y-%m-%dT%H:%M:%S', time.gmtime(record.created))}.{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "pid": record.process,
            "message": record.getMessage(),
            **getattr(record, "fields", {}),
        }
        if record.exc_info:
            line["traceback"] = self.formatException(record.exc_info)
        if record.stack_info:
            line["stack"] = self.formatStack(record.stack_info)
        return _encode(line)


def server_logging(level: str) -> dict:
    """Every line the server writes as JSON, on stderr: a ``logging.config`` dictionary, which
    gunicorn applies (``logconfig_dict``) before it loads the app.

    stderr, where gunicorn writes: one stream holds everything the server says, in order, and
    Python does not buffer it. One handler, at the root: the app's loggers log from ``level``,
    gunicorn's error log from its ``loglevel`` (``LOG_LEVEL``, unless a flag says otherwise), any
    other library from WARNING, and Python's warnings go through logging too (``py.warnings``).
    gunicorn's access log goes nowhere: the app writes a richer line of its own.
    """
    logging.captureWarnings(True)
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": JsonFormatter}},
        "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stderr"}},
        "root": {"level": "WARNING", "handlers": ["stderr"]},
        "loggers": {
            APP_LOGGER: {"level": level.upper(), "handlers": [], "propagate": True},
            GUNICORN_ERROR_LOGGER: {"handlers": [], "propagate": True},
            GUNICORN_ACCESS_LOGGER: {"level": "CRITICAL", "handlers": [], "propagate": False},
        },
    }


def client_address(environ: dict) -> str:
    """The client as the proxy in front reports it (first X-Forwarded-For address), else the peer."""
    forwarded = environ.get("HTTP_X_FORWARDED_FOR")
    if forwarded:
        return forwarded.split(",", 1)[0].strip()[:MAX_CLIENT_CHARS]
    return environ.get("REMOTE_ADDR", "")


# Where the edge leaves the fingerprint of the request's API key (never the key), for the access line.
API_KEY_ENVIRON = "forest.api_key"


def log_request(environ: dict, request_id: str, method: str, path: str, status: int, seconds: float,
                rows: int | None) -> None:
    """One access line for an answered request; nothing at all when INFO is off."""
    if not access_log.isEnabledFor(logging.INFO):
        return
    fields = {"request_id": request_id, "method": method, "path": path, "status": status,
              "duration_ms": round(seconds * 1000, 3), "client": client_address(environ)}
    if rows is not None:
        fields["rows"] = rows
    if API_KEY_ENVIRON in environ:
        fields["key"] = environ[API_KEY_ENVIRON]
    # makeRecord and handle, not info(): info() first walks the stack for the caller's file and
    # line, which this line does not show, and that walk is a quarter of the line's cost.
    access_log.handle(access_log.makeRecord(ACCESS_LOGGER, logging.INFO, "", 0, "%s %s %d", (method, path, status),
                                            None, extra={"fields": fields}))
