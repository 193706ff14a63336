"""An answer as HTTP/1.1 bytes: h11 frames it, the front decides the connection's fate.

The app's hop-by-hop headers are dropped (the connection is the front's), a
``Content-Length`` is added where the app gave none, and ``Connection: close``
where the connection ends after this answer."""

import functools
import json
import secrets
import time
from email.utils import formatdate

import h11

from wsgi_service.errors import Problem

_HOP_BY_HOP = frozenset((b"connection", b"keep-alive", b"transfer-encoding"))
PROBLEM_HEADERS = [(b"Content-Type", b"application/problem+json")]


def frame_answer(http: h11.Connection, status: str, headers: list, body: bytes, ending: bool) -> bytes:
    """The bytes of one answer on ``http``; raises h11.LocalProtocolError, ValueError or
    UnicodeEncodeError for a status or headers HTTP/1.1 cannot carry."""
    fields = [(name, value) for name, value in headers if name.lower() not in _HOP_BY_HOP]
    if body and not any(name.lower() == b"content-length" for name, _ in fields):
        fields.append((b"Content-Length", str(len(body)).encode()))
    fields.append((b"Date", _http_date(int(time.time()))))
    if ending:
        fields.append((b"Connection", b"close"))
    code, _, reason = status.partition(" ")
    data = http.send(h11.Response(status_code=int(code), reason=reason.encode("latin-1"), headers=fields))
    if body and http.our_state is h11.SEND_BODY:
        data += http.send(h11.Data(data=body))
    data += http.send(h11.EndOfMessage())
    return data


def problem_answer(status: int, detail: str) -> tuple[str, list, bytes]:
    """A problem+json answer of the front's own (the app never saw the request)."""
    problem = Problem.for_status(status, detail)
    return f"{status} {problem.title}", list(PROBLEM_HEADERS), encode_problem(problem)


def encode_problem(problem: Problem) -> bytes:
    return json.dumps(problem.to_dict(secrets.token_hex(16))).encode()


@functools.lru_cache(maxsize=1)
def _http_date(second: int) -> bytes:
    """The Date header, formatted once a second."""
    return formatdate(second, usegmt=True).encode("ascii")
