"""A locked deployment lets in its key and nothing else (run when the suite is given a key).

Every documented operation is called as its example calls it with no key,
with a wrong key (as long as the real one), with the real key under another
scheme and as a bare header value: each operation the contract says needs a
key must answer the documented 401, alike in every case (nothing tells a
caller which part was wrong), with ``WWW-Authenticate: Bearer``; each
operation it waives keys for (the health checks) must answer without one.
Every other check of the suite already ran with the key.
"""

import secrets

import pytest

from contract.api_keys import needs_key
from contract.suite.derived import encode
from contract.suite.documented import expect_answer
from contract.suite.exchanges import expect

AUTHORIZATION = "Authorization"


@pytest.fixture(scope="module")
def api_key(pytestconfig) -> str:
    key = pytestconfig.getoption("api_key")
    if not key:
        pytest.skip("certified without an API key: the checks that keys are enforced need one (--api-key)")
    return key


def test_without_the_key_refused_alike(client, contract, operation, api_key):
    body = next(iter(contract.request_examples(operation).values()), None)
    data = None if body is None else encode(body)
    path = contract.concrete_paths(operation)[0]
    wrong = secrets.token_urlsafe(len(api_key))[:len(api_key)]
    attempts = {"no key": None, "a wrong key": f"Bearer {wrong}", "the key as Basic": f"Basic {api_key}",
                "the key without a scheme": api_key}
    if not needs_key(contract.document, operation.spec):
        exchange = client.send(operation.method, path, data=data, headers={AUTHORIZATION: None})
        expect_answer(contract, operation, exchange, contract.success_status(operation))
        return
    answers = []
    for attempt, authorization in attempts.items():
        exchange = client.send(operation.method, path, data=data, headers={AUTHORIZATION: authorization})
        problem = expect_answer(contract, operation, exchange, 401)
        challenge = exchange.headers.get("WWW-Authenticate", "")
        expect(challenge.split(" ")[0] == "Bearer", f"with {attempt}: WWW-Authenticate is {challenge!r}, "
                                                     "not a Bearer challenge", exchange)
        expect(api_key not in exchange.response.text, f"with {attempt}: the answer holds the key", exchange)
        answers.append((attempt, {name: value for name, value in problem.items() if name != "request_id"},
                        challenge, exchange))
    first_attempt, first, first_challenge, first_exchange = answers[0]
    for attempt, problem, challenge, exchange in answers[1:]:
        expect(problem == first and challenge == first_challenge,
               f"refused differently with {attempt} than with {first_attempt}: a caller can tell what was wrong",
               first_exchange, exchange)
