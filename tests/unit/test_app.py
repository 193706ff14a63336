"""The WSGI app in process: endpoints, edges of HTTP, and every kind of problem."""

import io
import json

import pytest
from werkzeug.middleware.dispatcher import DispatcherMiddleware
from werkzeug.test import Client

from contract import load_contract, operations
from contract.generate import contract_bytes
from contract.limits import Limits, limits_of, with_limits
from tests.support.assembly import ready_objects
from tests.support.problems import assert_problem
from wsgi_service import Service, Settings, assemble, create_app, load_model
from wsgi_service.edge.prepared import model_header_value
from wsgi_service.errors import MAX_REPORTED_ERRORS
from wsgi_service.operations.draining import DrainState
from wsgi_service.operations.settings import DEFAULT_MAX_BATCH_ROWS, DEFAULT_MAX_BODY_BYTES

SEED = [[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]]
FEATURES = ["sepal_length", "sepal_width", "petal_length", "petal_width"]


def post(client, data, content_type="application/json", **kwargs):
    if not isinstance(data, bytes):
        data = json.dumps(data)
    return client.post("/predict", data=data, content_type=content_type, **kwargs)


def problem(response, status):
    return assert_problem(response.status_code, response.mimetype, response.get_json(force=True), status)


def test_app_is_a_plain_wsgi_callable(app):
    assert isinstance(app, Service) and callable(app)


def test_seed_form_answers_bare_labels(client):
    response = post(client, SEED)
    assert response.status_code == 200 and response.mimetype == "application/json"
    assert response.get_json() == [0, 2]


def test_rich_form_answers_labels_names_probabilities_and_identity(client, app):
    named = [dict(zip(FEATURES, row)) for row in SEED]
    body = post(client, {"instances": [SEED[0], named[1]]}).get_json()
    assert [p["label"] for p in body["predictions"]] == [0, 2]
    assert [p["class_name"] for p in body["predictions"]] == ["setosa", "virginica"]
    for prediction in body["predictions"]:
        assert set(prediction["probabilities"]) == {"setosa", "versicolor", "virginica"}
        assert sum(prediction["probabilities"].values()) == pytest.approx(1)
    assert body["model"] == client.get("/health").get_json()["model"]


def test_every_prediction_names_the_answering_model_in_a_header(client, model_dir):
    identity = load_model(model_dir).identity
    for body in ([[5.1, 3.5, 1.4, 0.2]], {"instances": [[5.1, 3.5, 1.4, 0.2]]}):
        response = client.post("/predict", json=body)
        assert response.headers["X-Model"] == f"iris/{identity['version']}/{identity['sha256'][:12]}"


def test_the_model_header_survives_any_name():
    value = model_header_value({"name": "coffee/grades v2 é", "version": "2.0/beta", "sha256": "ab" * 32})
    assert value == "coffee%2Fgrades%20v2%20%C3%A9/2.0%2Fbeta/abababababab" and value.isascii()


def test_the_rich_form_names_the_features_outside_their_training_range(client, model_dir):
    features = json.loads((model_dir / "manifest.json").read_text())["features"]
    inside = [(feature["min"] + feature["max"]) / 2 for feature in features]
    low_sepal = [features[0]["min"] - 1, *inside[1:]]
    high_petals = [*inside[:2], features[2]["max"] + 1, features[3]["max"] + 1]
    predictions = client.post("/predict", json={"instances": [inside, low_sepal, high_petals]}).get_json()["predictions"]
    assert "out_of_range" not in predictions[0]
    assert predictions[1]["out_of_range"] == {"sepal_length": "below"}
    assert predictions[2]["out_of_range"] == {"petal_length": "above", "petal_width": "above"}
    metrics = client.get("/metrics").get_data(as_text=True)
    assert 'forest_feature_out_of_range_total{feature="petal_width",side="above"}' in metrics
    assert client.post("/predict", json=[low_sepal]).get_json() in ([0], [1], [2])  # the seed form stays bare


def test_health_model_index_and_contract(client, model_dir):
    assert client.get("/health").get_json()["status"] == "ok"
    manifest = client.get("/model").get_json()
    serving = manifest.pop("serving")
    assert manifest == json.loads((model_dir / "manifest.json").read_text())
    assert serving["path"] == "compiled forest" and "equal to scikit-learn" in serving["detail"]
    assert client.get("/openapi.json").data == contract_bytes(
        with_limits(load_contract(), Limits(DEFAULT_MAX_BATCH_ROWS, DEFAULT_MAX_BODY_BYTES)))
    index = client.get("/").get_json()
    # Every operation of the contract, in its order, and nothing else.
    assert [(e["method"], e["path"], e["summary"]) for e in index["endpoints"]] == [
        (method.upper(), path, operation["summary"]) for path, method, operation in operations(load_contract())]
    assert ("POST", "/v2/models/{model_name}/infer") in {(e["method"], e["path"]) for e in index["endpoints"]}


def test_draining_health_is_503_while_everything_else_is_answered(model_dir):
    """Once the master begins the drain (SIGTERM), /health says so and predictions go on."""
    drain = DrainState()
    client = Client(assemble(*ready_objects(model_dir), drain=drain))
    drain.begin()
    health = problem(client.get("/health"), 503)
    assert "stopping" in health["detail"]
    assert client.post("/predict", json=[[5.1, 3.5, 1.4, 0.2]]).get_json() == [0]
    assert 'forest_requests_total{endpoint="health",method="GET",status="503"} 1.0' in \
        client.get("/metrics").get_data(as_text=True)


def test_head_answers_headers_without_body(client):
    response = client.head("/health")
    assert response.status_code == 200 and response.data == b""


def test_unknown_path_is_404_problem(client):
    problem(client.get("/nope"), 404)
    problem(client.get("/predict/more"), 404)


def test_wrong_method_is_405_with_allow(client):
    response = client.get("/predict")
    problem(response, 405)
    assert response.headers["Allow"] == "POST"
    assert set(client.delete("/health").headers["Allow"].split(", ")) == {"GET", "HEAD"}


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded",
                                          "application/json; charset=latin-1", ""])
def test_other_media_types_are_415(client, content_type):
    problem(post(client, SEED, content_type=content_type), 415)


def test_charset_utf8_is_accepted(client):
    assert post(client, SEED, content_type="application/json; charset=UTF-8").status_code == 200


@pytest.mark.parametrize("raw, message", [
    (b"", "Expecting value"),
    (b"[[5.1, 3.5, 1.4, 0.2]", "Expecting ',' delimiter"),
    (b"[[NaN, 3.5, 1.4, 0.2]]", "NaN is not a JSON number"),
    (b"[[Infinity, 3.5, 1.4, 0.2]]", "Infinity is not a JSON number"),
    (b"[[-Infinity, 3.5, 1.4, 0.2]]", "-Infinity is not a JSON number"),
    (b'{"instances": [], "instances": [[1, 2, 3, 4]]}', "duplicate object key 'instances'"),
    (b"\xff\xfe[]", "not UTF-8"),
    (b"[" * 100_000 + b"]" * 100_000, "nesting too deep"),
])
def test_malformed_json_is_400_saying_why(client, raw, message):
    body = problem(post(client, raw), 400)
    assert message in body["detail"]


@pytest.mark.parametrize("body, pointer, message", [
    ([[5.1, 3.5, 1.4]], "/0", "has 3 items, needs at least 4"),
    ([[5.1, 3.5, 1.4, 0.2, 9.9]], "/0", "has 5 items, allows at most 4"),
    ([[5.1, True, 1.4, 0.2]], "/0/1", "expected number, got boolean"),
    ([[5.1, "3.5", 1.4, 0.2]], "/0/1", "expected number, got string"),
    ([[5.1, None, 1.4, 0.2]], "/0/1", "expected number, got null"),
    ([], "", "has 0 items, needs at least 1"),
    ({"instances": []}, "/instances", "has 0 items, needs at least 1"),
    ({"rows": SEED}, "", "missing required 'instances'"),
    ({"instances": SEED, "extra": 1}, "", "unexpected 'extra'"),
    ({"instances": [{"sepal_length": 5.1}]}, "/instances/0", "missing required 'sepal_width'"),
    ({"instances": [{**dict(zip(FEATURES, SEED[0])), "colour": 1}]}, "/instances/0", "unexpected 'colour'"),
    ({"instances": ["5.1"]}, "/instances/0", "expected array or object, got string"),
    ("predict this", "", "expected array or object, got string"),
    ([[3.5e38, 3.5, 1.4, 0.2]], "/0/0", "above the maximum"),
    ([[-3.5e38, 3.5, 1.4, 0.2]], "/0/0", "below the minimum"),
])
def test_contract_violations_are_422_with_pointers(client, body, pointer, message):
    errors = problem(post(client, body), 422)["errors"]
    assert any(e["pointer"] == pointer and message in e["message"] for e in errors), errors


@pytest.mark.parametrize("raw", [b"[[1e400, 3.5, 1.4, 0.2]]", b"[[" + b"9" * 5000 + b", 3.5, 1.4, 0.2]]",
                                 b"[[-1e400, 3.5, 1.4, 0.2]]"])
def test_numbers_json_allows_but_floats_cannot_hold_are_422(client, raw):
    errors = problem(post(client, raw), 422)["errors"]
    assert errors[0]["pointer"] == "/0/0" and "beyond the range of a 64-bit float" in errors[0]["message"]


def test_float32_extremes_and_tiny_numbers_are_served(client):
    edge = [[3.4028234663852886e38, -3.4028234663852886e38, 5e-324, -0.0]]
    assert post(client, edge).status_code == 200
    # Sums to inf - inf inside scikit-learn's own finiteness check: still served.
    assert post(client, [[3e38, 3e38, 0, 0], [-3e38, -3e38, 0, 0]]).status_code == 200


def test_integers_are_numbers(client):
    assert post(client, [[5, 3, 1, 0]]).get_json() == [0]


def test_every_violation_is_reported_up_to_a_bound(client):
    body = problem(post(client, [[1, 2, 3]] * 50), 422)
    assert len(body["errors"]) == MAX_REPORTED_ERRORS and body["error_count"] == 50
    assert [e["pointer"] for e in body["errors"][:3]] == ["/0", "/1", "/2"]


def test_error_messages_echo_only_a_bounded_excerpt(client):
    huge_key = "k" * 100_000
    body = problem(post(client, {"instances": [{huge_key: 1}]}), 422)
    assert len(json.dumps(body)) < 2_000


def test_batch_over_the_limit_is_413_with_the_limit(model_dir):
    small = Client(create_app(settings=Settings(model_dir=model_dir, max_batch_rows=3)))
    assert post(small, SEED * 1 + [SEED[0]]).status_code == 200
    body = problem(post(small, {"instances": SEED * 2}), 413)
    assert body["limit"] == 3 and "4 rows" in body["detail"]


def test_the_served_contract_states_the_limits_the_server_enforces(model_dir):
    small = Client(create_app(settings=Settings(model_dir=model_dir, max_batch_rows=50, max_body_bytes=5_000)))
    served = small.get("/openapi.json").get_json()
    assert limits_of(served) == Limits(50, 5_000) and limits_of(load_contract()) is None
    assert served == with_limits(load_contract(), Limits(50, 5_000))
    schemas = served["components"]["schemas"]
    assert schemas["SeedRequest"]["maxItems"] == schemas["RichRequest"]["properties"]["instances"]["maxItems"] == 50
    tensor = schemas["V2InputTensor"]["properties"]
    assert tensor["shape"]["prefixItems"][0]["maximum"] == 50 and tensor["data"]["maxItems"] == 200
    for path in ("/predict", "/v2/models/{model_name}/infer"):
        operation = served["paths"][path]["post"]
        assert operation["requestBody"]["x-max-body-bytes"] == 5_000
        assert "MAX_BATCH_ROWS is 50" in operation["description"] and "MAX_BODY_BYTES is 5000" in operation["description"]
    assert problem(post(small, SEED * 25 + SEED[:1]), 413)["limit"] == 50
    assert post(small, SEED * 25).status_code == 200


def test_body_over_the_limit_is_413_before_reading_it(model_dir):
    small = Client(create_app(settings=Settings(model_dir=model_dir, max_body_bytes=100)))
    body = problem(post(small, SEED * 10), 413)
    assert body["limit"] == 100


@pytest.mark.parametrize("streamed", [False, True], ids=["content-length", "chunked"])
def test_body_limit_is_exact(model_dir, streamed):
    limit = 40
    small = Client(create_app(settings=Settings(model_dir=model_dir, max_body_bytes=limit)))
    at_limit = json.dumps(SEED[:1]).encode().ljust(limit)
    for data, status in ((at_limit, 200), (at_limit + b" ", 413)):
        if streamed:  # as a WSGI server hands over a chunked body: no length, input terminated
            response = small.post("/predict", input_stream=io.BytesIO(data), content_type="application/json",
                                  environ_overrides={"wsgi.input_terminated": True,
                                                     "HTTP_TRANSFER_ENCODING": "chunked"})
        else:
            response = post(small, data)
        assert response.status_code == status


def test_request_id_is_echoed_or_assigned(client):
    assert post(client, SEED, headers={"X-Request-ID": "abc-123"}).headers["X-Request-ID"] == "abc-123"
    assigned = client.get("/nope", headers={"X-Request-ID": "bad id\twith spaces"}).headers["X-Request-ID"]
    assert len(assigned) == 32 and " " not in assigned
    body = problem(post(client, b"{", headers={"X-Request-ID": "r-1"}), 400)
    assert body["request_id"] == "r-1"


def test_every_response_is_nosniff(client):
    for response in (client.get("/"), client.get("/nope"), post(client, SEED), post(client, b"x")):
        assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_unexpected_failure_is_500_problem_logged_with_request_id(model_dir, caplog):
    """A forest whose trees were lost fails inside scikit-learn: the client sees a problem, not a traceback."""
    model, contract, settings = ready_objects(model_dir, compile_forest=False)
    broken = assemble(model, contract, settings)
    model.estimator.estimators_ = []
    response = post(Client(broken), SEED, headers={"X-Request-ID": "boom-1"})
    body = problem(response, 500)
    assert body["request_id"] == "boom-1"
    assert "boom-1" in caplog.text and "Traceback" in caplog.text
    assert post(Client(broken), b"[[1]]").status_code == 422  # still answering


def test_embedding_under_a_prefix_with_dispatcher_middleware(app):
    def host(environ, start_response):
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"host app"]

    composed = Client(DispatcherMiddleware(host, {"/ml": app}))
    assert composed.get("/").data == b"host app"
    assert post(composed, SEED).data == b"host app"  # outside the prefix, the host answers
    assert composed.post("/ml/predict", json=SEED).get_json() == [0, 2]
    assert composed.get("/ml/health").status_code == 200
    problem(composed.get("/ml/nope"), 404)
