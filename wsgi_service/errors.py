"""Every error the service raises on purpose: ``StartupError`` at start, a ``Problem`` per request.

``StartupError`` is what any layer raises for what it finds wrong at start (a
setting, the model file, the contract), with one line that says what to do.
gunicorn prints a ``RuntimeError`` raised while loading the app as one line
and exits 1; ``python -m wsgi_service`` does the same for the settings it
checks before gunicorn starts.

``Problem`` is the family of errors answered to a client, each subclass with
its status and title: raising one anywhere is how code says "answer the
client with this", and only the HTTP edge renders them (RFC 9457, in
``wsgi_service.edge.replies``). A refusal of what the client sent also names
its ``reason``, the label the metrics count it under.
"""

from collections.abc import Iterable
from http import HTTPStatus


class StartupError(RuntimeError):
    """Why the service cannot start, in one line."""


# A bad 10,000-row batch can break the contract 40,000 times; list enough to act on.
MAX_REPORTED_ERRORS = 20


class Problem(Exception):
    """An error answered to the client. ``errors`` holds ``(pointer, message)`` pairs."""

    status = 500
    title = "Internal Server Error"
    # Why the request's content was refused (a metrics label); None for every other problem.
    reason: str | None = None

    def __init__(self, detail: str, *, errors: Iterable[tuple[str, str]] = (),
                 headers: dict[str, str] | None = None, **extensions):
        super().__init__(detail)
        self.detail = detail
        self.errors = list(errors)
        self.headers = headers or {}
        self.extensions = extensions

    @classmethod
    def for_status(cls, status: int, detail: str) -> "Problem":
        """A problem for a status no subclass names (a server's own 4xx, say)."""
        problem = cls(detail)
        problem.status, problem.title = status, HTTPStatus(status).phrase
        return problem

    def to_dict(self, request_id: str) -> dict:
        body = {"type": "about:blank", "title": self.title, "status": self.status,
                "detail": self.detail, "request_id": request_id, **self.extensions}
        if self.errors:
            body["errors"] = [{"pointer": pointer, "message": message}
                              for pointer, message in self.errors[:MAX_REPORTED_ERRORS]]
            if len(self.errors) > MAX_REPORTED_ERRORS:
                body["error_count"] = len(self.errors)
        return body


class MalformedJson(Problem):
    status, title, reason = 400, "Bad Request", "malformed_json"


class NotFound(Problem):
    status, title = 404, "Not Found"


class MethodNotAllowed(Problem):
    status, title = 405, "Method Not Allowed"


class ContentTooLarge(Problem):
    """Too many rows in the batch (prediction.py raises it as is), or, as ``BodyTooLarge``, too many bytes."""

    status, title, reason = 413, "Content Too Large", "batch_too_large"


class BodyTooLarge(ContentTooLarge):
    reason = "body_too_large"


class UnsupportedMediaType(Problem):
    status, title, reason = 415, "Unsupported Media Type", "unsupported_media_type"


class ContractViolation(Problem):
    status, title, reason = 422, "Unprocessable Content", "contract_violation"


class InvalidInferenceRequest(ContractViolation):
    """A contract violation on the Open Inference Protocol's routes: the protocol answers 400."""
    status, title = 400, "Bad Request"


class Unauthorized(Problem):
    """No key this server knows: one answer whatever was wrong (none sent, another scheme, an
    unknown key), so a caller learns nothing; the metrics tell the two reasons apart."""
    status, title = 401, "Unauthorized"
    DETAIL = "This operation needs an API key, sent as Authorization: Bearer <key>."

    def __init__(self):
        super().__init__(self.DETAIL, headers={"WWW-Authenticate": 'Bearer realm="forest"'})


class MissingApiKey(Unauthorized):
    reason = "missing_api_key"


class WrongApiKey(Unauthorized):
    reason = "wrong_api_key"


class Draining(Problem):
    """/health while the instance stops: not the client's fault, so no refusal reason
    (``forest_requests_total`` counts the 503s)."""
    status, title = 503, "Service Unavailable"


class InternalError(Problem):
    status, title = 500, "Internal Server Error"


def refusal_reasons() -> list[str]:
    """Every ``reason`` a problem class names, so the metrics can count each from zero."""
    found, classes = [], [Problem]
    while classes:
        cls = classes.pop(0)
        if cls.reason is not None and cls.reason not in found:
            found.append(cls.reason)
        classes.extend(cls.__subclasses__())
    return found
