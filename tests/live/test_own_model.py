"""Your own forest from a CSV: trained, served and certified like the iris one.

What cannot be trained on, and what the user then reads, is tested in
``tests/unit/test_table.py`` and ``tests/unit/test_train.py``.

The CSV is the README's walkthrough table (``python -m training.sample_table``):
ten named features and class labels written as words, or a numeric score.
Everything goes through the commands a user types.
"""

import json
import subprocess
import sys
from pathlib import Path

import joblib
import numpy as np
import pandas
import pytest
import requests

from contract.suite import EXIT_OTHER_MODEL
from contract.model_directory import CONTRACT_FILENAME, MANIFEST_FILENAME, MODEL_FILENAME
from training.sample_table import FEATURES, GRADES, write_sample_table
from tests.harness.server import REPO_ROOT, refused_start, running_server
from tests.support.commands import certified_server, run_training
from tests.support.notebooks import (
    LOTS_CSV, ORIGINS, PIPELINES, ROASTS, TARGET, write_lots_table, write_notebook_models,
)
from tests.support.without_pandas import without_pandas_env
from wsgi_service.model.frames import INSTALL_DATAFRAME


@pytest.fixture(scope="module", params=["classification", "regression"])
def own_model(request, tmp_path_factory) -> tuple[str, Path]:
    """A model directory trained from the sample CSV by ``python -m training --csv``."""
    task = request.param
    work = tmp_path_factory.mktemp(task)
    csv_path = write_sample_table(work / "coffee.csv", task=task)
    target = "grade" if task == "classification" else "cupping_score"
    trained = run_training("--csv", str(csv_path), "--target", target, "--task", task, "--out", str(work / "model"))
    assert trained.returncode == 0, trained.stderr
    return task, work / "model"


def test_manifest_names_the_tables_features_and_its_held_out_metrics(own_model):
    task, model_dir = own_model
    manifest = json.loads((model_dir / MANIFEST_FILENAME).read_text())
    assert [feature["name"] for feature in manifest["features"]] == list(FEATURES)
    assert manifest["task"] == task and manifest["name"] == "coffee"
    if task == "classification":
        assert manifest["classes"] == [{"label": grade, "name": grade} for grade in sorted(GRADES)]
        assert set(manifest["metrics"]) >= {"test_accuracy", "test_macro_f1"}
        assert manifest["metrics"]["test_accuracy"] > 0.7
    else:
        assert "classes" not in manifest and manifest["target"]["name"] == "cupping_score"
        assert set(manifest["metrics"]) >= {"test_r2", "test_mae"}
        assert manifest["metrics"]["test_r2"] > 0.5


def test_generated_contract_describes_this_model(own_model):
    task, model_dir = own_model
    contract = json.loads((model_dir / CONTRACT_FILENAME).read_text())
    schemas = contract["components"]["schemas"]
    assert schemas["NamedRow"]["required"] == list(FEATURES)
    assert schemas["Row"]["minItems"] == schemas["Row"]["maxItems"] == len(FEATURES)
    if task == "classification":
        assert schemas["Label"] == {"description": schemas["Label"]["description"], "type": "string",
                                    "enum": sorted(GRADES)}
        assert schemas["Probabilities"]["required"] == sorted(GRADES)
    else:
        assert "Label" not in schemas and "Probabilities" not in schemas
        assert schemas["Prediction"]["required"] == ["value"]
    assert not [name for name, schema in schemas.items() if "$comment" in schema], "a placeholder was left"


def test_same_table_and_seed_give_the_same_model(own_model, tmp_path):
    task, model_dir = own_model
    manifest = json.loads((model_dir / MANIFEST_FILENAME).read_text())
    again = run_training("--csv", manifest["training"]["dataset"], "--target", manifest["target"]["name"],
                   "--task", task, "--out", str(tmp_path / "again"))
    assert again.returncode == 0, again.stderr
    assert (tmp_path / "again" / MODEL_FILENAME).read_bytes() == (model_dir / MODEL_FILENAME).read_bytes()
    assert (tmp_path / "again" / CONTRACT_FILENAME).read_text() == (model_dir / CONTRACT_FILENAME).read_text()


def test_served_and_certified_with_no_change(own_model):
    """MODEL_DIR=... python -m wsgi_service serves it; python -m contract certifies it against its contract."""
    task, model_dir = own_model
    with certified_server(model_dir) as base_url:
        rows = np.array([[float(feature) for feature in range(len(FEATURES))], [5.0] * len(FEATURES)])
        answer = requests.post(f"{base_url}/predict", json=rows.tolist(), timeout=10).json()
        # Certified against the default (iris) contract instead: one line says whose it serves.
        other = subprocess.run([sys.executable, "-m", "contract", "--base-url", base_url],
                               cwd=REPO_ROOT, capture_output=True, text=True)
    estimator = joblib.load(model_dir / MODEL_FILENAME)
    assert answer == estimator.predict(rows).tolist()
    assert other.returncode == EXIT_OTHER_MODEL and other.stdout == ""
    assert other.stderr.count("\n") == 1 and "serves the contract of another model" in other.stderr
    assert "--contract models/NAME/openapi.json" in other.stderr and "'coffee'" in other.stderr


# --- words as features: --categorical ---

@pytest.fixture(scope="module")
def categorical_model(tmp_path_factory) -> Path:
    work = tmp_path_factory.mktemp("categorical")
    write_lots_table(work / "lots.csv")
    refused = run_training("--csv", str(work / "lots.csv"), "--target", "grade", "--out", str(work / "refused"))
    assert refused.returncode == 2 and "--categorical origin" in refused.stderr
    trained = run_training("--csv", str(work / "lots.csv"), "--target", "grade", "--categorical", "origin",
                     "--categorical", "roast", "--out", str(work / "model"))
    assert trained.returncode == 0, trained.stderr
    return work / "model"


def test_categorical_words_are_the_values_the_contract_admits(categorical_model):
    manifest = json.loads((categorical_model / MANIFEST_FILENAME).read_text())
    assert manifest["features"][0] == {"name": "origin", "categories": list(ORIGINS)}
    assert set(manifest["features"][1]) == {"name", "min", "max"}
    schemas = json.loads((categorical_model / CONTRACT_FILENAME).read_text())["components"]["schemas"]
    assert schemas["Row"]["prefixItems"][2]["enum"] == list(ROASTS) and schemas["Row"]["items"] is False
    assert schemas["NamedRow"]["properties"]["origin"]["enum"] == list(ORIGINS)


def test_categorical_model_serves_words_and_is_certified(categorical_model):
    with certified_server(categorical_model) as base_url:
        rows = [["Kona", 7.2, "dark", 6.0], ["Huila", 6.0, "light", 8.0]]
        answer = requests.post(f"{base_url}/predict", json=rows, timeout=10)
        unknown = requests.post(f"{base_url}/predict", timeout=10,
                                json={"instances": [{"origin": "Mars", "acidity": 7, "roast": "dark", "body": 6}]})
    estimator = joblib.load(categorical_model / MODEL_FILENAME)
    codes = [[ORIGINS.index(row[0]), row[1], ROASTS.index(row[2]), row[3]] for row in rows]
    assert answer.json() == estimator.predict(np.array(codes, dtype=float)).tolist()
    assert unknown.status_code == 422
    assert [error["pointer"] for error in unknown.json()["errors"]] == ["/instances/0/origin"]


# --- a notebook's pipeline: words one-hot encoded by column name ---

@pytest.fixture(scope="module")
def notebook(tmp_path_factory) -> Path:
    return write_notebook_models(tmp_path_factory.mktemp("notebook"))


@pytest.mark.parametrize("filename", list(PIPELINES))
def test_a_notebook_pipeline_over_words_is_imported_served_and_certified(notebook, filename, tmp_path):
    """ColumnTransformer(OneHotEncoder by name) + a forest (compiled) or histogram gradient boosting
    (scikit-learn): imported with its sample, served by gunicorn, certified, answering as the pipeline."""
    imported = run_training("import", str(notebook / filename), "--sample", str(notebook / LOTS_CSV),
                            "--target", TARGET, "--out", str(tmp_path))
    assert imported.returncode == 0, imported.stderr
    rows = [["Kona", 7.2, "dark", 6.0], ["Huila", 6.0, "light", 8.0]]
    with certified_server(tmp_path) as base_url:
        answer = requests.post(f"{base_url}/predict", json={"instances": rows}, timeout=10).json()
        unknown = requests.post(f"{base_url}/predict", json=[["Mars", 7.2, "dark", 6.0]], timeout=10)
    pipeline = joblib.load(notebook / filename)
    if hasattr(pipeline[-1], "n_jobs"):
        pipeline[-1].n_jobs = 1
    frame = pandas.DataFrame(rows, columns=["origin", "acidity", "roast", "body"])
    probabilities = [[p["probabilities"][grade] for grade in pipeline.classes_] for p in answer["predictions"]]
    np.testing.assert_array_equal(np.array(probabilities), pipeline.predict_proba(frame))
    assert [p["label"] for p in answer["predictions"]] == pipeline.predict(frame).tolist()
    assert unknown.status_code == 422 and unknown.json()["errors"][0]["pointer"] == "/0/0"


def test_without_pandas_a_notebook_pipeline_is_refused_in_one_line_and_a_plain_forest_serves(
        notebook, model_dir, tmp_path):
    """pandas is optional: where it cannot be imported, the import and the production start of a
    DataFrame pipeline each stop with one line saying how to install it; the iris forest serves."""
    hidden = without_pandas_env(tmp_path / "without-pandas")
    refused_import = run_training("import", str(notebook / "lots_boosted.joblib"), "--out", str(tmp_path / "refused"),
                                  env=hidden)
    assert refused_import.returncode == 2 and refused_import.stdout == ""
    assert refused_import.stderr.count("\n") == 1 and INSTALL_DATAFRAME in refused_import.stderr
    assert not (tmp_path / "refused").exists()

    model = tmp_path / "model"
    assert run_training("import", str(notebook / "lots_boosted.joblib"), "--out", str(model)).returncode == 0
    refused = refused_start(model_dir=model, env=hidden, timeout_s=60)
    assert refused.exit_code == 1
    assert refused.output_lines == [f"Error: {model} takes a pandas DataFrame, and pandas is not installed: "
                                    f"{INSTALL_DATAFRAME} (a Docker image built with the model, "
                                    f"--build-arg MODEL=models/NAME, installs it)"]

    with running_server(model_dir=model_dir, env=hidden) as server:
        answer = requests.post(f"{server.base_url}/predict", json=[[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]],
                               timeout=10)
    assert answer.json() == [0, 2]
