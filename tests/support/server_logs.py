"""Reading a live server's output: every line it writes, gunicorn's own included, is one JSON object."""

import json

from wsgi_service.operations.logs import ACCESS_LOGGER

# The keys of every line, whoever logged it; the app adds fields after them.
LINE_KEYS = {"time", "level", "logger", "pid", "message"}


def json_lines(output: str) -> list[dict]:
    """Every non-empty line, parsed: raises on one that is not JSON."""
    return [json.loads(line) for line in output.splitlines() if line.strip()]


def access_lines(output: str) -> list[dict]:
    return [line for line in json_lines(output) if line["logger"] == ACCESS_LOGGER]
