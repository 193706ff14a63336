"""The HTTP ceiling: the least a JSON endpoint can do under our gunicorn settings.

It reads the whole body and parses it with ``json.loads``, as any JSON API
must, then answers a constant. Served by the same gunicorn config module,
worker count and class as the service, its throughput is what the forest
service could reach if validation and prediction cost nothing: the
benchmark's targets are ratios to it, measured in the same run.
"""

import json

_ANSWER = b"[0]"
_HEADERS = [("Content-Type", "application/json"), ("Content-Length", str(len(_ANSWER)))]


def application(environ, start_response):
    length = int(environ.get("CONTENT_LENGTH") or 0)
    body = environ["wsgi.input"].read(length) if length else b""
    if body:  # GET /health, the readiness poll, has none
        json.loads(body)
    start_response("200 OK", _HEADERS)
    return [_ANSWER]
