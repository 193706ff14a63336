"""The container serving on the host's loopback: certified bare and behind nginx as EB sets it up, locked with
API keys, held by slow clients, and (when asked for) soaked."""

import json
import os
import secrets
import subprocess
import sys
import urllib.error
import urllib.request

import pytest

from contract import load_contract, pointer_to, schema_validator
from tests.container.support import certify
from tests.harness import runs
from tests.harness.server import HOST, REPO_ROOT, free_port
from tests.harness.slow_clients import one_row_body
from wsgi_service.operations.settings import DEFAULT_MAX_BODY_BYTES

pytestmark = pytest.mark.container

SEED_BODY = [[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]]
SEED_LABELS = [0, 2]
PROBLEM_MEDIA_TYPE = "application/problem+json"
REQUEST_ID = "container-proof-413"
JSON = {"Content-Type": "application/json"}
SOAK_MINUTES = float(os.environ.get("CONTAINER_PROOF_SOAK_MINUTES", "0"))


def request(url: str, method: str = "GET", body: bytes | None = None,
            headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    req = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=30) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def padded_body(size: int) -> bytes:
    """A valid one-row seed body of exactly ``size`` bytes (trailing whitespace is valid JSON)."""
    body = json.dumps(SEED_BODY[:1]).encode()
    return body + b" " * (size - len(body))


@pytest.fixture(scope="module")
def served(docker, image, figure):
    """The image on the host's network, bound to 127.0.0.1 on a free port: (container, port)."""
    port = free_port()
    with docker.on_loopback(image, port) as container:
        serving_s = container.wait_serving(port)
        figure("docker run to /health 200", f"{serving_s:.1f} s")
        figure("docker run to healthy", f"{serving_s + container.wait_healthy():.1f} s")
        yield container, port


@pytest.fixture(scope="module", params=["bare", "behind nginx"])
def base_url(request, served, nginx_in_front) -> str:
    """The container's URL, directly and through nginx (the service and nginx must agree on the body limit)."""
    _, port = served
    return f"http://{HOST}:{port}" if request.param == "bare" else nginx_in_front(port)


def test_health_answers_200(base_url):
    assert request(base_url + "/health")[0] == 200


def test_the_seed_form_answers_its_labels(base_url):
    status, _, body = request(base_url + "/predict", "POST", json.dumps(SEED_BODY).encode(), JSON)
    assert (status, json.loads(body)) == (200, SEED_LABELS)


def test_a_body_of_exactly_the_limit_is_served(base_url):
    status, _, body = request(base_url + "/predict", "POST", padded_body(DEFAULT_MAX_BODY_BYTES), JSON)
    assert (status, json.loads(body)) == (200, SEED_LABELS[:1])


def test_one_byte_over_the_limit_is_a_413_problem_naming_it(base_url):
    """Whoever refuses it (the service or nginx), in the contract's problem format."""
    limit = DEFAULT_MAX_BODY_BYTES
    status, headers, body = request(base_url + "/predict", "POST", padded_body(limit + 1),
                                    {**JSON, "X-Request-ID": REQUEST_ID})
    assert status == 413 and headers.get("Content-Type", "").startswith(PROBLEM_MEDIA_TYPE), (status, headers)
    problem = json.loads(body)
    validator = schema_validator(load_contract(), pointer_to("components", "schemas", "Problem"))
    assert [error.message for error in validator.iter_errors(problem)] == []
    assert problem.get("limit") == limit and problem.get("status") == 413, problem
    assert problem.get("request_id") == REQUEST_ID and headers.get("X-Request-ID") == REQUEST_ID


def test_the_contract_suite_certifies_it(base_url):
    certify(base_url)


def test_locked_with_a_key_file_it_refuses_without_and_certifies_with_one(docker, image, tmp_path):
    """The same image with API keys from a file mounted read-only: /health open, /predict 401 without a
    key, the suite passes with it, and the key is in no log line."""
    key = secrets.token_urlsafe(32)
    keys = tmp_path / "keys" / "api-keys"
    keys.parent.mkdir(mode=0o755)
    tmp_path.chmod(0o755)
    keys.write_text(f"# the container proof\n{key}\n")
    keys.chmod(0o444)  # the server's uid 10001 reads it
    port = free_port()
    with docker.on_loopback(image, port, "--env", "API_KEYS_FILE=/run/secrets/api-keys",
                            "--volume", f"{keys}:/run/secrets/api-keys:ro") as locked:
        locked.wait_serving(port)
        refused = request(f"http://{HOST}:{port}/predict", "POST", b"[[5.1,3.5,1.4,0.2]]", JSON)[0]
        assert refused == 401, f"POST /predict without a key answered {refused}, not 401"
        certify(f"http://{HOST}:{port}", env={"CONTRACT_API_KEY": key})
        assert key not in locked.logs(), "the API key is in the locked container's log"


def test_slow_clients_deny_a_normal_client_neither_answers_nor_latency(served, figure):
    """100 each of slow headers, slow bodies, idle and unread at the bare container while a client sends rows."""
    container, port = served
    figures = runs.slow_drill(port, runs.served_exchange(port, one_row_body(port)), master_pid=container.pid())
    lines = figures.lines()
    print("\n".join(lines))
    with_horde = [line.strip() for line in lines if line.strip().startswith("with horde")]
    figure("slow clients (400) at the container", with_horde[0].removeprefix("with horde").strip()
           if with_horde else "")
    assert not figures.misses(), f"slow clients denied the normal client: {figures.misses()}"


@pytest.mark.skipif(not SOAK_MINUTES, reason="CONTAINER_PROOF_SOAK_MINUTES=20 runs it")
def test_soak_of_the_container(docker, served, tmp_path, figure):
    """Mixed load and slow clients, memory of master and workers; the answers checked against the image's own
    model (the rich form names its SHA-256)."""
    container, port = served
    docker("cp", f"{container.name}:/app/model", str(tmp_path / "image-model"))
    out = os.environ.get("CONTAINER_PROOF_SOAK_OUT", str(tmp_path / "soak"))
    soak = subprocess.run([sys.executable, "-m", "bench.soak", "--minutes", str(SOAK_MINUTES), "--port", str(port),
                           "--model-dir", str(tmp_path / "image-model"), "--pid", str(container.pid()),
                           "--out", out], cwd=REPO_ROOT, capture_output=True, text=True)
    print(soak.stdout)
    verdicts = [line.strip() for line in soak.stdout.splitlines() if line.strip().startswith(("PASSED:", "FAILED:"))]
    figure("soak of the container", verdicts[0] if verdicts else "")
    assert soak.returncode == 0, f"the soak failed:\n{soak.stdout[-3000:]}{soak.stderr[-2000:]}"
