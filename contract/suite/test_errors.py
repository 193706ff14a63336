"""Every error the contract documents is answered with its status and a problem document.

The bodies that provoke them are derived from the contract (see ``derived``);
what each answer must look like is read from the response object documenting
its status, so Content-Type, schema and headers are checked as for success.
"""

import pytest

from contract import pointer_to
from contract.limits import limits_of
from contract.suite import DEFAULT_TOO_LARGE_BYTES
from contract.suite.derived import encode, malformed, rows_body, seed_rows, too_large
from contract.suite.documented import PREDICT, expect_answer, expect_documented
from contract.suite.exchanges import JSON_MEDIA_TYPE, expect

UNKNOWN_PATH = "/no-such-path-in-the-contract"
# Tried in turn on each path; the first one the path does not document must be refused.
UNDOCUMENTED_METHOD_CANDIDATES = ("delete", "put", "patch", "post", "get")


def _expect_problem_status(body: dict, exchange) -> None:
    expect(body["status"] == exchange.status,
           f"the problem's status member is {body['status']}, the response's status {exchange.status}", exchange)


def _predict_problem(client, contract, status, data, content_type=JSON_MEDIA_TYPE) -> dict:
    operation = contract.operation(PREDICT)
    exchange = client.send(operation.method, operation.path, data=data, content_type=content_type)
    body = expect_answer(contract, operation, exchange, status)
    _expect_problem_status(body, exchange)
    return body


def test_malformed_json(client, contract):
    _predict_problem(client, contract, 400, malformed(contract))


def test_contract_violation(client, contract, violation):
    body = _predict_problem(client, contract, 422, encode(violation.body))
    pointers = [error["pointer"] for error in body.get("errors", [])]
    expect(violation.pointer in pointers,
           f"the problem's errors should point at {violation.pointer!r}; they point at {pointers}")


def test_too_large_body(client, contract, pytestconfig):
    limits = limits_of(contract.document)
    size = pytestconfig.getoption("too_large_bytes") or (
        limits.max_body_bytes + 1 if limits else DEFAULT_TOO_LARGE_BYTES)
    _predict_problem(client, contract, 413, too_large(contract, size))


def test_the_stated_batch_limit(client, contract, predict):
    """The most rows the served contract allows (its maxItems) are answered, one more is 413."""
    limits = limits_of(contract.document)
    if limits is None:
        pytest.skip("the deployment's contract states no batch limit")
    at_limit = rows_body(contract, limits.max_batch_rows)
    over = rows_body(contract, limits.max_batch_rows + 1)
    if len(over) > limits.max_body_bytes:
        pytest.skip(f"{limits.max_batch_rows + 1} rows exceed the body limit, {limits.max_body_bytes} bytes")
    predict(at_limit)
    _predict_problem(client, contract, 413, over)


def test_unsupported_media_type(client, contract):
    _predict_problem(client, contract, 415, encode(seed_rows(contract)), content_type="text/plain")


def test_wrong_method(client, contract, path):
    documented = [op for op in contract.operations if op.path == path]
    documented_methods = {op.method.upper() for op in documented}
    method = next(m for m in UNDOCUMENTED_METHOD_CANDIDATES if m.upper() not in documented_methods)
    exchange = client.send(method, contract.concrete_paths(documented[0])[0])
    body = expect_answer(contract, documented[0], exchange, 405)
    _expect_problem_status(body, exchange)
    allowed = {token.strip().upper() for token in exchange.headers.get("Allow", "").split(",") if token.strip()}
    # HEAD comes with GET in HTTP; OPTIONS may be allowed anywhere.
    implied = {"OPTIONS"} | ({"HEAD"} if "GET" in documented_methods else set())
    expect(documented_methods <= allowed <= documented_methods | implied,
           f"Allow should list the documented methods {sorted(documented_methods)}; it lists {sorted(allowed)}",
           exchange)


def test_unknown_path(client, contract):
    exchange = client.send("get", UNKNOWN_PATH)
    expect(exchange.status == 404, f"expected status 404, got {exchange.status}", exchange)
    # No operation documents an unknown path: the contract's general problem response does.
    body = expect_documented(contract, contract.resolved(pointer_to("components", "responses", "Problem")), exchange)
    _expect_problem_status(body, exchange)
