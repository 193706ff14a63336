"""API keys on a real gunicorn: let in with the key, refused without, certified, fuzzed, and never written down.

A server started as a user starts it (``API_KEYS_FILE=... python -m
wsgi_service``, two keys in the file, comments between them) is called as
curl calls it, certified by ``python -m contract`` with the key (and turned
away, in one line, without one), fuzzed by schemathesis with the key (whose
``ignored_auth`` check also sends each request without it), and then its
log, its metrics and every answer it gave are searched for the keys. The 401
checks of the suite are proven able to fail against a server without keys.
"""

import os
import secrets
import subprocess
import sys

import pytest
import requests
import schemathesis
from hypothesis import settings
from schemathesis import GenerationMode
from schemathesis.core.parameters import ParameterLocation

from contract.suite import ENV_API_KEY, EXIT_CHECKS_FAILED, EXIT_NEEDS_KEY
from tests.harness.server import REPO_ROOT, running_server
from tests.support.fuzzing import call_and_validate, refusing_as_documented, with_node_id
from tests.support.problems import assert_problem
from tests.support.profiles import examples
from wsgi_service.operations.api_keys import ENV_API_KEYS_FILE, fingerprint

KEYS = [secrets.token_urlsafe(32), secrets.token_urlsafe(48)]
ROW = [[5.1, 3.5, 1.4, 0.2]]
TIMEOUT_S = 30
# Every body the locked server answered, searched for the keys at the end.
ANSWERS: list[bytes] = []


@pytest.fixture(scope="module")
def locked(model_dir, tmp_path_factory):
    key_file = tmp_path_factory.mktemp("keys") / "api-keys"
    key_file.write_text(f"# the web shop\n{KEYS[0]}\n\n# the nightly batch, until it moves to the new key\n"
                        f"{KEYS[1]}\n")
    with running_server(model_dir=model_dir, env={ENV_API_KEYS_FILE: str(key_file)}) as server:
        yield server


def _call(method: str, url: str, key: str | None = None, **kwargs) -> requests.Response:
    headers = kwargs.pop("headers", {})
    if key is not None:
        headers["Authorization"] = f"Bearer {key}"
    answer = requests.request(method, url, headers=headers, timeout=TIMEOUT_S, **kwargs)
    ANSWERS.append(answer.content + str(answer.headers).encode())
    return answer


def _contract(base_url: str, key: str | None, *args: str) -> subprocess.CompletedProcess:
    env = {name: value for name, value in os.environ.items() if name != ENV_API_KEY}
    if key is not None:
        env[ENV_API_KEY] = key
    return subprocess.run([sys.executable, "-m", "contract", "--base-url", base_url, *args], cwd=REPO_ROOT, env=env,
                          capture_output=True, text=True, timeout=600)


def test_the_key_lets_in_and_nothing_else_does(locked):
    url = locked.base_url
    refused = _call("POST", f"{url}/predict", json=ROW)
    assert_problem(refused.status_code, refused.headers["Content-Type"], refused.json(), 401)
    assert refused.headers["WWW-Authenticate"] == 'Bearer realm="forest"'
    wrong = _call("POST", f"{url}/predict", KEYS[0][:-1] + ("A" if KEYS[0][-1] != "A" else "B"), json=ROW)
    assert wrong.status_code == 401 and wrong.json()["detail"] == refused.json()["detail"]
    for key in KEYS:  # both keys of the file, as during a rotation
        assert _call("POST", f"{url}/predict", key, json=ROW).json() == [0]
    for path in ("/health", "/v2/health/live", "/v2/health/ready"):
        assert _call("GET", url + path).status_code == 200
    for path in ("/model", "/metrics", "/openapi.json", "/", "/docs", "/v2/models/iris"):
        assert _call("GET", url + path).status_code == 401
        assert _call("GET", url + path, KEYS[1]).status_code == 200


def test_certified_with_the_key_and_turned_away_in_one_line_without(locked):
    certified = _contract(locked.base_url, KEYS[1])
    assert certified.returncode == 0, certified.stdout[-3000:]
    assert "test_without_the_key_refused_alike" in certified.stdout and " passed" in certified.stdout
    without = _contract(locked.base_url, None)
    assert without.returncode == EXIT_NEEDS_KEY and without.stdout == ""
    assert without.stderr.count("\n") == 1 and f"${ENV_API_KEY}" in without.stderr
    ANSWERS.extend(part.encode() for part in (certified.stdout, certified.stderr, without.stderr))


def test_the_suites_401_checks_fail_a_server_that_ignores_keys(live_server):
    """The session's server runs without keys: certified as if locked, every 401 check must fail."""
    ignoring = _contract(live_server, KEYS[0], "-k", "api_keys or served_contract")
    assert ignoring.returncode == EXIT_CHECKS_FAILED
    failed = [line for line in ignoring.stdout.splitlines() if line.endswith(" FAIL")]
    assert any("test_without_the_key_refused_alike[POST /predict]" in line for line in failed), ignoring.stdout
    assert any("test_served_contract_equals_local" in line for line in failed)


# --- schemathesis against the locked server: each request with the key, and again without it ---

schema = schemathesis.pytest.from_fixture("locked_schema")


@pytest.fixture
def locked_schema(loaded_locked_schema, request):
    return with_node_id(loaded_locked_schema, request)


@pytest.fixture(scope="module")
def loaded_locked_schema(locked):
    loaded = schemathesis.openapi.from_url(f"{locked.base_url}/openapi.json", timeout=10,
                                           headers={"Authorization": f"Bearer {KEYS[0]}"})
    loaded.config.update(base_url=locked.base_url)
    loaded.config.generation.update(modes=[GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
    return refusing_as_documented(loaded)


@schema.include(method_regex="^(GET|POST)$").parametrize()
@settings(max_examples=examples(60))
def test_fuzzed_with_the_key(case):
    # A case whose headers are meant to break the contract may mean to leave the key out: it is
    # sent as generated (a 401 is then its documented refusal); every other case carries the key.
    negative_headers = case.meta is not None and case.meta.is_negative_at(ParameterLocation.HEADER)
    headers = {} if negative_headers else {"Authorization": f"Bearer {KEYS[0]}"}
    answer = call_and_validate(case, headers=headers, timeout=TIMEOUT_S)
    ANSWERS.append(answer.content)


def test_no_key_in_any_log_line_metric_or_answer(locked):
    """Last in this module: everything above has been said and written by now."""
    metrics = _call("GET", f"{locked.base_url}/metrics", KEYS[0]).content
    log = locked.log()
    assert 'forest_validation_failures_total{reason="missing_api_key"}' in metrics.decode()
    assert f'"key": "{fingerprint(KEYS[0])}"' in log and f'"key": "{fingerprint(KEYS[1])}"' in log
    assert f"needs one of 2 key(s) (fingerprints {fingerprint(KEYS[0])}, {fingerprint(KEYS[1])})" in log
    for key in KEYS:
        for where, text in [("the log", log.encode()), ("/metrics", metrics), *(("an answer", a) for a in ANSWERS)]:
            assert key.encode() not in text, f"a key in {where}"
