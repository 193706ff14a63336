"""What an endpoint answers (``Reply``), a ``Problem`` rendered as one, and the status lines."""

import json
from http import HTTPStatus
from typing import NamedTuple

from wsgi_service.errors import Problem

JSON_MEDIA_TYPE = "application/json"
PROBLEM_MEDIA_TYPE = "application/problem+json"
STATUS_LINES = {status.value: f"{status.value} {status.phrase}" for status in HTTPStatus}


class Reply(NamedTuple):
    """What an endpoint answers: the WSGI layer adds the common headers."""

    status: int
    body: bytes
    content_type: str = JSON_MEDIA_TYPE
    headers: tuple[tuple[str, str], ...] = ()
    # Rows predicted, for the access log; None when the endpoint predicts nothing.
    rows: int | None = None


def encode_json(document: object) -> bytes:
    """Compact JSON as UTF-8; NaN or infinity in ``document`` is a bug, so it raises."""
    return json.dumps(document, separators=(",", ":"), allow_nan=False).encode()


def problem_reply(problem: Problem, request_id: str, error_member: bool = False) -> Reply:
    """The RFC 9457 answer to ``problem``: problem+json, its status, its headers.

    ``error_member`` adds the Open Inference Protocol's ``error``: the detail
    and the first pointers in one line, where a V2 client reads its message.
    """
    document = problem.to_dict(request_id)
    if error_member:
        document["error"] = " ".join([problem.detail, "; ".join(f"{pointer or '/'}: {message}"
                                                                 for pointer, message in problem.errors[:3])]).strip()
    body = json.dumps(document, separators=(",", ":")).encode()
    return Reply(problem.status, body, PROBLEM_MEDIA_TYPE, tuple(problem.headers.items()))
