"""The WSGI side of the front: a whole request as a PEP 3333 environ, and the app's answer whole.

The app is called only once its request is complete (the body in memory), and
nothing is sent before it returns, so its answer is collected, not streamed."""

import io
import sys
from urllib.parse import unquote_to_bytes

import h11

from wsgi_service.errors import Problem
from wsgi_service.operations.front.framing import PROBLEM_HEADERS, encode_problem


def environ(request: h11.Request, body: bytearray, peer, server_address: tuple[str, str]) -> dict:
    path, _, query = request.target.partition(b"?")
    if not path.startswith(b"/"):  # absolute form (http://host/path) or "*"
        path = b"/" + path.split(b"://", 1)[-1].partition(b"/")[2] if b"://" in path else path
    host, port = server_address
    environ = {
        "REQUEST_METHOD": request.method.decode("ascii"),
        "SCRIPT_NAME": "",
        "PATH_INFO": unquote_to_bytes(path).decode("latin-1"),
        "QUERY_STRING": query.decode("latin-1"),
        "SERVER_NAME": host, "SERVER_PORT": port,
        "SERVER_PROTOCOL": f"HTTP/{request.http_version.decode('ascii')}",
        "REMOTE_ADDR": str(peer[0]) if isinstance(peer, tuple) else "",
        "REMOTE_PORT": str(peer[1]) if isinstance(peer, tuple) else "",
        "wsgi.version": (1, 0), "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(bytes(body)), "wsgi.input_terminated": True,
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": False, "wsgi.multiprocess": True, "wsgi.run_once": False,
    }
    for name, value in request.headers:
        if b"_" in name:  # X_Forwarded_For would pose as X-Forwarded-For: dropped, as gunicorn does
            continue
        key = name.decode("latin-1").upper().replace("-", "_")
        if key not in ("CONTENT_TYPE", "CONTENT_LENGTH"):
            key = "HTTP_" + key
        text = value.decode("latin-1")
        environ[key] = f"{environ[key]},{text}" if key in environ else text
    environ.setdefault("CONTENT_LENGTH", str(len(body)))  # a chunked body, now whole
    return environ


def call_app(app, environ: dict, log) -> tuple[str, list, bytes]:
    """The app's status, headers (as bytes) and body; a 500 problem where the app fails."""
    started: list = []
    chunks: list[bytes] = []

    def start_response(status, headers, exc_info=None):
        # Nothing is sent before the app returns, so a second call (with exc_info) replaces the first.
        started[:] = [status, headers]
        return chunks.append

    try:
        result = app(environ, start_response)
        try:
            chunks.extend(result)
        finally:
            if hasattr(result, "close"):
                result.close()
        status, headers = started
        return status, [(name.encode("latin-1"), value.encode("latin-1")) for name, value in headers], \
            b"".join(chunks)
    except Exception:
        log.exception("the app failed on %s %s", environ["REQUEST_METHOD"], environ["PATH_INFO"])
        problem = Problem.for_status(500, "The server failed to answer this request.")
        return "500 Internal Server Error", list(PROBLEM_HEADERS), encode_problem(problem)
