"""Every documented operation, called the way the contract's own examples call it (on every
path its path parameters enumerate), answers as documented."""

import uuid

from contract.suite.derived import encode
from contract.suite.documented import expect_answer, schema_errors
from contract.suite.exchanges import expect

REQUEST_ID = "X-Request-ID"


def _send(client, operation, path, body, headers=None):
    data = None if body is None else encode(body)
    return client.send(operation.method, path, data=data, headers=headers)


def test_documented_exchange(client, contract, documented_request):
    """An example request (the bare call, for an operation without a body) gets the documented success."""
    operation, path, body = documented_request
    expect_answer(contract, operation, _send(client, operation, path, body), contract.success_status(operation))


def test_request_id_echoed(client, contract, operation):
    schema = contract.request_header(operation, REQUEST_ID)
    expect(schema is not None, f"{operation.name} documents no {REQUEST_ID} parameter")
    sent = f"contract-suite-{uuid.uuid4().hex}"
    errors = schema_errors(contract, schema, sent)
    expect(not errors, f"the suite's {REQUEST_ID} {sent!r} breaks the documented schema: {errors}")
    body = next(iter(contract.request_examples(operation).values()), None)
    exchange = _send(client, operation, contract.concrete_paths(operation)[0], body, headers={REQUEST_ID: sent})
    expect(exchange.headers.get(REQUEST_ID) == sent, f"the {REQUEST_ID} sent was not echoed", exchange)
