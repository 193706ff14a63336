"""The Open Inference Protocol as its own client sees it: tritonclient against a real gunicorn.

tritonclient (NVIDIA's client for Triton, the protocol's most used client)
checks readiness, reads the metadata and infers a batch, its tensors sent as
it sends them by default (binary tensor data) and as JSON; its outputs must
equal /predict's answers bit for bit. It sends no Content-Type and asks for
binary outputs unless told otherwise: the server answers JSON, which the
client reads as well.
"""

import numpy as np
import pytest
import requests
import tritonclient.http as triton
from sklearn.datasets import load_iris
from tritonclient.utils import InferenceServerException

ROWS = np.resize(load_iris().data, (257, 4))


@pytest.fixture(scope="module")
def server(live_server):
    client = triton.InferenceServerClient(url=live_server.removeprefix("http://"), connection_timeout=10,
                                          network_timeout=30)
    yield client, live_server
    client.close()


def _input(rows: np.ndarray, datatype: str = "FP64", binary: bool = True) -> triton.InferInput:
    tensor = triton.InferInput("input-0", list(rows.shape), datatype)
    tensor.set_data_from_numpy(rows.astype(np.float32 if datatype == "FP32" else np.float64), binary_data=binary)
    return tensor


def test_server_and_model_ready_and_described(server):
    client, _ = server
    assert client.is_server_live() and client.is_server_ready()
    assert client.is_model_ready("iris") and client.is_model_ready("iris", "1.0.0")
    assert not client.is_model_ready("rose")
    assert client.get_server_metadata()["extensions"] == []
    metadata = client.get_model_metadata("iris", "1.0.0")
    assert metadata["inputs"] == [{"name": "input-0", "datatype": "FP64", "shape": [-1, 4]}]
    assert [(output["name"], output["shape"]) for output in metadata["outputs"]] == [
        ("label", [-1]), ("probabilities", [-1, 3])]


@pytest.mark.parametrize("datatype", ["FP64", "FP32"])
@pytest.mark.parametrize("binary", [True, False], ids=["binary", "json"])
def test_a_batch_inferred_equals_predict_bit_for_bit(server, datatype, binary):
    client, base_url = server
    rows = ROWS.astype(np.float32).astype(np.float64) if datatype == "FP32" else ROWS
    result = client.infer("iris", [_input(rows, datatype, binary)], request_id="batch-1")
    rich = requests.post(f"{base_url}/predict", json={"instances": rows.tolist()}, timeout=30).json()["predictions"]
    assert result.get_response()["id"] == "batch-1"
    np.testing.assert_array_equal(result.as_numpy("label"), [p["label"] for p in rich])
    expected = np.array([list(p["probabilities"].values()) for p in rich])
    assert result.as_numpy("probabilities").tobytes() == expected.tobytes()


def test_requested_output_and_versioned_path(server):
    client, _ = server
    wanted = [triton.InferRequestedOutput("label", binary_data=False)]
    result = client.infer("iris", [_input(ROWS[:5], binary=False)], outputs=wanted, model_version="1.0.0")
    assert [output["name"] for output in result.get_response()["outputs"]] == ["label"]
    assert result.as_numpy("probabilities") is None


@pytest.mark.parametrize("call, status, words", [
    (lambda client: client.infer("rose", [_input(ROWS[:2])]), 404, "serves 'iris' version '1.0.0'"),
    (lambda client: client.infer("iris", [_input(np.full((2, 4), np.nan))]), 400, "/inputs/0/data/0"),
    (lambda client: client.infer("iris", [_input(ROWS[:, :3])]), 400, "/inputs/0/shape/1"),
], ids=["another-model", "nan-in-binary-data", "three-features"])
def test_refusals_reach_the_client_as_its_exception(server, call, status, words):
    client, _ = server
    with pytest.raises(InferenceServerException) as refused:
        call(client)
    assert refused.value.status() == str(status) and words in refused.value.message()
