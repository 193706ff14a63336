"""Model loading refuses anything but the file training wrote, with one clear line."""

import json
import os
import re
import shutil
import subprocess
import sys

import pytest

from contract import load_contract
from training.artifacts import CONTRACT_FILENAME, MANIFEST_FILENAME, MODEL_FILENAME, sha256_hex
from wsgi_service import Settings, StartupError, create_app
from wsgi_service.model import load_model
from wsgi_service.settings import ENV_ALLOW_SKLEARN_MISMATCH, ENV_MODEL_DIR


@pytest.fixture
def model_copy(model_dir, tmp_path):
    copy = tmp_path / "model"
    shutil.copytree(model_dir, copy)
    return copy


def edit_manifest(model_dir, change):
    path = model_dir / MANIFEST_FILENAME
    manifest = json.loads(path.read_text())
    change(manifest)
    path.write_text(json.dumps(manifest))


def test_verified_model_loads(model_dir):
    model = load_model(model_dir)
    assert model.feature_names == ["sepal_length", "sepal_width", "petal_length", "petal_width"]
    assert model.identity["sha256"] == json.loads((model_dir / MANIFEST_FILENAME).read_text())["sha256"]


def test_missing_directory_is_refused(tmp_path):
    with pytest.raises(StartupError, match="no model at .*manifest.json missing.*python -m training"):
        load_model(tmp_path / "absent")


def test_missing_model_file_is_refused(model_copy):
    (model_copy / MODEL_FILENAME).unlink()
    with pytest.raises(StartupError, match="cannot read .*model.joblib"):
        load_model(model_copy)


def test_truncated_model_file_is_refused_before_unpickling(model_copy):
    path = model_copy / MODEL_FILENAME
    path.write_bytes(path.read_bytes()[:1000])
    with pytest.raises(StartupError, match="SHA-256 .* refusing to unpickle"):
        load_model(model_copy)


def test_tampered_model_file_is_refused(model_copy):
    path = model_copy / MODEL_FILENAME
    data = bytearray(path.read_bytes())
    data[-10] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(StartupError, match="refusing to unpickle"):
        load_model(model_copy)


def test_unloadable_file_with_matching_hash_is_one_line(model_copy):
    """A manifest rewritten to vouch for garbage still cannot crash the process."""
    (model_copy / MODEL_FILENAME).write_bytes(b"not a pickle")
    edit_manifest(model_copy, lambda m: m.update(sha256=sha256_hex(b"not a pickle")))
    with pytest.raises(StartupError, match="could not be loaded"):
        load_model(model_copy)


def test_other_scikit_learn_version_is_refused_unless_allowed(model_copy):
    edit_manifest(model_copy, lambda m: m["versions"].update({"scikit-learn": "0.24.2"}))
    with pytest.raises(StartupError, match=f"scikit-learn 0.24.2 .*{ENV_ALLOW_SKLEARN_MISMATCH}=1"):
        load_model(model_copy)
    assert load_model(model_copy, allow_sklearn_version_mismatch=True).estimator is not None


def test_manifest_that_disagrees_with_estimator_is_refused(model_copy):
    edit_manifest(model_copy, lambda m: m["features"].pop())
    with pytest.raises(StartupError, match="expects 4 features, the manifest lists 3"):
        load_model(model_copy)


def _row_of_five(schemas):
    schemas["Row"]["minItems"] = schemas["Row"]["maxItems"] = 5


def _renamed_class(schemas):
    schemas["ClassName"]["enum"][0] = "setosa-ish"


def _regressor_outcome(schemas):
    schemas.pop("Label")
    schemas["Prediction"] = {"type": "object", "properties": {"value": {"type": "number"}}}


@pytest.mark.parametrize("edit, message", [
    (_row_of_five, "at /components/schemas/Row/minItems: contract 5, model 4"),
    (_renamed_class, 'at /components/schemas/ClassName/enum: contract ["setosa-ish", '),
    (_regressor_outcome, "at /components/schemas/Label: contract nothing, model {"),
], ids=["row-length", "class-name", "regression-contract"])
def test_contract_that_disagrees_with_model_is_refused(model_dir, tmp_path, edit, message):
    contract = load_contract()
    edit(contract["components"]["schemas"])
    path = tmp_path / "openapi.json"
    path.write_text(json.dumps(contract))
    with pytest.raises(StartupError, match=f"contract and model disagree {re.escape(message)}"):
        create_app(Settings(model_dir=model_dir, contract_path=path))


def test_model_without_its_contract_is_refused(model_copy):
    (model_copy / CONTRACT_FILENAME).unlink()
    with pytest.raises(StartupError, match="no readable contract at .*openapi.json.*retrain"):
        create_app(Settings(model_dir=model_copy))


def test_contract_bounds_beyond_float32_are_refused(model_dir, tmp_path):
    contract = load_contract()
    contract["components"]["schemas"]["FeatureValue"].pop("maximum")
    path = tmp_path / "openapi.json"
    path.write_text(json.dumps(contract))
    with pytest.raises(StartupError, match="float32 cannot hold"):
        create_app(Settings(model_dir=model_dir, contract_path=path))


@pytest.mark.parametrize("env, message", [
    ({ENV_MODEL_DIR: "/nonexistent/model"}, "Error: no model at /nonexistent/model"),
    ({"MAX_BATCH_ROWS": "many"}, "Error: MAX_BATCH_ROWS must be a positive integer, got 'many'"),
    ({"WEB_CONCURRENCY": "0"}, "Error: WEB_CONCURRENCY must be a positive integer, got '0'"),
])
def test_server_refuses_to_start_with_one_clear_line(model_dir, env, message):
    result = subprocess.run([sys.executable, "-m", "wsgi_service", "--bind", "127.0.0.1:0"],
                            env={**os.environ, ENV_MODEL_DIR: str(model_dir), **env},
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert message in result.stderr
    assert "Traceback" not in result.stderr + result.stdout
