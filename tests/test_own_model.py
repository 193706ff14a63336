"""Your own forest from a CSV: trained, served and certified like the iris one.

The CSV is the README's walkthrough table (``python -m training.sample_table``):
ten named features and class labels written as words, or a numeric score.
Everything goes through the commands a user types.
"""

import json
import re
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import joblib
import numpy as np
import pytest
import requests

from contract.generate import load_template, model_schema_names
from tests.servers import free_port, running_server, serve_command
from training.artifacts import CONTRACT_FILENAME, MANIFEST_FILENAME, MODEL_FILENAME
from training.sample_table import FEATURES, GRADES, write_sample_table
from training.table import TableError, read_table
from training.train import TrainingError, train_forest
from wsgi_service.settings import ENV_MODEL_DIR

REPO_ROOT = Path(__file__).resolve().parent.parent


def _train(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "training", *args], cwd=REPO_ROOT,
                          capture_output=True, text=True)


@contextmanager
def certified_server(model_dir: Path) -> Iterator[str]:
    """``MODEL_DIR=model_dir python -m wsgi_service``, certified by ``python -m contract``
    against the contract training wrote beside the model; yields its base URL."""
    port = free_port()
    with running_server(serve_command(port), port, env={ENV_MODEL_DIR: str(model_dir)}) as base_url:
        certified = subprocess.run([sys.executable, "-m", "contract", "--base-url", base_url,
                                    "--contract", str(model_dir / CONTRACT_FILENAME)],
                                   cwd=REPO_ROOT, capture_output=True, text=True)
        assert certified.returncode == 0, certified.stdout[-3000:]
        yield base_url


@pytest.fixture(scope="module", params=["classification", "regression"])
def own_model(request, tmp_path_factory) -> tuple[str, Path]:
    """A model directory trained from the sample CSV by ``python -m training --csv``."""
    task = request.param
    work = tmp_path_factory.mktemp(task)
    csv_path = write_sample_table(work / "coffee.csv", task=task)
    target = "grade" if task == "classification" else "cupping_score"
    trained = _train("--csv", str(csv_path), "--target", target, "--task", task, "--out", str(work / "model"))
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
    again = _train("--csv", manifest["training"]["dataset"], "--target", manifest["target"]["name"],
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
    estimator = joblib.load(model_dir / MODEL_FILENAME)
    assert answer == estimator.predict(rows).tolist()


def test_the_iris_contract_is_the_generated_one(tmp_path):
    """contract/openapi.json is what training writes for the default model: regenerate, never hand-edit.

    Trained in a fresh process: pickle's output (so the SHA-256 the examples
    quote) can depend on what the process unpickled before, such as a model
    with text labels."""
    assert _train("--out", str(tmp_path)).returncode == 0
    committed = (REPO_ROOT / "contract" / "openapi.json").read_text()
    assert (tmp_path / CONTRACT_FILENAME).read_text() == committed, (
        "contract/openapi.json is stale: `python -m training --out /tmp/iris && "
        "cp /tmp/iris/openapi.json contract/openapi.json`")


def test_template_marks_every_generated_schema():
    assert model_schema_names(load_template()) == [
        "Row", "NamedRow", "Label", "Value", "ClassName", "Probability", "Probabilities", "Prediction",
        "SeedResponse", "ManifestClasses"]


# --- what cannot be trained on, and what the user reads ---

HEADER = "a,b,kind\n"


@pytest.mark.parametrize("text, args, message", [
    ("", (), "is empty: expected a header row"),
    (HEADER, (), "has a header but no data rows"),
    ("a,b,label\n1,2,x\n", (), "has no column 'kind' to predict; its columns are a, b, label"),
    (HEADER + "1,2,x\n1,,y\n3,NA,x\n", (), "column 'b' is missing values in rows 2, 3"),
    (HEADER + "1,2,x\n1,2,\n", (), "target 'kind' is missing in row 2"),
    (HEADER + "1,red,x\n2,blue,y\n", (), "column 'b' is not numeric ('red' in row 1): drop it with --drop b"),
    (HEADER + "1,2,x\n1,2\n", (), "row 2 (data rows, counted from 1 after the header) should have 3 cells, like the header"),
    ("a,a,kind\n1,2,x\n", (), "column names ['a'] appear more than once"),
    (HEADER + "1,inf,x\n", (), "column 'b' is not numeric ('inf' in row 1)"),
    (HEADER + "1,2,x\n", ("nope",), "--drop names columns that do not exist: nope"),
], ids=["empty", "header-only", "no-target", "missing-values", "missing-target", "words", "ragged",
        "repeated-names", "infinite", "drop-unknown"])
def test_a_table_that_cannot_be_used_is_refused_saying_where(tmp_path, text, args, message):
    path = tmp_path / "data.csv"
    path.write_text(text)
    with pytest.raises(TableError, match=re.escape(message)):
        read_table(path, "kind", args)


def test_dropping_a_word_column_makes_the_table_usable(tmp_path):
    path = tmp_path / "data.csv"
    path.write_text("id,colour,x,kind\n" + "".join(f"r{i},red,{i},{i % 2}\n" for i in range(8)))
    table = read_table(path, "kind", ("id", "colour"))
    assert table.feature_names == ["x"] and table.features[:, 0].tolist() == list(range(8))


@pytest.mark.parametrize("target, task, message", [
    (["x"] * 8, "classification", "has a single class ('x')"),
    (["1", "2", "3"], "classification", "3 rows are too few"),
    (["1", "two", "3", "4"], "regression", "a regression target must be numeric"),
], ids=["single-class", "too-few-rows", "words-to-regress"])
def test_a_target_that_cannot_be_learned_is_refused(tmp_path, target, task, message):
    features = np.arange(len(target), dtype=float).reshape(-1, 1)
    with pytest.raises(TrainingError, match=re.escape(message)):
        train_forest(tmp_path, ["x"], features, target, task=task, target_name="y", dataset="test", name="t")


def test_command_line_says_what_to_fix_in_one_line(tmp_path):
    path = tmp_path / "data.csv"
    path.write_text(HEADER + "1,red,x\n2,blue,y\n")
    refused = _train("--csv", str(path), "--target", "kind", "--out", str(tmp_path / "m"))
    assert refused.returncode == 2
    assert refused.stderr.startswith("error: ") and refused.stderr.count("\n") == 1
    assert "Traceback" not in refused.stderr and not (tmp_path / "m").exists()


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


# --- words as features: --categorical ---

ORIGINS, ROASTS = ("Antigua", "Huila", "Kona", "Sidamo"), ("dark", "light", "medium")


@pytest.fixture(scope="module")
def categorical_model(tmp_path_factory) -> Path:
    work = tmp_path_factory.mktemp("categorical")
    rng = np.random.default_rng(3)
    lines = ["origin,acidity,roast,body,grade"]
    for _ in range(200):
        origin, roast = rng.choice(ORIGINS), rng.choice(ROASTS)
        acidity, body = round(rng.uniform(5, 9), 2), round(rng.uniform(5, 9), 2)
        grade = "specialty" if origin in ("Kona", "Sidamo") and acidity > 6.5 else \
            "premium" if body > 7 else "commercial"
        lines.append(f"{origin},{acidity},{roast},{body},{grade}")
    (work / "lots.csv").write_text("\n".join(lines) + "\n")
    refused = _train("--csv", str(work / "lots.csv"), "--target", "grade", "--out", str(work / "refused"))
    assert refused.returncode == 2 and "--categorical origin" in refused.stderr
    trained = _train("--csv", str(work / "lots.csv"), "--target", "grade", "--categorical", "origin",
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
