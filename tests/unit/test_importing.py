"""``python -m training import``: a model fitted elsewhere packaged as a model directory the
service serves unchanged; a file that runs code, or cannot be served, refused in one line."""

import configparser
import json
import re
import subprocess
import sys
from pathlib import Path

import joblib
import numpy as np
import pandas
import pytest
import sklearn.base
from sklearn.datasets import load_iris
from sklearn.base import is_classifier
from sklearn.ensemble import (
    ExtraTreesRegressor, GradientBoostingRegressor, HistGradientBoostingClassifier, RandomForestClassifier,
)
from sklearn.impute import SimpleImputer
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import MinMaxScaler, StandardScaler

from contract.model_directory import DATAFRAME_INPUT, INPUT_KEY, MANIFEST_FILENAME, MODEL_FILENAME, sha256_file
from tests.harness.server import REPO_ROOT
from tests.support.malicious import dump, payloads, write_marker_module
from tests.support.notebooks import LOTS_CSV, ORIGINS, ROASTS, TARGET, write_notebook_models
from training.importing import import_model
from training.train import TrainingError
from wsgi_service import Settings, StartupError, load_model
from wsgi_service.model.frames import DATAFRAME_EXTRA, INSTALL_DATAFRAME, pandas_installed
from wsgi_service.operations.settings import ENV_ALLOW_SKLEARN_MISMATCH

IRIS = load_iris()
NAMES = ["sepal_length", "sepal_width", "petal_length", "petal_width"]


@pytest.fixture(scope="module")
def notebook_forest(tmp_path_factory):
    """What a notebook makes: all cores, a depth limit (so leaf values are not 0 or 1), joblib.dump."""
    path = tmp_path_factory.mktemp("notebook") / "rf_clf.joblib"
    forest = RandomForestClassifier(n_estimators=60, max_depth=6, n_jobs=-1, random_state=1)
    joblib.dump(forest.fit(IRIS.data, IRIS.target), path)
    return path


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    path = tmp_path_factory.mktemp("sample") / "flowers.csv"
    path.write_text(",".join([*NAMES, "species"]) + "\n" + "".join(
        ",".join(map(str, [*row, label])) + "\n" for row, label in zip(IRIS.data.tolist(), IRIS.target.tolist())))
    return path


def test_a_notebook_forest_is_packaged_byte_for_byte_and_served_compiled(notebook_forest, sample, tmp_path):
    manifest = import_model(notebook_forest, tmp_path, name="flowers", sample=sample, target="species",
                            class_names={"0": "setosa", "1": "versicolor", "2": "virginica"})
    assert (tmp_path / MODEL_FILENAME).read_bytes() == notebook_forest.read_bytes()
    assert manifest["sha256"] == sha256_file(notebook_forest)
    assert [feature["name"] for feature in manifest["features"]] == NAMES
    assert manifest["features"][0] == {"name": "sepal_length", "min": 4.3, "max": 7.9}
    assert [c["name"] for c in manifest["classes"]] == ["setosa", "versicolor", "virginica"]
    assert manifest["metrics"]["test_rows"] == 150 and "train_rows" not in manifest["metrics"]
    assert INPUT_KEY not in manifest  # an array: no pandas needed to serve it
    model = load_model(tmp_path)
    assert model.serving["path"] == "compiled forest"
    reference = joblib.load(notebook_forest)
    reference.n_jobs = 1
    np.testing.assert_array_equal(model.predict_proba(IRIS.data), reference.predict_proba(IRIS.data))


def test_without_names_or_sample_the_features_are_numbered_and_unbounded(tmp_path):
    path = tmp_path / "model.joblib"
    joblib.dump(ExtraTreesRegressor(n_estimators=5, random_state=0).fit(IRIS.data, IRIS.data[:, 0]), path)
    manifest = import_model(path, tmp_path / "out", name="lengths")
    assert manifest["features"] == [{"name": f"x{index}"} for index in range(4)]
    assert manifest["task"] == "regression" and manifest["metrics"] == {}
    assert load_model(tmp_path / "out").predict([[5.1, 3.5, 1.4, 0.2]]).shape == (1,)


@pytest.mark.parametrize("features, message", [
    (["a", "b", "c"], "expects 4 features; --features names 3"),
])
def test_feature_names_that_do_not_fit_are_refused(notebook_forest, tmp_path, features, message):
    with pytest.raises(TrainingError, match=message):
        import_model(notebook_forest, tmp_path, name="x", features=features)


@pytest.mark.parametrize("name", list(payloads(Path("marker"))))
def test_a_file_that_runs_code_is_refused_and_nothing_runs(tmp_path, monkeypatch, name):
    marker = tmp_path / "ran"
    monkeypatch.syspath_prepend(str(tmp_path))
    write_marker_module(tmp_path, marker)
    payload, called = payloads(marker)[name]
    path = dump(payload, tmp_path / "evil.joblib")
    with pytest.raises(TrainingError, match=f"^refusing {path}: the pickle calls {called}$"):
        import_model(path, tmp_path / "out", name="evil")
    assert not marker.exists() and not (tmp_path / "out").exists()


def _packaged(estimator, tmp_path) -> Path:
    path = tmp_path / "model.joblib"
    joblib.dump(estimator, path)
    import_model(path, tmp_path / "model", name="m", features=NAMES)
    return tmp_path / "model"


def test_a_pipeline_ending_in_a_forest_serves_its_forest_compiled(tmp_path):
    """The transformers run in scikit-learn, the forest in the kernel: the same bits as the pipeline."""
    pipeline = make_pipeline(SimpleImputer(), StandardScaler(), MinMaxScaler(),
                             RandomForestClassifier(n_estimators=30, max_depth=5, n_jobs=-1, random_state=0))
    pipeline.fit(IRIS.data, IRIS.target)
    model = load_model(_packaged(pipeline, tmp_path))
    assert model.serving["path"] == "compiled forest" and "transformers" in model.serving["detail"]
    pipeline.set_params(randomforestclassifier__n_jobs=1)
    np.testing.assert_array_equal(model.predict_proba(IRIS.data), pipeline.predict_proba(IRIS.data))


@pytest.mark.parametrize("estimator", [HistGradientBoostingClassifier(max_iter=20),
                                       GradientBoostingRegressor(n_estimators=20)],
                         ids=["hist-gradient-boosting", "gradient-boosting"])
def test_boosted_trees_are_served_by_scikit_learn(tmp_path, estimator):
    target = IRIS.target if is_classifier(estimator) else IRIS.data[:, 0]
    estimator.fit(IRIS.data, target)
    model = load_model(_packaged(estimator, tmp_path))
    assert model.serving["path"] == "scikit-learn"
    np.testing.assert_array_equal(model.predict(IRIS.data), estimator.predict(IRIS.data))


def _pickled_by(release: str, estimator, path: Path, monkeypatch) -> Path:
    """``estimator`` dumped as ``release`` dumps it: scikit-learn stamps each estimator's pickle
    with its version, which is what the service reads."""
    with monkeypatch.context() as patch:
        patch.setattr(sklearn.base, "__version__", release)
        joblib.dump(estimator, path)
    return path


def test_a_forest_pickled_by_another_release_is_served_compiled(tmp_path, monkeypatch):
    forest = RandomForestClassifier(n_estimators=10, max_depth=4, random_state=0).fit(IRIS.data, IRIS.target)
    path = _pickled_by("1.4.2", forest, tmp_path / "forest.joblib", monkeypatch)
    manifest = import_model(path, tmp_path / "model", name="old", features=NAMES)
    model = load_model(tmp_path / "model")
    assert manifest["versions"]["scikit-learn"] == "1.4.2"
    assert model.serving["path"] == "compiled forest" and "pickled by scikit-learn 1.4.2" in model.serving["detail"]
    np.testing.assert_array_equal(model.predict_proba(IRIS.data), forest.predict_proba(IRIS.data))


def test_other_models_pickled_by_another_release_are_refused_unless_allowed(tmp_path, monkeypatch):
    """A pipeline's transformers run the installed release's code on the pickled attributes:
    refused at import and at start, in one line, unless the user says to serve it anyway."""
    pipeline = make_pipeline(StandardScaler(), RandomForestClassifier(n_estimators=5, random_state=0))
    path = _pickled_by("1.4.2", pipeline.fit(IRIS.data, IRIS.target), tmp_path / "pipe.joblib", monkeypatch)
    refusal = f"holds a Pipeline pickled by scikit-learn 1.4.2 .* set {ENV_ALLOW_SKLEARN_MISMATCH}=1"
    with pytest.raises(TrainingError, match=refusal):
        import_model(path, tmp_path / "refused", name="pipe", features=NAMES)
    assert not (tmp_path / "refused").exists()
    import_model(path, tmp_path / "model", name="pipe", features=NAMES, allow_other_release=True)
    with pytest.raises(StartupError, match=refusal):
        load_model(tmp_path / "model")
    allowed = load_model(tmp_path / "model", Settings(allow_sklearn_version_mismatch=True))
    np.testing.assert_array_equal(allowed.predict(IRIS.data), pipeline.predict(IRIS.data))



@pytest.fixture(scope="module")
def notebook(tmp_path_factory) -> Path:
    return write_notebook_models(tmp_path_factory.mktemp("notebook"))


@pytest.mark.parametrize("filename, path", [("lots_forest.joblib", "compiled forest"),
                                            ("lots_boosted.joblib", "scikit-learn")])
def test_a_pipeline_over_named_word_columns_is_served_the_words_it_encodes(notebook, filename, path, tmp_path):
    """The contract admits the encoder's words; rows reach the pipeline as the DataFrame it was fitted on."""
    manifest = import_model(notebook / filename, tmp_path, name="lots", sample=notebook / LOTS_CSV, target=TARGET)
    assert manifest["features"][0] == {"name": "origin", "categories": list(ORIGINS)}
    assert manifest["features"][2] == {"name": "roast", "categories": list(ROASTS)}
    assert manifest["metrics"]["test_accuracy"] > 0.9
    assert manifest[INPUT_KEY] == DATAFRAME_INPUT  # what has pandas installed where it is served
    model = load_model(tmp_path)
    assert model.serving["path"] == path
    rows = [["Kona", 7.2, "dark", 6.0], ["Huila", 6.0, "light", 8.0], ["Sidamo", 5.5, "medium", 7.5]]
    pipeline = joblib.load(notebook / filename)
    if hasattr(pipeline[-1], "n_jobs"):
        pipeline[-1].n_jobs = 1
    frame = pandas.DataFrame(rows, columns=["origin", "acidity", "roast", "body"])
    np.testing.assert_array_equal(model.predict_proba(rows), pipeline.predict_proba(frame))
    assert model.predict(rows).tolist() == pipeline.predict(frame).tolist()


def test_a_sample_word_the_encoder_does_not_know_is_refused(notebook, tmp_path):
    sample = tmp_path / "lots.csv"
    sample.write_text((notebook / LOTS_CSV).read_text().replace("Kona", "Mars", 1))
    with pytest.raises(TrainingError, match="the sample's origin holds Mars, which .* does not encode "
                                            "\\(it knows Antigua, Huila, Kona, Sidamo\\)"):
        import_model(notebook / "lots_forest.joblib", tmp_path / "out", name="lots", sample=sample, target=TARGET)


# --- pandas is optional: a DataFrame pipeline is refused where it is missing ---

NO_PANDAS = f"takes a pandas DataFrame, and pandas is not installed: {INSTALL_DATAFRAME}"


def _hide_pandas(monkeypatch) -> None:
    """As where pandas is not installed: ``import pandas`` fails, ``find_spec`` finds nothing."""
    monkeypatch.setitem(sys.modules, "pandas", None)
    assert not pandas_installed()


def test_without_pandas_a_dataframe_pipeline_is_refused_at_import_before_anything_is_written(
        notebook, tmp_path, monkeypatch):
    _hide_pandas(monkeypatch)
    with pytest.raises(TrainingError, match=re.escape(NO_PANDAS)):
        import_model(notebook / "lots_forest.joblib", tmp_path / "out", name="lots",
                     sample=notebook / LOTS_CSV, target=TARGET)
    assert not (tmp_path / "out").exists()


def test_without_pandas_a_dataframe_model_is_refused_at_start_before_its_file_is_read(notebook, tmp_path,
                                                                                     monkeypatch):
    import_model(notebook / "lots_forest.joblib", tmp_path, name="lots")
    (tmp_path / MODEL_FILENAME).unlink()  # the manifest alone decides: the refusal names pandas, not the file
    _hide_pandas(monkeypatch)
    with pytest.raises(StartupError) as refused:
        load_model(tmp_path)
    assert str(refused.value) == f"{tmp_path} {NO_PANDAS} (a Docker image built with the model, " \
                                 f"--build-arg MODEL=models/NAME, installs it)"


def test_a_manifest_must_say_whether_its_model_takes_a_dataframe(notebook, tmp_path, model_copy):
    """The Docker build installs pandas on the manifest's word: a manifest that does not match
    its estimator is refused, either way."""
    import_model(notebook / "lots_forest.joblib", tmp_path / "frame", name="lots")
    _edit_manifest(tmp_path / "frame", lambda manifest: manifest.pop(INPUT_KEY))
    with pytest.raises(StartupError, match='takes a pandas DataFrame, but its manifest does not say so '
                                           '\\("input": "dataframe"\\): re-import it'):
        load_model(tmp_path / "frame")
    plain = model_copy
    _edit_manifest(plain, lambda manifest: manifest.update({INPUT_KEY: DATAFRAME_INPUT}))
    with pytest.raises(StartupError, match='takes an array, but its manifest says "input": "dataframe"'):
        load_model(plain)
    _edit_manifest(plain, lambda manifest: manifest.update({INPUT_KEY: "polars"}))
    with pytest.raises(StartupError, match="the manifest's input 'polars' is not one of array, dataframe"):
        load_model(plain)


def test_without_pandas_a_plain_forest_is_served(model_dir):
    """Nothing but a DataFrame pipeline needs pandas: in a process where it cannot be imported
    (scikit-learn then runs without it), the iris model loads, compiles and predicts."""
    script = ("import sys; sys.modules['pandas'] = None\n"
              "from wsgi_service import load_model\n"
              f"print(load_model({str(model_dir)!r}).predict([[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]]).tolist())")
    served = subprocess.run([sys.executable, "-c", script], cwd=REPO_ROOT, capture_output=True, text=True)
    assert served.returncode == 0, served.stderr
    assert served.stdout == "[0, 2]\n"


def test_pandas_is_the_dataframe_extra_which_the_tests_install():
    """setup.cfg keeps pandas out of every install but the one the refusal tells users to make."""
    setup = configparser.ConfigParser(interpolation=None)
    setup.read(REPO_ROOT / "setup.cfg")
    extras = setup["options.extras_require"]
    assert not any(line.startswith("pandas") for line in _lines(setup["options"]["install_requires"]))
    assert _lines(extras[DATAFRAME_EXTRA])[0].startswith("pandas")
    name = setup["metadata"]["name"]
    assert f"{name}[{DATAFRAME_EXTRA}]" in _lines(extras["test"])
    assert f"'{name}[{DATAFRAME_EXTRA}]'" in INSTALL_DATAFRAME


def _lines(value: str) -> list[str]:
    return value.strip().splitlines()


def _edit_manifest(model_dir: Path, change) -> None:
    path = model_dir / MANIFEST_FILENAME
    manifest = json.loads(path.read_text())
    change(manifest)
    path.write_text(json.dumps(manifest))

