"""Deliberately broken deployments, to prove that the contract suite can fail.

``make_app()`` serves the real application under ``/intact`` and, under
``/<fault>``, the same application with that one fault injected. One server
thus hosts every broken deployment, and each is reached through a base URL with
a path prefix, as behind a proxy. Each fault names the check that must catch it.

    MODEL_DIR=... python -m gunicorn 'tests.support.broken_apps:make_app()'
"""

import json
import uuid
from collections.abc import Callable, Iterable
from typing import NamedTuple
from wsgiref.util import shift_path_info

from werkzeug.wrappers import Response

from contract import load_contract
from contract.limits import limits_of, with_limits
from wsgi_service import Settings, create_app_from_env

WsgiApp = Callable[[dict, Callable], Iterable[bytes]]


def _answer(app: WsgiApp, environ: dict) -> Response:
    return Response.from_app(app, environ, buffered=True)


def _json(response: Response) -> object:
    return json.loads(response.get_data()) if response.is_json else None


def _set_json(response: Response, body: object) -> Response:
    response.set_data(json.dumps(body))
    return response


def wrong_status(app: WsgiApp, environ: dict) -> Response:
    """Malformed JSON is answered 422 instead of 400."""
    response = _answer(app, environ)
    if response.status_code == 400:
        response.status_code = 422
    return response


def wrong_body_shape(app: WsgiApp, environ: dict) -> Response:
    """The seed form is answered with an object instead of a bare array of labels."""
    response = _answer(app, environ)
    body = _json(response)
    return _set_json(response, {"labels": body}) if isinstance(body, list) else response


def server_error_on_bad_input(app: WsgiApp, environ: dict) -> Response:
    """A contract violation is answered with a plain-text 500."""
    response = _answer(app, environ)
    if response.status_code == 422:
        response.status_code, response.content_type = 500, "text/plain"
        response.set_data(b"Internal Server Error")
    return response


def stale_contract(app: WsgiApp, environ: dict) -> Response:
    """``/openapi.json`` serves an older version of the contract."""
    response = _answer(app, environ)
    body = _json(response)
    if isinstance(body, dict) and "openapi" in body:
        body["info"]["version"] = "0.9.0"
        return _set_json(response, body)
    return response


def overstated_batch_limit(app: WsgiApp, environ: dict) -> Response:
    """The served contract states twice the batch limit the server enforces (its file, so derived)."""
    response = _answer(app, environ)
    body = _json(response)
    limits = limits_of(body) if isinstance(body, dict) and "openapi" in body else None
    if limits is not None:
        overstated = limits._replace(max_batch_rows=2 * limits.max_batch_rows)
        return _set_json(response, with_limits(load_contract(Settings.from_env().contract_file), overstated))
    return response


def request_id_not_echoed(app: WsgiApp, environ: dict) -> Response:
    """Every response gets a fresh X-Request-ID, whatever the client sent."""
    response = _answer(app, environ)
    response.headers["X-Request-ID"] = uuid.uuid4().hex
    return response


def probabilities_off(app: WsgiApp, environ: dict) -> Response:
    """Rich answers' probabilities sum to 0.9."""
    response = _answer(app, environ)
    body = _json(response)
    if not isinstance(body, dict) or "predictions" not in body:
        return response
    for prediction in body["predictions"]:
        prediction["probabilities"] = {name: p * 0.9 for name, p in prediction["probabilities"].items()}
    return _set_json(response, body)


def batch_reversed(app: WsgiApp, environ: dict) -> Response:
    """A rich batch is answered in reverse order."""
    response = _answer(app, environ)
    body = _json(response)
    if isinstance(body, dict) and "predictions" in body:
        body["predictions"].reverse()
        return _set_json(response, body)
    return response


def stale_health(app: WsgiApp, environ: dict) -> Response:
    """``/health`` names another version of the model than ``/model`` describes."""
    response = _answer(app, environ)
    body = _json(response)
    if isinstance(body, dict) and body.get("status") == "ok":
        body["model"]["version"] += "-stale"
        return _set_json(response, body)
    return response


def no_allow_header(app: WsgiApp, environ: dict) -> Response:
    """405 answers without the Allow header."""
    response = _answer(app, environ)
    response.headers.pop("Allow", None)
    return response


def html_not_found(app: WsgiApp, environ: dict) -> Response:
    """An unknown path is answered with an HTML page instead of a problem."""
    response = _answer(app, environ)
    if response.status_code == 404:
        response.content_type = "text/html"
        response.set_data(b"<h1>Not Found</h1>")
    return response


def any_media_type_accepted(app: WsgiApp, environ: dict) -> Response:
    """A body sent as text/plain is read as JSON instead of being refused with 415."""
    if environ.get("CONTENT_TYPE", "").startswith("text/plain"):
        environ = {**environ, "CONTENT_TYPE": "application/json"}
    return _answer(app, environ)


def docs_from_a_cdn(app: WsgiApp, environ: dict) -> Response:
    """The docs page loads a script from a CDN, as Swagger UI's own examples do."""
    response = _answer(app, environ)
    if response.mimetype == "text/html":
        cdn_script = b'<script src="https://cdn.jsdelivr.net/npm/swagger-ui-dist@5/swagger-ui-bundle.js"></script>'
        response.set_data(response.get_data().replace(b"</head>", cdn_script + b"\n</head>"))
    return response


class Fault(NamedTuple):
    inject: Callable[[WsgiApp, dict], Response]
    caught_by: str  # the contract suite's check that must fail


FAULTS = {fault.inject.__name__: fault for fault in (
    Fault(wrong_status, "test_malformed_json"),
    Fault(wrong_body_shape, "test_documented_exchange[POST /predict seed]"),
    Fault(server_error_on_bad_input, "test_contract_violation[row one item short]"),
    Fault(stale_contract, "test_served_contract_equals_local"),
    Fault(overstated_batch_limit, "test_the_stated_batch_limit"),
    Fault(request_id_not_echoed, "test_request_id_echoed[GET /health]"),
    Fault(probabilities_off, "test_probabilities_sum_to_one"),
    Fault(batch_reversed, "test_batch_equals_rows_one_at_a_time"),
    Fault(stale_health, "test_health_names_served_model"),
    Fault(no_allow_header, "test_wrong_method[/predict]"),
    Fault(html_not_found, "test_unknown_path"),
    Fault(any_media_type_accepted, "test_unsupported_media_type"),
    Fault(docs_from_a_cdn, "test_docs_page_loads_only_what_the_deployment_serves"),
)}
INTACT = "intact"


def make_app() -> WsgiApp:
    """The real app under ``/intact``, and each fault of ``FAULTS`` under ``/<its name>``."""
    app = create_app_from_env()

    def dispatch(environ: dict, start_response: Callable) -> Iterable[bytes]:
        prefix = shift_path_info(environ)
        if prefix == INTACT:
            return app(environ, start_response)
        if prefix in FAULTS:
            return FAULTS[prefix].inject(app, environ)(environ, start_response)
        start_response("404 Not Found", [("Content-Type", "text/plain")])
        return [b"no such deployment"]
    return dispatch
