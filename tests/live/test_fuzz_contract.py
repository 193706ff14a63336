"""Schemathesis against a live gunicorn, generating from the contract the server serves.

Every operation in ``GET /openapi.json``, through schemathesis' examples,
coverage and fuzzing phases, with valid and invalid data (generation modes
positive and negative), checked by every built-in check: no 5xx, every
response as the contract documents it (status, media type, headers, schema),
valid data accepted, invalid data refused, 405 with ``Allow`` for other
methods; and every answer that is not a 2xx an RFC 9457 problem. /predict
gets most of the requests, then the Open Inference Protocol's two infer
paths: the operations with a body. The served contract states the server's
limits (``contract.limits``), so a batch at its maxItems is valid and one
over it is a documented 413. Cases go as generated, with one exemption, the
V2 rule no schema states (data holds exactly rows x features values; see
``tests.support.fuzzing``).
"""

import pytest
import requests
import schemathesis
from hypothesis import settings
from schemathesis import GenerationMode

from contract import HTTP_METHODS
from tests.support.fuzzing import call_and_validate, refusing_as_documented, with_node_id
from tests.support.problems import assert_problem
from tests.support.profiles import examples

# Hypothesis examples in the fuzzing phase; the examples and coverage phases
# add fixed sets of their own (about 100 for /predict). Measured on 2 cores:
# about 2,100 requests to /predict and 450 to the others, in 45 s.
# Under the quick profile (``tests/support/profiles.py``) all four are scaled down alike.
PREDICT_EXAMPLES = examples(2_000)
OTHER_EXAMPLES = examples(100)  # for each GET operation
INFER_EXAMPLES = examples(400)  # for each of V2's two infer paths
MIN_PREDICT_REQUESTS = examples(1_900)
MIN_OTHER_REQUESTS = examples(300)
MIN_INFER_REQUESTS = examples(350)
INFER = "^v2_(version_)?infer$"

schema = schemathesis.pytest.from_fixture("served_schema")


@pytest.fixture(scope="module")
def loaded_schema(live_server):
    loaded = schemathesis.openapi.from_url(f"{live_server}/openapi.json", timeout=10)
    loaded.config.update(base_url=live_server)
    loaded.config.generation.update(modes=[GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
    return refusing_as_documented(loaded)


@pytest.fixture
def served_schema(loaded_schema, request):
    return with_node_id(loaded_schema, request)


def counting_session(minimum):
    """A fixture: one connection pool for the whole test, counting every request
    sent through it (some checks send their own), and failing when fewer than
    ``minimum`` were: the count is the test's size, so it is checked too."""

    @pytest.fixture
    def session(request):
        sent = []
        failed_before = request.session.testsfailed
        with requests.Session() as http:
            http.hooks["response"].append(lambda response, *args, **kwargs: sent.append(response.status_code))
            yield http
        print(f"{len(sent)} requests, statuses {sorted(set(sent))}")
        if request.session.testsfailed == failed_before:  # a failure stops generation early
            assert len(sent) >= minimum, f"only {len(sent)} requests sent"

    return session


predict_session = counting_session(MIN_PREDICT_REQUESTS)
other_session = counting_session(MIN_OTHER_REQUESTS)
infer_session = counting_session(MIN_INFER_REQUESTS)


def errors_are_problems(ctx, response, case):
    """Anything but a 2xx is an RFC 9457 problem valid under the contract's Problem schema."""
    if not 200 <= response.status_code < 300:
        try:
            body = response.json()
        except ValueError:
            raise AssertionError(f"a {response.status_code} whose body is not JSON: {response.content[:200]!r}")
        assert_problem(response.status_code, response.headers.get("content-type", [""])[0], body,
                       response.status_code)


def call_and_check(case, session):
    call_and_validate(case, session=session, timeout=10, additional_checks=[errors_are_problems])


@schema.include(operation_id="predict").parametrize()
@settings(max_examples=PREDICT_EXAMPLES)
def test_predict_answers_as_the_contract_says(case, predict_session):
    call_and_check(case, predict_session)


@schema.include(operation_id_regex=INFER).parametrize()
@settings(max_examples=INFER_EXAMPLES)
def test_open_inference_answers_as_the_contract_says(case, infer_session):
    call_and_check(case, infer_session)


# By method, not by excluding predict: schemathesis leaves out the operation
# its schema was loaded from (GET /openapi.json) unless a filter names it.
@schema.include(method="GET").parametrize()
@settings(max_examples=OTHER_EXAMPLES)
def test_every_other_operation_answers_as_the_contract_says(case, other_session):
    call_and_check(case, other_session)


def test_the_fuzz_tests_cover_every_operation(loaded_schema):
    served = {f"{method.upper()} {path}" for path, item in loaded_schema.raw_schema["paths"].items()
              for method in item if method in HTTP_METHODS}
    predict = {operation.label for operation in _operations(loaded_schema.include(operation_id="predict"))}
    infer = {operation.label for operation in _operations(loaded_schema.include(operation_id_regex=INFER))}
    others = {operation.label for operation in _operations(loaded_schema.include(method="GET"))}
    assert predict | infer | others == served


def _operations(schema):
    return [result.ok() for result in schema.get_all_operations()]
