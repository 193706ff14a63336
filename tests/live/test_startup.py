"""``python -m wsgi_service`` refuses a bad setting, a missing model or a model file that runs code,
with one clear line and exit status 1."""

import json
import shutil
from pathlib import Path

import pytest

from contract.model_directory import MANIFEST_FILENAME, MODEL_FILENAME, sha256_file
from tests.harness.server import refused_start
from tests.support.malicious import dump, payloads, write_marker_module
from wsgi_service.operations.settings import ENV_MODEL_DIR


@pytest.mark.parametrize("env, message", [
    ({ENV_MODEL_DIR: "/nonexistent/model"}, "Error: no model at /nonexistent/model"),
    ({"MAX_BATCH_ROWS": "many"}, "Error: MAX_BATCH_ROWS must be a positive integer, got 'many'"),
    ({"WEB_CONCURRENCY": "0"}, "Error: WEB_CONCURRENCY must be a positive integer, got '0'"),
    ({"API_KEYS": "k" * 31}, "Error: API_KEYS item 1: the key has 31 characters, fewer than 32"),
    ({"API_KEYS_FILE": "/nonexistent/keys"}, "Error: API_KEYS_FILE=/nonexistent/keys cannot be read"),
])
def test_server_refuses_to_start_with_one_clear_line(model_dir, env, message):
    refused = refused_start(model_dir=model_dir, env=env, timeout_s=60)
    assert refused.exit_code == 1
    assert message in refused.output
    assert "Traceback" not in refused.output


@pytest.mark.parametrize("name", list(payloads(Path("marker"))))
def test_a_model_file_that_runs_code_is_refused_in_one_line_and_nothing_runs(model_dir, tmp_path, name):
    """The production command on a model directory whose pickle was packaged with its payload
    (its SHA-256 in the manifest): one line naming the call, exit 1, no marker."""
    marker = tmp_path / "ran"
    write_marker_module(tmp_path, marker)
    evil = tmp_path / "model"
    shutil.copytree(model_dir, evil)
    payload, called = payloads(marker)[name]
    dump(payload, evil / MODEL_FILENAME)
    manifest = json.loads((evil / MANIFEST_FILENAME).read_text())
    manifest["sha256"] = sha256_file(evil / MODEL_FILENAME)
    (evil / MANIFEST_FILENAME).write_text(json.dumps(manifest))
    refused = refused_start(model_dir=evil, env={"PYTHONPATH": str(tmp_path)}, timeout_s=60)
    assert refused.exit_code == 1
    assert refused.output_lines == [f"Error: refusing {evil / MODEL_FILENAME}: the pickle calls {called}"]
    assert not marker.exists()
