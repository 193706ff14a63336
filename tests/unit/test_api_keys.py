"""API keys in process: reading them (and refusing to start), checking them, and what a locked app answers.

The live proof (a locked gunicorn, the contract suite with and without a key,
and nothing of a key in any log line, metric or body) is in
``tests/live/test_api_keys.py``.
"""

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from werkzeug.test import Client

from contract import load_contract, operations
from contract.api_keys import locked, needs_key
from contract.limits import Limits, with_limits
from tests.support.problems import assert_problem
from tests.support.profiles import examples
from wsgi_service import Settings, StartupError, create_app
from wsgi_service.operations.api_keys import ENV_API_KEYS, ENV_API_KEYS_FILE, ApiKeys, fingerprint
from wsgi_service.operations.settings import DEFAULT_MAX_BATCH_ROWS, DEFAULT_MAX_BODY_BYTES

KEY = "k" * 20 + "EY-of-32-chars-" + "x"  # 36 characters
OTHER = "o" * 40


@pytest.fixture(scope="module")
def locked_client(model_dir):
    return Client(create_app(settings=Settings(model_dir=model_dir, api_keys=ApiKeys([KEY, OTHER]))))


def bearer(key: str) -> dict:
    return {"Authorization": f"Bearer {key}"}


def test_keys_from_a_file_with_comments_and_from_the_environment_add_up(tmp_path):
    keys = tmp_path / "keys"
    keys.write_text(f"# the mobile app\n{KEY}\n\n   # the batch job\n  {OTHER}  \n")
    read = ApiKeys.from_env({ENV_API_KEYS_FILE: str(keys), ENV_API_KEYS: f" {'n' * 32} ,"})
    assert len(read) == 3
    assert [read.fingerprint_of(f"Bearer {key}") for key in (KEY, OTHER, "n" * 32)] == \
        [fingerprint(KEY), fingerprint(OTHER), fingerprint("n" * 32)]
    assert ApiKeys.from_env({}) is None


@pytest.mark.parametrize("environ, message", [
    ({ENV_API_KEYS: ""}, "API_KEYS holds no key"),
    ({ENV_API_KEYS: " , "}, "API_KEYS holds no key"),
    ({ENV_API_KEYS: f"{KEY},short-key"}, "API_KEYS item 2: the key has 9 characters, fewer than 32"),
    ({ENV_API_KEYS: KEY + " " + KEY}, "API_KEYS item 1: the key holds a character"),
    ({ENV_API_KEYS_FILE: "/nonexistent/keys"}, "API_KEYS_FILE=/nonexistent/keys cannot be read: No such file"),
], ids=["empty", "only-commas", "short", "space-inside", "missing-file"])
def test_a_bad_key_setting_refuses_the_start_in_one_line_never_showing_a_key(environ, message):
    with pytest.raises(StartupError, match=message) as refused:
        ApiKeys.from_env(environ)
    assert "\n" not in str(refused.value) and KEY not in str(refused.value)


def test_an_empty_or_comment_only_key_file_refuses_the_start(tmp_path):
    keys = tmp_path / "keys"
    keys.write_text("# nothing yet\n\n")
    with pytest.raises(StartupError, match=f"{ENV_API_KEYS_FILE}={keys} holds no key"):
        ApiKeys.from_env({ENV_API_KEYS_FILE: str(keys)})


def test_every_operation_but_the_health_checks_needs_a_key(locked_client):
    served = json.loads(locked_client.get("/openapi.json", headers=bearer(KEY)).data)
    assert served == locked(with_limits(load_contract(), Limits(DEFAULT_MAX_BATCH_ROWS, DEFAULT_MAX_BODY_BYTES)))
    for path, method, operation in operations(served):
        # The health checks a load balancer calls without a key: the template waives it for them.
        open_operations = {"health", "v2_server_live", "v2_server_ready"}
        assert needs_key(served, operation) is (operation["operationId"] not in open_operations), path
    for path in ("/health", "/v2/health/live", "/v2/health/ready"):
        assert locked_client.get(path).status_code == 200


@pytest.mark.parametrize("method, path", [("POST", "/predict"), ("GET", "/model"), ("GET", "/metrics"),
                                          ("GET", "/openapi.json"), ("GET", "/"), ("GET", "/docs"),
                                          ("GET", "/v2/models/iris"), ("POST", "/v2/models/iris/infer"),
                                          ("GET", "/no-such-path")])
def test_missing_and_wrong_keys_get_the_same_401(locked_client, method, path):
    answers = [locked_client.open(path, method=method, json=[[5.1, 3.5, 1.4, 0.2]], headers=headers)
               for headers in ({}, bearer(KEY[:-1] + "y"), {"Authorization": KEY}, {"X-API-Key": KEY},
                               {"Authorization": f"Basic {KEY}"})]
    bodies = []
    for answer in answers:
        body = assert_problem(answer.status_code, answer.content_type, answer.get_json(), 401)
        assert answer.headers["WWW-Authenticate"] == 'Bearer realm="forest"'
        assert KEY not in answer.get_data(as_text=True)
        bodies.append({name: value for name, value in body.items() if name not in ("request_id", "error")})
    assert all(body == bodies[0] for body in bodies)


def test_the_right_key_is_answered_and_refusals_are_counted_by_reason(model_dir):
    client = Client(create_app(settings=Settings(model_dir=model_dir, api_keys=ApiKeys([KEY]))))
    assert client.post("/predict", json=[[5.1, 3.5, 1.4, 0.2]], headers=bearer(KEY)).get_json() == [0]
    assert client.post("/predict", json=[[5.1, 3.5, 1.4, 0.2]], headers={"authorization": f"bearer  {KEY}"}
                       ).status_code == 200  # the scheme's name is case-insensitive
    client.get("/model")
    client.get("/model", headers=bearer(OTHER))
    client.get("/model", headers=bearer(OTHER))
    metrics = client.get("/metrics", headers=bearer(KEY)).get_data(as_text=True)
    assert 'forest_validation_failures_total{reason="missing_api_key"} 1.0' in metrics
    assert 'forest_validation_failures_total{reason="wrong_api_key"} 2.0' in metrics
    assert KEY not in metrics and fingerprint(KEY) not in metrics


@settings(max_examples=examples(300))
@given(authorization=st.one_of(
    st.text(max_size=80), st.builds(lambda key: f"Bearer {key}", st.text(min_size=1, max_size=60)),
    st.sampled_from([f"Bearer {KEY}\n", f"Bearer {KEY} x", f"Bearer {KEY}=", f"Bearer\t{KEY}", f"Bearer {KEY[:-1]}",
                     f"Bearer {KEY}{KEY}", f"Bearer {KEY.upper()}", f"Token {KEY}", KEY, f"Bearer  {OTHER[1:]}"])))
def test_any_authorization_header_is_let_in_only_with_a_key_and_never_costs_a_5xx(locked_client, authorization):
    try:
        header = authorization.encode("latin-1").decode("latin-1")
    except UnicodeEncodeError:
        header = authorization.encode("utf-8").decode("latin-1")  # as a server hands the bytes over
    answer = locked_client.get("/model", environ_overrides={"HTTP_AUTHORIZATION": header})
    stripped = header.strip(" ")
    exact = stripped.lower().startswith("bearer ") and stripped[7:].strip(" ") in (KEY, OTHER)
    assert answer.status_code == (200 if exact else 401)
