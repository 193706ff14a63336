"""The WSGI application: routing, HTTP edges, and nothing else.

``Service`` is a plain PEP 3333 callable. Its routes come from the contract's
paths (one ``on_<operationId>`` per operation), so a route cannot exist
without being documented. Everything a response needs that does not depend on
the request is encoded once, here, at start.
"""

import json
import logging
import re
import uuid
from collections.abc import Callable, Iterable
from pathlib import Path

from werkzeug.exceptions import HTTPException
from werkzeug.exceptions import MethodNotAllowed as WerkzeugMethodNotAllowed
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from contract import operations
from wsgi_service.agreement import check_contract_fits_model
from wsgi_service.decoding import decode_json
from wsgi_service.model import LoadedModel, load_model
from wsgi_service.prediction import Predictor
from wsgi_service.problems import (
    ContentTooLarge,
    InternalError,
    MethodNotAllowed,
    NotFound,
    Problem,
    UnsupportedMediaType,
    problem_response,
)
from wsgi_service.settings import Settings
from wsgi_service.validation import RequestValidator

log = logging.getLogger("wsgi_service")

JSON_MEDIA_TYPE = "application/json"
REQUEST_ID_HEADER = "X-Request-ID"


def _encode(document: object) -> bytes:
    return json.dumps(document, separators=(",", ":"), allow_nan=False).encode()


class Service:
    """A PEP 3333 application serving one verified model under one contract."""

    def __init__(self, model: LoadedModel, contract: dict, contract_bytes: bytes, settings: Settings):
        check_contract_fits_model(contract, model)
        self.settings = settings
        self.predictor = Predictor(model, RequestValidator(contract), settings.max_batch_rows)
        # No slash fixing: a redirect answering a POST would only confuse clients.
        self.url_map = Map(_rules_from(contract), merge_slashes=False, strict_slashes=False)
        missing = [rule.endpoint for rule in self.url_map.iter_rules()
                   if not hasattr(self, f"on_{rule.endpoint}")]
        if missing:
            raise TypeError(f"the contract names operations with no handler: {missing}")
        self._request_id_pattern = re.compile(contract["components"]["schemas"]["RequestId"]["pattern"])
        self._contract_bytes = contract_bytes
        self._manifest_bytes = _encode(model.manifest)
        self._health_bytes = _encode({"status": "ok", "model": model.identity})
        self._index_bytes = _encode({
            "name": contract["info"]["title"],
            "contract": "/openapi.json",
            "endpoints": [{"method": method.upper(), "path": path, "summary": operation.get("summary", "")}
                          for path, method, operation in operations(contract)],
        })

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        return self.wsgi_app(environ, start_response)

    def wsgi_app(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        request = Request(environ)
        # One byte over the limit: a streamed (chunked) body is cut there
        # without an error, and that extra byte is how we tell "over" from "at".
        request.max_content_length = self.settings.max_body_bytes + 1
        request_id = self._request_id(request)
        try:
            endpoint, values = self.url_map.bind_to_environ(environ).match()
            response = getattr(self, f"on_{endpoint}")(request, **values)
        except Problem as problem:
            response = problem_response(problem, request_id)
        except HTTPException as error:
            response = problem_response(self._problem_from_werkzeug(error), request_id)
        except Exception:
            log.exception("unhandled error [request_id=%s] %s %s",
                          request_id, request.method, request.path)
            response = problem_response(InternalError("The server failed to answer this request; "
                                                      "it is logged under the request id."), request_id)
        response.headers[REQUEST_ID_HEADER] = request_id
        response.headers["X-Content-Type-Options"] = "nosniff"
        return response(environ, start_response)

    def _request_id(self, request: Request) -> str:
        sent = request.headers.get(REQUEST_ID_HEADER, "")
        return sent if self._request_id_pattern.fullmatch(sent) else uuid.uuid4().hex

    def _problem_from_werkzeug(self, error: HTTPException) -> Problem:
        if isinstance(error, WerkzeugMethodNotAllowed):
            allowed = ", ".join(error.valid_methods or ())
            return MethodNotAllowed(f"This path allows {allowed}.", headers={"Allow": allowed})
        if error.code == 413:
            return self._body_too_large()
        if error.code == 404:
            return NotFound("No such path; GET / lists the endpoints.")
        return Problem.for_status(error.code or 500, error.description or "")

    def _body_too_large(self) -> ContentTooLarge:
        return ContentTooLarge(f"The body exceeds {self.settings.max_body_bytes} bytes.",
                               limit=self.settings.max_body_bytes)

    # --- endpoints: one per operationId in the contract ---

    def on_index(self, request: Request) -> Response:
        return Response(self._index_bytes, content_type=JSON_MEDIA_TYPE)

    def on_health(self, request: Request) -> Response:
        return Response(self._health_bytes, content_type=JSON_MEDIA_TYPE)

    def on_model(self, request: Request) -> Response:
        return Response(self._manifest_bytes, content_type=JSON_MEDIA_TYPE)

    def on_contract(self, request: Request) -> Response:
        return Response(self._contract_bytes, content_type=JSON_MEDIA_TYPE)

    def on_predict(self, request: Request) -> Response:
        charset = request.mimetype_params.get("charset", "utf-8").lower()
        if request.mimetype != JSON_MEDIA_TYPE or charset not in ("utf-8", "utf8"):
            raise UnsupportedMediaType(f"Send the body as {JSON_MEDIA_TYPE} (UTF-8); got "
                                       f"{request.content_type[:80] or 'no Content-Type'!r}.")
        data = request.get_data(cache=False)
        if len(data) > self.settings.max_body_bytes:
            raise self._body_too_large()
        body = decode_json(data)
        return Response(_encode(self.predictor.answer(body)), content_type=JSON_MEDIA_TYPE)


def _rules_from(contract: dict) -> list[Rule]:
    """One werkzeug rule per contract operation; GET rules answer HEAD too."""
    return [Rule(path, endpoint=operation["operationId"], methods=[method.upper()])
            for path, method, operation in operations(contract)]


def create_app(settings: Settings | None = None) -> Service:
    """Load and verify the model and the contract named by ``settings``; return the WSGI app.

    Fails with ``StartupError`` (one line) when anything is missing, tampered
    with, or inconsistent: never later, during a request.
    """
    settings = settings or Settings()
    model = load_model(settings.model_dir,
                       allow_sklearn_version_mismatch=settings.allow_sklearn_version_mismatch,
                       compile_estimator=settings.compile_forest)
    contract_bytes = Path(settings.contract_path).read_bytes()
    return Service(model, json.loads(contract_bytes), contract_bytes, settings)


def create_app_from_env() -> Service:
    """What servers point at: ``create_app`` configured from the environment, read once."""
    return create_app(Settings.from_env())
