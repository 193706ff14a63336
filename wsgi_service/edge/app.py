"""The WSGI application: routing, HTTP edges, and nothing else.

``Service`` is a plain PEP 3333 callable. Its routes are the contract's
operations, each answered by the handler the table names for its
operationId (``endpoints``); a contract operation without a handler, or a
handler without an operation, stops the start. A path parameter
(``/docs/{asset}``) reaches its handler as a keyword argument. Each answered
request is counted (``metrics``) and logged as one JSON line (``logs``).
"""

import logging
import re
import secrets
from collections.abc import Callable, Iterable
from time import perf_counter

from werkzeug.exceptions import HTTPException
from werkzeug.exceptions import MethodNotAllowed as WerkzeugMethodNotAllowed
from werkzeug.routing import Map, Rule

from contract import PATH_PARAMETER, operations
from contract.api_keys import needs_key
from contract.open_inference import PREFIX as OPEN_INFERENCE_PREFIX
from wsgi_service.edge.bodies import BodyReader
from wsgi_service.edge.endpoints import NO_SUCH_PATH, Handler
from wsgi_service.edge.replies import STATUS_LINES, Reply, problem_reply
from wsgi_service.errors import (InternalError, MethodNotAllowed, MissingApiKey, NotFound, Problem, StartupError,
                                 WrongApiKey)
from wsgi_service.operations.api_keys import ApiKeys
from wsgi_service.operations.draining import DrainState
from wsgi_service.operations.logs import API_KEY_ENVIRON, log_request
from wsgi_service.operations.metrics import UNMATCHED, ServiceMetrics

log = logging.getLogger("wsgi_service")

REQUEST_ID_HEADER = "X-Request-ID"


class Service:
    """A PEP 3333 application answering the operations of ``contract`` (the contract as served)
    with ``handlers`` (operationId to handler)."""

    def __init__(self, contract: dict, handlers: dict[str, Handler], *, bodies: BodyReader,
                 metrics: ServiceMetrics, drain: DrainState, keys: ApiKeys | None = None):
        documented = [operation["operationId"] for _, _, operation in operations(contract)]
        unhandled, undocumented = sorted(set(documented) - handlers.keys()), sorted(handlers.keys() - set(documented))
        if unhandled or undocumented:
            raise StartupError(f"the contract's operations and this service's handlers differ: no handler for "
                               f"{unhandled or 'none'}, no operation for {undocumented or 'none'}; serve the "
                               f"contract training wrote with this version of the service")
        self.contract, self.handlers = contract, handlers
        self.bodies, self.metrics, self.drain, self.keys = bodies, metrics, drain, keys
        # With keys, only the operations the contract waives them for (the health checks) are open.
        self._open_paths = frozenset(path for path, _, operation in operations(contract)
                                     if not needs_key(contract, operation))
        # No slash fixing: a redirect answering a POST would only confuse clients. Bound once:
        # matching needs only the path and the method (no host rules, no redirects).
        self.url_map = Map(_rules_from(contract), merge_slashes=False, strict_slashes=False)
        self._routes = self.url_map.bind("service")
        self._request_id_pattern = re.compile(contract["components"]["schemas"]["RequestId"]["pattern"])

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        return self.wsgi_app(environ, start_response)

    def wsgi_app(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        """Route, answer, and write the status and headers by hand.

        werkzeug routes; the request and response wrappers are not used on
        this path: building them cost more than half of a single-row request.
        """
        started = perf_counter()
        self.drain.request_started()
        request_id = self._request_id(environ.get("HTTP_X_REQUEST_ID", ""))
        method = environ.get("REQUEST_METHOD", "GET")
        path = _path_info(environ)
        endpoint = UNMATCHED
        try:
            if self.keys is not None and path not in self._open_paths:
                environ[API_KEY_ENVIRON] = self._key_fingerprint(environ)
            endpoint, values = self._routes.match(path, method)
            reply = self.handlers[endpoint](environ, **values)
        except Problem as problem:
            reply = self._refuse(problem, request_id, path)
        except HTTPException as error:
            reply = self._refuse(self._problem_from_werkzeug(error), request_id, path)
        except Exception:
            # The traceback goes to the log only: the client gets the request id to quote.
            log.exception("unhandled error [request_id=%s] %s %s", request_id, method, path,
                          extra={"fields": {"request_id": request_id, "method": method, "path": path}})
            reply = problem_reply(InternalError("The server failed to answer this request; "
                                                "it is logged under the request id."), request_id,
                                  _speaks_open_inference(path))
        start_response(STATUS_LINES[reply.status], [
            ("Content-Type", reply.content_type), ("Content-Length", str(len(reply.body))),
            (REQUEST_ID_HEADER, request_id), ("X-Content-Type-Options", "nosniff"), *reply.headers])
        seconds = perf_counter() - started
        self.metrics.answered(endpoint, method, reply.status, seconds)
        log_request(environ, request_id, method, path, reply.status, seconds, reply.rows)
        return [] if method == "HEAD" else [reply.body]

    def _refuse(self, problem: Problem, request_id: str, path: str) -> Reply:
        self.metrics.refused(problem.reason)
        return problem_reply(problem, request_id, _speaks_open_inference(path))

    def _request_id(self, sent: str) -> str:
        return sent if self._request_id_pattern.fullmatch(sent) else secrets.token_hex(16)

    def _key_fingerprint(self, environ: dict) -> str:
        """The fingerprint of the request's API key; ``Unauthorized`` when it has none this server knows."""
        authorization = environ.get("HTTP_AUTHORIZATION")
        found = self.keys.fingerprint_of(authorization)
        if found is None:
            raise MissingApiKey() if authorization is None else WrongApiKey()
        return found

    def _problem_from_werkzeug(self, error: HTTPException) -> Problem:
        if isinstance(error, WerkzeugMethodNotAllowed):
            allowed = ", ".join(error.valid_methods or ())
            return MethodNotAllowed(f"This path allows {allowed}.", headers={"Allow": allowed})
        if error.code == 413:
            return self.bodies.too_large()
        if error.code == 404:
            return NotFound(NO_SUCH_PATH)
        return Problem.for_status(error.code or 500, error.description or "")


def _speaks_open_inference(path: str) -> bool:
    """Whether ``path`` is under the Open Inference Protocol's prefix, whose errors carry ``error``."""
    return path == OPEN_INFERENCE_PREFIX or path.startswith(OPEN_INFERENCE_PREFIX + "/")


def _path_info(environ: dict) -> str:
    """PATH_INFO as text: PEP 3333 hands it over as latin-1 decoded bytes."""
    return environ.get("PATH_INFO", "").encode("latin-1").decode("utf-8", "replace")


def _rules_from(contract: dict) -> list[Rule]:
    """One werkzeug rule per contract operation; GET rules answer HEAD too. A path
    parameter ``{name}`` is one path segment, werkzeug's ``<name>``."""
    return [Rule(PATH_PARAMETER.sub(r"<\1>", path), endpoint=operation["operationId"], methods=[method.upper()])
            for path, method, operation in operations(contract)]
