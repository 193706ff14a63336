"""`python -m training`: reproducible forest, complete manifest."""

import json
import re

import numpy as np
import pytest
import sklearn

from contract.model_directory import MANIFEST_FILENAME, MODEL_FILENAME, sha256_file
from training.train import TrainingError, train_forest, train_iris


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




# --- what cannot be trained on, and what the user reads ---

HEADER = "a,b,kind\n"


@pytest.mark.parametrize("target, task, message", [
    (["x"] * 8, "classification", "has a single class ('x')"),
    (["1", "2", "3"], "classification", "3 rows are too few"),
    (["1", "two", "3", "4"], "regression", "a regression target must be numeric"),
], ids=["single-class", "too-few-rows", "words-to-regress"])
def test_a_target_that_cannot_be_learned_is_refused(tmp_path, target, task, message):
    features = np.arange(len(target), dtype=float).reshape(-1, 1)
    with pytest.raises(TrainingError, match=re.escape(message)):
        train_forest(tmp_path, ["x"], features, target, task=task, target_name="y", dataset="test", name="t")




def test_long_fits_show_progress_and_short_ones_stay_quiet(tmp_path, monkeypatch):
    import training.train as train

    lines = []
    features, target = np.arange(40.0).reshape(-1, 1), [str(i % 2) for i in range(40)]
    train_forest(tmp_path / "quiet", ["x"], features, target, task="classification", target_name="y",
                 dataset="test", name="t", n_estimators=20, progress=lines.append)
    assert lines == []
    monkeypatch.setattr(train, "QUIET_SECONDS", -1.0)  # every fit now counts as long
    train_forest(tmp_path / "shown", ["x"], features, target, task="classification", target_name="y",
                 dataset="test", name="t", n_estimators=20, progress=lines.append)
    assert [line.split(",")[0] for line in lines] == [f"fitting: {n}/20 trees" for n in range(2, 21, 2)]
    assert lines[-1].endswith("done")
    quiet, shown = (tmp_path / name / MODEL_FILENAME for name in ("quiet", "shown"))
    assert quiet.read_bytes() == shown.read_bytes(), "growing the forest in steps changed it"
