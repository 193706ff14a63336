"""The Open Inference Protocol (V2) routes answer what /predict answers, and refuse in the protocol's way.

Every V2 operation is already called with its documented example and checked
against its documented response (``test_documented``). Here: the same rows
sent to V2 and to /predict get the same labels, probabilities or values; the
same rows sent as binary tensor data (tritonclient's default) get the same
answer as in JSON; the versioned paths answer as the plain ones; a requested output comes alone and
the request's id comes back; and the refusals (another model, data that does
not fill the shape, a tensor of another name, broken JSON) carry the
protocol's ``error`` member beside the problem's pointers. Skipped when the
contract has no V2 part (a model whose features include words).
"""

import copy
import json
import struct

import pytest

from contract.suite.derived import encode
from contract.suite.documented import V2_INFER, V2_VERSION_INFER, expect_answer
from contract.suite.exchanges import expect


@pytest.fixture(scope="module")
def v2_infer(contract):
    if not any(op.spec.get("operationId") == V2_INFER for op in contract.operations):
        pytest.skip("the contract has no Open Inference Protocol part (a model whose features include words)")
    return contract.operation(V2_INFER)


@pytest.fixture(scope="module")
def v2_request(contract, v2_infer, rows):
    """The documented example request, carrying ``rows`` (in feature order, flattened row-major)."""
    body = copy.deepcopy(next(iter(contract.request_examples(v2_infer).values())))
    body["inputs"][0]["shape"] = [len(rows), len(rows[0])]
    body["inputs"][0]["data"] = [value for row in rows for value in row]
    return body


def _infer(client, contract, operation, body, status=200, target=None):
    exchange = client.send(operation.method, target or contract.concrete_paths(operation)[0], data=encode(body))
    return expect_answer(contract, operation, exchange, status), exchange


def _outputs(answer: dict) -> dict:
    return {tensor["name"]: tensor for tensor in answer["outputs"]}


def test_v2_answers_what_predict_answers(client, contract, v2_infer, v2_request, predict, rows):
    answer, exchange = _infer(client, contract, v2_infer, v2_request)
    rich, predict_exchange = predict(encode({"instances": rows}))
    outputs = _outputs(answer)
    predictions = rich["predictions"]
    if "value" in outputs:
        expected = {"value": [prediction["value"] for prediction in predictions]}
    else:
        expected = {"label": [prediction["label"] for prediction in predictions],
                    "probabilities": [p for prediction in predictions for p in prediction["probabilities"].values()]}
    for name, data in expected.items():
        expect(name in outputs and outputs[name]["data"] == data,
               f"V2's {name} is {outputs.get(name, {}).get('data')}, /predict answers {data}",
               exchange, predict_exchange)
        expect(outputs[name]["shape"][0] == len(rows), f"V2's {name} has shape {outputs[name]['shape']} "
               f"for {len(rows)} rows", exchange)


def test_v2_binary_tensor_data_answers_as_json(client, contract, v2_infer, v2_request):
    """A JSON header of Inference-Header-Content-Length bytes, then the rows' bytes, little-endian."""
    as_json, json_exchange = _infer(client, contract, v2_infer, v2_request)
    header = copy.deepcopy(v2_request)
    tensor = header["inputs"][0]
    values = tensor.pop("data")
    raw = struct.pack(f"<{len(values)}{'f' if tensor['datatype'] == 'FP32' else 'd'}", *values)
    tensor["parameters"] = {**tensor.get("parameters", {}), "binary_data_size": len(raw)}
    encoded = json.dumps(header).encode()
    exchange = client.send(v2_infer.method, contract.concrete_paths(v2_infer)[0], data=encoded + raw,
                           content_type="application/octet-stream",
                           headers={"Inference-Header-Content-Length": str(len(encoded))})
    answer = expect_answer(contract, v2_infer, exchange, 200)
    expect(answer == as_json, "the same rows are answered differently as binary tensor data than as JSON",
           json_exchange, exchange)


def test_v2_versioned_infer_answers_as_the_plain_one(client, contract, v2_infer, v2_request):
    plain, plain_exchange = _infer(client, contract, v2_infer, v2_request)
    versioned, exchange = _infer(client, contract, contract.operation(V2_VERSION_INFER), v2_request)
    expect(plain == versioned, "the versioned path answers differently from the plain one", plain_exchange, exchange)


def test_v2_requested_output_alone_and_id_echoed(client, contract, v2_infer, v2_request):
    wanted = contract.schema("V2RequestedOutput")["properties"]["name"]["enum"][-1]
    body = {**v2_request, "id": "contract-suite", "outputs": [{"name": wanted}]}
    answer, exchange = _infer(client, contract, v2_infer, body)
    expect([tensor["name"] for tensor in answer["outputs"]] == [wanted] and answer.get("id") == "contract-suite",
           f"asked for {wanted!r} with id 'contract-suite'; answered {[t['name'] for t in answer['outputs']]} "
           f"with id {answer.get('id')!r}", exchange)


@pytest.mark.parametrize("mistake", ["another model", "data one value short", "another tensor name",
                                     "broken JSON"])
def test_v2_refusals_carry_the_protocols_error(client, contract, v2_infer, v2_request, mistake):
    body, target, status, pointer = copy.deepcopy(v2_request), None, 400, None
    if mistake == "another model":
        target, status = v2_infer.path.replace("{model_name}", "no-such-model-here"), 404
    elif mistake == "data one value short":
        body["inputs"][0]["data"].pop()
        pointer = "/inputs/0/data"
    elif mistake == "another tensor name":
        body["inputs"][0]["name"] += "-other"
        pointer = "/inputs/0/name"
    if mistake == "broken JSON":
        exchange = client.send(v2_infer.method, contract.concrete_paths(v2_infer)[0], data=encode(body)[:-1])
        problem = expect_answer(contract, v2_infer, exchange, status)
    else:
        problem, exchange = _infer(client, contract, v2_infer, body, status, target)
    expect(isinstance(problem.get("error"), str) and problem["error"],
           "a V2 refusal must carry the protocol's error member", exchange)
    if pointer:
        pointers = [error["pointer"] for error in problem.get("errors", [])]
        expect(pointer in pointers, f"the problem should point at {pointer}; it points at {pointers}", exchange)
