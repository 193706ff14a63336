"""Reading a live server's output: the app's JSON lines among gunicorn's text ones."""

import json

from wsgi_service.operations.logs import ACCESS_LOGGER

# gunicorn's own lines: "[2025-01-01 12:00:00 +0000] [123] [INFO] Booting worker with pid: 124".
GUNICORN_LINE_START = "["


def json_lines(output: str) -> list[dict]:
    """Every line the app wrote (each must parse as one JSON object); gunicorn's own lines are skipped."""
    return [json.loads(line) for line in output.splitlines()
            if line.strip() and not line.startswith(GUNICORN_LINE_START)]


def access_lines(output: str) -> list[dict]:
    return [line for line in json_lines(output) if line["logger"] == ACCESS_LOGGER]
