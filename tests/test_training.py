"""`python -m training`: reproducible forest, complete manifest."""

import json
import subprocess
import sys

import sklearn

from training.artifacts import MANIFEST_FILENAME, MODEL_FILENAME, sha256_file
from training.train import train_iris


def test_same_seed_gives_byte_identical_model(tmp_path):
    first = train_iris(tmp_path / "a")
    second = train_iris(tmp_path / "b")
    assert (tmp_path / "a" / MODEL_FILENAME).read_bytes() == (tmp_path / "b" / MODEL_FILENAME).read_bytes()
    assert {k: v for k, v in first.items() if k != "created_at"} == \
        {k: v for k, v in second.items() if k != "created_at"}


def test_another_seed_gives_another_model(tmp_path):
    assert train_iris(tmp_path / "a", seed=1)["sha256"] != train_iris(tmp_path / "b", seed=2)["sha256"]


def test_manifest_records_identity_versions_features_classes_and_metrics(model_dir):
    manifest = json.loads((model_dir / MANIFEST_FILENAME).read_text())
    assert manifest["sha256"] == sha256_file(model_dir / MODEL_FILENAME)
    assert manifest["name"] == "iris" and manifest["version"]
    assert manifest["versions"]["scikit-learn"] == sklearn.__version__
    assert set(manifest["versions"]) == {"python", "scikit-learn", "numpy", "joblib"}
    assert [f["name"] for f in manifest["features"]] == ["sepal_length", "sepal_width", "petal_length", "petal_width"]
    assert all(f["min"] < f["max"] for f in manifest["features"])
    assert manifest["classes"] == [{"label": 0, "name": "setosa"}, {"label": 1, "name": "versicolor"},
                                   {"label": 2, "name": "virginica"}]
    assert manifest["hyperparameters"]["random_state"] == manifest["training"]["seed"]
    assert manifest["metrics"]["test_accuracy"] >= 0.9
    assert manifest["metrics"]["test_rows"] > 0
    assert manifest["created_at"].endswith("+00:00")


def test_command_line_trains_then_skips_when_asked(tmp_path):
    out = tmp_path / "iris"
    command = [sys.executable, "-m", "training", "--out", str(out), "--n-estimators", "10"]
    trained = subprocess.run(command, capture_output=True, text=True, check=True)
    assert "test_accuracy=" in trained.stdout and (out / MODEL_FILENAME).is_file()
    skipped = subprocess.run([*command, "--if-missing"], capture_output=True, text=True, check=True)
    assert "not retrained" in skipped.stdout
