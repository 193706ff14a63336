"""The Open Inference Protocol (V2) in process: the same model, validation and limits as /predict.

tritonclient's own view of it is in ``tests/live/test_open_inference.py``;
the contract suite checks every V2 route against the contract.
"""

import importlib.metadata
import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from werkzeug.test import Client

from contract.generate import generate_contract
from tests.support.assembly import ready_objects
from tests.support.problems import assert_problem
from tests.support.profiles import examples
from training.train import train_forest
from contract.model_directory import REGRESSION
from wsgi_service import Settings, assemble, create_app
from wsgi_service.operations.draining import DrainState

ROWS = [[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3], [5.9, 3.0, 4.2, 1.5], [0.5, 9.5, 0.01, 9.0]]
INFER = "/v2/models/iris/infer"


def tensor(rows, datatype="FP64", name="input-0"):
    return {"name": name, "shape": [len(rows), len(rows[0])], "datatype": datatype,
            "data": [value for row in rows for value in row]}


def v2_problem(response, status: int) -> dict:
    body = assert_problem(response.status_code, response.content_type, response.get_json(), status)
    assert isinstance(body["error"], str) and body["error"].startswith(body["detail"])
    return body


def test_infer_answers_predicts_labels_and_probabilities_exactly(client):
    answer = client.post(INFER, json={"id": "a-1", "inputs": [tensor(ROWS)]}).get_json()
    rich = client.post("/predict", json={"instances": ROWS}).get_json()["predictions"]
    assert answer["model_name"] == "iris" and answer["model_version"] == "1.0.0" and answer["id"] == "a-1"
    label, probabilities = answer["outputs"]
    assert label == {"name": "label", "datatype": "INT64", "shape": [4], "data": [p["label"] for p in rich]}
    assert probabilities["shape"] == [4, 3] and probabilities["datatype"] == "FP64"
    assert probabilities["data"] == [value for p in rich for value in p["probabilities"].values()]


def test_fp32_and_the_versioned_path_answer_the_same(client):
    fp64 = client.post(INFER, json={"inputs": [tensor(ROWS)]}).get_json()
    fp32 = client.post("/v2/models/iris/versions/1.0.0/infer", json={"inputs": [tensor(ROWS, "FP32")]}).get_json()
    assert fp32 == fp64


def test_requested_outputs_only_and_parameters_accepted(client):
    body = {"inputs": [tensor(ROWS)], "parameters": {"binary_data_output": True},
            "outputs": [{"name": "probabilities", "parameters": {"binary_data": False}}]}
    answer = client.post(INFER, json=body).get_json()
    assert [output["name"] for output in answer["outputs"]] == ["probabilities"] and "id" not in answer


def test_drift_and_rows_are_counted_as_for_predict(model_dir):
    client = Client(create_app(settings=Settings(model_dir=model_dir)))
    client.post(INFER, json={"inputs": [tensor(ROWS)]})
    metrics = client.get("/metrics").get_data(as_text=True)
    assert 'forest_feature_out_of_range_total{feature="sepal_length",side="below"} 1.0' in metrics
    assert 'forest_requests_total{endpoint="v2_infer",method="POST",status="200"} 1.0' in metrics


def test_metadata_health_and_readiness(client):
    assert client.get("/v2").get_json() == {"name": "wsgi-forest-service", "extensions": [],
                                            "version": importlib.metadata.version("wsgi-forest-service")}
    assert client.get("/v2/health/live").get_json() == {"live": True}
    assert client.get("/v2/health/ready").get_json() == {"ready": True}
    assert client.get("/v2/models/iris/ready").get_json() == {"name": "iris", "ready": True}
    metadata = client.get("/v2/models/iris").get_json()
    assert metadata == client.get("/v2/models/iris/versions/1.0.0").get_json()
    assert metadata["inputs"] == [{"name": "input-0", "datatype": "FP64", "shape": [-1, 4]}]
    assert metadata["outputs"] == [{"name": "label", "datatype": "INT64", "shape": [-1]},
                                   {"name": "probabilities", "datatype": "FP64", "shape": [-1, 3]}]


def test_readiness_is_503_while_draining_and_liveness_is_not(model_dir):
    drain = DrainState()
    client = Client(assemble(*ready_objects(model_dir), drain=drain))
    drain.begin()
    v2_problem(client.get("/v2/health/ready"), 503)
    v2_problem(client.get("/v2/models/iris/ready"), 503)
    assert client.get("/v2/health/live").status_code == 200


@pytest.mark.parametrize("path", ["/v2/models/rose", "/v2/models/iris/versions/2.0.0", "/v2/models/rose/ready",
                                  "/v2/models/iris/versions/9/ready"])
def test_another_model_or_version_is_404_naming_the_one_served(client, path):
    assert "'iris' version '1.0.0'" in v2_problem(client.get(path), 404)["error"]


@pytest.mark.parametrize("body, pointer", [
    ({"inputs": [{**tensor(ROWS), "data": tensor(ROWS)["data"][:-1]}]}, "/inputs/0/data"),
    ({"inputs": [tensor(ROWS, name="predict")]}, "/inputs/0/name"),
    ({"inputs": [tensor(ROWS, datatype="INT64")]}, "/inputs/0/datatype"),
    ({"inputs": [{**tensor(ROWS), "shape": [4, 3]}]}, "/inputs/0/shape/1"),
    ({"inputs": [{**tensor(ROWS), "shape": [2.5, 4]}]}, "/inputs/0/shape/0"),
    ({"inputs": [{**tensor(ROWS), "data": [True] + tensor(ROWS)["data"][1:]}]}, "/inputs/0/data/0"),
    ({"inputs": [tensor(ROWS), tensor(ROWS)]}, "/inputs"),
    ({"inputs": [tensor(ROWS)], "outputs": [{"name": "value"}]}, "/outputs/0/name"),
    ({"instances": ROWS}, ""),
], ids=["data-short", "name", "datatype", "width", "rows-not-integer", "boolean", "two-inputs", "unknown-output",
        "predict-body"])
def test_a_body_that_breaks_the_contract_is_400_pointing_at_it(client, body, pointer):
    problem = v2_problem(client.post(INFER, json=body), 400)
    assert pointer in [error["pointer"] for error in problem["errors"]]


def test_limits_apply_as_for_predict(model_dir):
    client = Client(create_app(settings=Settings(model_dir=model_dir, max_batch_rows=3)))
    assert v2_problem(client.post(INFER, json={"inputs": [tensor(ROWS)]}), 413)["limit"] == 3
    short_shape = {**tensor(ROWS), "shape": [1, 4]}  # the data alone holds more rows than allowed
    v2_problem(client.post(INFER, json={"inputs": [short_shape]}), 413)
    long_shape = {**tensor(ROWS[:1]), "shape": [5, 4]}  # the shape alone says more rows than allowed
    v2_problem(client.post(INFER, json={"inputs": [long_shape]}), 413)


@pytest.mark.parametrize("headers, status", [
    ({"Content-Type": "text/plain"}, 415), ({"Content-Encoding": "gzip"}, 415),
    ({"Content-Type": "application/octet-stream"}, 415), ({}, 200),
], ids=["text", "gzip", "octet-stream-without-binary-data", "no-content-type"])
def test_media_types(client, headers, status):
    response = client.post(INFER, data=json.dumps({"inputs": [tensor(ROWS)]}), headers=headers)
    assert response.status_code == status
    if status != 200:
        v2_problem(response, status)


def binary(rows, datatype="FP64", size_change=0, extra=b"", values=None, json_data=None):
    """A binary tensor data request (tritonclient's default form) for ``rows``: header length and body.
    ``json_data``: the input holds these values as ``data`` too."""
    raw = np.asarray(values if values is not None else rows, dtype="<f8" if datatype == "FP64" else "<f4").tobytes()
    header = {"id": "bin", "inputs": [{"name": "input-0", "shape": [len(rows), len(rows[0])], "datatype": datatype,
                                       "parameters": {"binary_data_size": len(raw) + size_change}}],
              "parameters": {"binary_data_output": True}}
    if json_data is not None:
        header["inputs"][0]["data"] = json_data
    encoded = json.dumps(header).encode()
    return {"Inference-Header-Content-Length": str(len(encoded))}, encoded + raw + extra


@pytest.mark.parametrize("datatype, content_type", [("FP64", None), ("FP32", "application/octet-stream")])
def test_binary_tensor_data_is_answered_as_the_same_rows_in_json(client, datatype, content_type):
    rows = np.asarray(ROWS, dtype=np.float32 if datatype == "FP32" else np.float64).tolist()
    headers, body = binary(ROWS, datatype)
    if content_type:
        headers["Content-Type"] = content_type
    answer = client.post(INFER, data=body, headers=headers).get_json()
    assert answer == client.post(INFER, json={"id": "bin", "inputs": [tensor(rows, datatype)]}).get_json()


@pytest.mark.parametrize("case, status, pointer", [
    (binary(ROWS, values=[[5.1, 3.5, 1.4, 0.2], [6.7, float("nan"), 5.2, 2.3], *ROWS[2:]]), 400, "/inputs/0/data/5"),
    (binary(ROWS, values=[[float("inf")] * 4, *ROWS[1:]]), 400, "/inputs/0/data/0"),
    (binary(ROWS, size_change=-8), 400, ""),
    (binary(ROWS, size_change=3), 400, "/inputs/0/parameters/binary_data_size"),
    (binary(ROWS, datatype="FP32", size_change=2), 400, "/inputs/0/parameters/binary_data_size"),
    (binary(ROWS[:1], values=[[1e39, 1, 1, 1]]), 400, "/inputs/0/data/0"),
    (({"Inference-Header-Content-Length": "100000"}, b"{}"), 400, ""),
    (({"Inference-Header-Content-Length": "-1"}, b"{}"), 400, ""),
    (({"Inference-Header-Content-Length": "2"}, b"{}"), 400, ""),
    (binary(ROWS, json_data=tensor(ROWS)["data"]), 400, "/inputs/0/data"),
    (binary(ROWS, json_data=[0.0] * 16), 400, "/inputs/0/data"),
], ids=["nan", "infinity", "bytes-left-over", "size-not-whole-values", "fp32-size", "beyond-float32",
        "header-longer-than-body", "negative-header", "no-inputs", "data-and-size-alike", "data-and-size-differ"])
def test_binary_tensor_data_that_does_not_fit_is_400_pointing_at_it(client, case, status, pointer):
    headers, body = case
    problem = v2_problem(client.post(INFER, data=body, headers=headers), status)
    assert pointer in [error["pointer"] for error in problem["errors"]]


@settings(max_examples=examples(150))
@given(data=st.data(), body=st.binary(max_size=200), datatype=st.sampled_from(["FP64", "FP32", "INT8", None]))
def test_any_binary_tensor_body_is_answered_or_refused_never_a_5xx(client, data, body, datatype):
    headers, valid = binary(ROWS, datatype or "FP64")
    cut = data.draw(st.integers(0, len(valid)))
    header_length = data.draw(st.sampled_from([headers["Inference-Header-Content-Length"], str(cut), "x", "-5"]))
    sent = data.draw(st.sampled_from([valid, valid[:cut] + body, body]))
    if datatype is not None and datatype != "FP64":
        sent = sent.replace(b'"FP64"', json.dumps(datatype).encode(), 1)
    response = client.post(INFER, data=sent, headers={"Inference-Header-Content-Length": header_length})
    assert response.status_code in (200, 400, 413)
    if response.status_code != 200:
        v2_problem(response, response.status_code)


@settings(max_examples=examples(150))
@given(body=st.recursive(st.none() | st.booleans() | st.floats(allow_nan=False) | st.integers() | st.text(max_size=5),
                         lambda children: st.lists(children, max_size=5) | st.dictionaries(
                             st.sampled_from(["inputs", "outputs", "name", "shape", "datatype", "data", "id",
                                              "parameters"]), children, max_size=5), max_leaves=20))
def test_any_json_body_is_answered_or_refused_with_the_protocols_error_never_a_5xx(client, body):
    response = client.post(INFER, data=json.dumps(body), content_type="application/json")
    assert response.status_code in (200, 400, 413)
    if response.status_code != 200:
        v2_problem(response, response.status_code)


def test_a_regressor_answers_values_and_words_have_no_v2(tmp_path):
    rng = np.random.default_rng(0)
    features = rng.normal(size=(200, 3))
    train_forest(tmp_path, ["a", "b", "c"], features, features @ [1.0, 2.0, 3.0], task=REGRESSION,
                 target_name="score", dataset="test", name="scores", n_estimators=5, progress=lambda line: None)
    client = Client(create_app(settings=Settings(model_dir=tmp_path)))
    rows = features[:3].tolist()
    answer = client.post("/v2/models/scores/infer", json={"inputs": [tensor(rows)]}).get_json()
    assert answer["outputs"] == [{"name": "value", "datatype": "FP64", "shape": [3],
                                  "data": client.post("/predict", json=rows).get_json()}]
    manifest = {"name": "lots", "version": "1.0.0", "sha256": "0" * 64, "target": {"name": "grade"},
                "features": [{"name": "origin", "categories": ["Huila", "Kona"]}, {"name": "acidity"}],
                "classes": [{"label": "a", "name": "a"}, {"label": "b", "name": "b"}]}
    document = generate_contract(manifest, [["Kona", 7.0]], [[0.8, 0.2]])
    assert not any(path.startswith("/v2") for path in document["paths"])
    assert "V2ModelMetadata" not in document["components"]["schemas"]
