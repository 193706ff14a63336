"""The WSGI application: routing, HTTP edges, and nothing else.

``Service`` is a plain PEP 3333 callable. Its routes come from the contract's
paths (one ``on_<operationId>`` per operation), so a route cannot exist
without being documented; a path parameter (``/docs/{asset}``) reaches its
handler as a keyword argument. Everything a response needs that does not
depend on the request is encoded once, here, at start. Each answered request
is counted (``metrics``) and logged as one JSON line (``logs``).
"""

import logging
import re
import secrets
from collections.abc import Callable, Iterable
from importlib import metadata
from time import perf_counter
from urllib.parse import quote

from werkzeug.exceptions import HTTPException
from werkzeug.exceptions import MethodNotAllowed as WerkzeugMethodNotAllowed
from werkzeug.http import parse_options_header
from werkzeug.routing import Map, Rule
from werkzeug.wsgi import get_input_stream

from contract import PATH_PARAMETER, operations
from contract.api_keys import locked, needs_key
from contract.generate import contract_bytes as encoded_contract
from contract.limits import Limits, with_limits
from contract.open_inference import PREFIX as OPEN_INFERENCE_PREFIX
from wsgi_service.edge.binary_tensors import with_binary_data_inlined
from wsgi_service.edge.decoding import decode_json
from wsgi_service.edge.docs import DocsPage
from wsgi_service.edge.open_inference import OpenInference
from wsgi_service.edge.prediction import Answer, Predictor
from wsgi_service.errors import (
    BodyTooLarge,
    Draining,
    InternalError,
    MalformedJson,
    MethodNotAllowed,
    MissingApiKey,
    NotFound,
    Problem,
    UnsupportedMediaType,
    WrongApiKey,
    refusal_reasons,
)
from wsgi_service.edge.replies import JSON_MEDIA_TYPE, STATUS_LINES, Reply, encode_json, problem_reply
from wsgi_service.enforcement.agreement import check_contract_fits_model
from wsgi_service.enforcement.validation import RequestValidator
from wsgi_service.model.loading import LoadedModel
from wsgi_service.operations.draining import STATE, DrainState
from wsgi_service.operations.logs import API_KEY_ENVIRON, log_request
from wsgi_service.operations.metrics import METRICS_MEDIA_TYPE, UNMATCHED, ServiceMetrics
from wsgi_service.operations.settings import Settings

log = logging.getLogger("wsgi_service")

REQUEST_ID_HEADER = "X-Request-ID"
MODEL_HEADER = "X-Model"
NO_SUCH_PATH = "No such path; GET / lists the endpoints."
# The operations of the interactive page, and its file operation's path parameter.
DOCS, DOCS_ASSET, DOCS_ASSET_PARAMETER = "docs", "docs_asset", "asset"
# What a body of binary tensor data (the Open Inference Protocol's extension) may be labelled, beside JSON.
BINARY_MEDIA_TYPE = "application/octet-stream"
# The distribution whose name and version the Open Inference Protocol's server metadata gives.
DISTRIBUTION = "wsgi-forest-service"


class Service:
    """A PEP 3333 application serving one verified model under one contract."""

    def __init__(self, model: LoadedModel, contract: dict, settings: Settings, drain: DrainState = STATE):
        check_contract_fits_model(contract, model)
        self.settings = settings
        # The contract served, and validated against, states this server's limits.
        contract = with_limits(contract, Limits(settings.max_batch_rows, settings.max_body_bytes))
        # With keys, the contract served says they are required, and only the operations it
        # waives them for (the health checks: paths without parameters) are open.
        self._keys = settings.api_keys
        if self._keys is not None:
            contract = locked(contract)
            log.info("API keys on: every operation but the health checks needs one of %d key(s) (fingerprints %s)",
                     len(self._keys), ", ".join(self._keys.fingerprints))
        self._open_paths = frozenset(path for path, _, operation in operations(contract)
                                     if not needs_key(contract, operation))
        # Set by gunicorn's master on SIGTERM (operations.draining): /health then answers 503.
        self.drain = drain
        self.predictor = Predictor(model, RequestValidator(contract), settings.max_batch_rows)
        # The Open Inference Protocol (V2), when the contract has it (a model over numbers only).
        schemas = contract["components"]["schemas"]
        self.open_inference = OpenInference(self.predictor, contract) if "V2ModelMetadata" in schemas else None
        self.metrics = ServiceMetrics(contract, model.identity, model.class_names, refusal_reasons(),
                                      model.feature_names, model.ranged_features)
        # No slash fixing: a redirect answering a POST would only confuse clients.
        self.url_map = Map(_rules_from(contract), merge_slashes=False, strict_slashes=False)
        # Bound once: matching needs only the path and the method (no host
        # rules, no redirects), so there is no per-request adapter to build.
        self._routes = self.url_map.bind("service")
        missing = [rule.endpoint for rule in self.url_map.iter_rules()
                   if not hasattr(self, f"on_{rule.endpoint}")]
        if missing:
            raise TypeError(f"the contract names operations with no handler: {missing}")
        self._request_id_pattern = re.compile(contract["components"]["schemas"]["RequestId"]["pattern"])
        self._contract_reply = Reply(200, encoded_contract(contract))
        self._manifest_reply = Reply(200, encode_json({**model.manifest, "serving": model.serving}))
        self._identity = model.identity  # a property that builds the dict anew: once here
        self._health_reply = Reply(200, encode_json({"status": "ok", "model": self._identity}))
        self._model_header = ((MODEL_HEADER, model_header_value(model.identity)),)
        self._v2_server_reply = Reply(200, encode_json({"name": DISTRIBUTION, "version": _distribution_version(),
                                                        "extensions": []}))
        self._v2_live_reply = Reply(200, encode_json({"live": True}))
        self._v2_ready_reply = Reply(200, encode_json({"ready": True}))
        self._v2_model_ready_reply = Reply(200, encode_json({"name": model.identity["name"], "ready": True}))
        if self.open_inference is not None:
            self._v2_metadata_reply = Reply(200, encode_json(self.open_inference.metadata))
        self._index_reply = Reply(200, encode_json({
            "name": contract["info"]["title"],
            "contract": "/openapi.json",
            "endpoints": [{"method": method.upper(), "path": path, "summary": operation.get("summary", "")}
                          for path, method, operation in operations(contract)],
        }))
        # A contract written before the page existed documents neither operation: no page then.
        self._docs = (DocsPage(contract["info"]["title"], _documented_assets(contract))
                      if {DOCS, DOCS_ASSET} & {rule.endpoint for rule in self.url_map.iter_rules()} else None)

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
            if self._keys is not None and path not in self._open_paths:
                environ[API_KEY_ENVIRON] = self._key_fingerprint(environ)
            endpoint, values = self._routes.match(path, method)
            reply = getattr(self, f"on_{endpoint}")(environ, **values)
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

    def _problem_from_werkzeug(self, error: HTTPException) -> Problem:
        if isinstance(error, WerkzeugMethodNotAllowed):
            allowed = ", ".join(error.valid_methods or ())
            return MethodNotAllowed(f"This path allows {allowed}.", headers={"Allow": allowed})
        if error.code == 413:
            return self._body_too_large()
        if error.code == 404:
            return NotFound(NO_SUCH_PATH)
        return Problem.for_status(error.code or 500, error.description or "")

    def _body_too_large(self) -> BodyTooLarge:
        return BodyTooLarge(f"The body exceeds {self.settings.max_body_bytes} bytes.",
                            limit=self.settings.max_body_bytes)

    # --- endpoints: one per operationId in the contract ---

    def on_index(self, environ: dict) -> Reply:
        return self._index_reply

    def on_health(self, environ: dict) -> Reply:
        self._refuse_while_draining()
        return self._health_reply

    def on_model(self, environ: dict) -> Reply:
        return self._manifest_reply

    def on_contract(self, environ: dict) -> Reply:
        return self._contract_reply

    def on_metrics(self, environ: dict) -> Reply:
        return Reply(200, self.metrics.exposition(), METRICS_MEDIA_TYPE)

    def on_docs(self, environ: dict) -> Reply:
        # werkzeug also matches /docs/ here (/docs has a subpath), where the page's
        # relative URLs would point one level too deep: 404, as for /health/.
        if _path_info(environ).endswith("/"):
            raise NotFound(NO_SUCH_PATH)
        return self._docs.page

    def on_docs_asset(self, environ: dict, asset: str) -> Reply:
        reply = None if _path_info(environ).endswith("/") else self._docs.asset(asset)
        if reply is None:
            raise NotFound("No such file of the docs page; the contract lists them under /docs/{asset}.")
        return reply

    def on_predict(self, environ: dict) -> Reply:
        return self._predicted(self.predictor.answer(decode_json(self._json_body(environ))))

    # --- the Open Inference Protocol (V2): routed only when the contract has its paths ---

    def on_v2_server_metadata(self, environ: dict) -> Reply:
        return self._v2_server_reply

    def on_v2_server_live(self, environ: dict) -> Reply:
        return self._v2_live_reply

    def on_v2_server_ready(self, environ: dict) -> Reply:
        self._refuse_while_draining()
        return self._v2_ready_reply

    def on_v2_model_metadata(self, environ: dict, model_name: str, model_version: str | None = None) -> Reply:
        self._check_model_named(model_name, model_version)
        return self._v2_metadata_reply

    def on_v2_model_ready(self, environ: dict, model_name: str, model_version: str | None = None) -> Reply:
        self._check_model_named(model_name, model_version)
        self._refuse_while_draining()
        return self._v2_model_ready_reply

    def on_v2_infer(self, environ: dict, model_name: str, model_version: str | None = None) -> Reply:
        self._check_model_named(model_name, model_version)
        header_length = environ.get("HTTP_INFERENCE_HEADER_CONTENT_LENGTH")
        if header_length is None:
            document = decode_json(self._json_body(environ, untyped_is_json=True))
        else:  # the binary tensor data extension: a JSON header, then the tensors' bytes
            body = self._json_body(environ, untyped_is_json=True, media_types=(JSON_MEDIA_TYPE, BINARY_MEDIA_TYPE))
            document = with_binary_data_inlined(body, header_length, self.open_inference.with_integers)
        return self._predicted(self.open_inference.infer(document))

    on_v2_model_version_metadata = on_v2_model_metadata
    on_v2_model_version_ready = on_v2_model_ready
    on_v2_version_infer = on_v2_infer

    # --- what several endpoints share ---

    def _key_fingerprint(self, environ: dict) -> str:
        """The fingerprint of the request's API key; ``Unauthorized`` when it has none this server knows."""
        authorization = environ.get("HTTP_AUTHORIZATION")
        found = self._keys.fingerprint_of(authorization)
        if found is None:
            raise MissingApiKey() if authorization is None else WrongApiKey()
        return found

    def _refuse_while_draining(self) -> None:
        if self.drain.draining:
            raise Draining("This instance is stopping: it answers what it has accepted; send new requests "
                           "elsewhere.")

    def _check_model_named(self, name: str, version: str | None) -> None:
        identity = self._identity
        if name != identity["name"] or version not in (None, identity["version"]):
            asked = repr(name) if version is None else f"{name!r} version {version!r}"
            raise NotFound(f"No model {asked[:200]}: this server serves {identity['name']!r} version "
                           f"{identity['version']!r}.")

    def _predicted(self, answer: Answer) -> Reply:
        self.metrics.predicted(answer.rows, answer.winners)
        if answer.out_of_range is not None:
            self.metrics.out_of_range(*answer.out_of_range)
        return Reply(200, encode_json(answer.document), headers=self._model_header, rows=answer.rows)

    def _json_body(self, environ: dict, untyped_is_json: bool = False,
                   media_types: tuple[str, ...] = (JSON_MEDIA_TYPE,)) -> bytes:
        """The request's body, once its Content-Type is one of ``media_types`` (JSON in UTF-8), or
        with ``untyped_is_json`` none at all, it is not compressed, and it fits MAX_BODY_BYTES."""
        content_type = environ.get("CONTENT_TYPE", "")
        mimetype, params = parse_options_header(content_type)
        if (content_type or not untyped_is_json) and (
                mimetype.lower() not in media_types or params.get("charset", "utf-8").lower() not in ("utf-8", "utf8")):
            raise UnsupportedMediaType(f"Send the body as {' or '.join(media_types)} (UTF-8); got "
                                       f"{content_type[:80] or 'no Content-Type'!r}.")
        encoding = environ.get("HTTP_CONTENT_ENCODING", "")
        if encoding.strip().lower() not in ("", "identity"):
            raise UnsupportedMediaType(f"Send the body uncompressed; got Content-Encoding {encoding[:40]!r}.")
        # One byte over the limit: werkzeug cuts a streamed (chunked) body there
        # without an error, and that extra byte is how we tell "over" from "at".
        try:
            data = get_input_stream(environ, max_content_length=self.settings.max_body_bytes + 1).read()
        except HTTPException:
            raise
        except Exception as error:
            # The server's reader refused the body's framing (gunicorn raises
            # InvalidChunkSize, ChunkMissingTerminator, ... from wsgi.input.read()):
            # PEP 3333 names no exception for it, and the fault is the client's.
            raise MalformedJson(f"The body could not be read: {type(error).__name__}.",
                                errors=[("", "unreadable body")]) from None
        if len(data) > self.settings.max_body_bytes:
            raise self._body_too_large()
        return data


def model_header_value(identity: dict) -> str:
    """``name/version/sha256-prefix``, the contract's Model header: the name and version
    percent-encoded (a slash, a space or a non-ASCII letter cannot break it)."""
    return "/".join((quote(identity["name"], safe=""), quote(identity["version"], safe=""), identity["sha256"][:12]))


def _speaks_open_inference(path: str) -> bool:
    """Whether ``path`` is under the Open Inference Protocol's prefix, whose errors carry ``error``."""
    return path == OPEN_INFERENCE_PREFIX or path.startswith(OPEN_INFERENCE_PREFIX + "/")


def _distribution_version() -> str:
    try:
        return metadata.version(DISTRIBUTION)
    except metadata.PackageNotFoundError:  # imported from a checkout that was never installed
        return "unknown"


def _path_info(environ: dict) -> str:
    """PATH_INFO as text: PEP 3333 hands it over as latin-1 decoded bytes."""
    return environ.get("PATH_INFO", "").encode("latin-1").decode("utf-8", "replace")


def _rules_from(contract: dict) -> list[Rule]:
    """One werkzeug rule per contract operation; GET rules answer HEAD too. A path
    parameter ``{name}`` is one path segment, werkzeug's ``<name>``."""
    return [Rule(PATH_PARAMETER.sub(r"<\1>", path), endpoint=operation["operationId"], methods=[method.upper()])
            for path, method, operation in operations(contract)]


def _documented_assets(contract: dict) -> list[str]:
    """The file names the contract lists for the docs page (its path parameter's enum); none if it lists none."""
    for _, _, operation in operations(contract):
        if operation["operationId"] == DOCS_ASSET:
            for parameter in operation.get("parameters", []):
                if parameter.get("in") == "path" and parameter.get("name") == DOCS_ASSET_PARAMETER:
                    return list(parameter["schema"].get("enum", []))
    return []
