"""Model loading refuses anything but the file training wrote, with one clear line; what it loads
is a classifier (with ``predict_proba``) or a regressor (without)."""

import json

import joblib
import numpy as np
import pytest
import sklearn
from sklearn.datasets import load_iris

from contract.model_directory import MANIFEST_FILENAME, MODEL_FILENAME, REGRESSION, sha256_hex
from training.train import train_forest
from wsgi_service import StartupError
from wsgi_service.model.loading import LoadedClassifier, read_model_directory


def edit_manifest(model_dir, change):
    path = model_dir / MANIFEST_FILENAME
    manifest = json.loads(path.read_text())
    change(manifest)
    path.write_text(json.dumps(manifest))


def test_verified_model_loads(model_dir):
    model = read_model_directory(model_dir)
    assert model.feature_names == ["sepal_length", "sepal_width", "petal_length", "petal_width"]
    assert model.identity["sha256"] == json.loads((model_dir / MANIFEST_FILENAME).read_text())["sha256"]


def test_missing_directory_is_refused(tmp_path):
    with pytest.raises(StartupError, match="no model at .*manifest.json missing.*python -m training"):
        read_model_directory(tmp_path / "absent")


def test_missing_model_file_is_refused(model_copy):
    (model_copy / MODEL_FILENAME).unlink()
    with pytest.raises(StartupError, match="cannot read .*model.joblib"):
        read_model_directory(model_copy)


def test_truncated_model_file_is_refused_before_unpickling(model_copy):
    path = model_copy / MODEL_FILENAME
    path.write_bytes(path.read_bytes()[:1000])
    with pytest.raises(StartupError, match="SHA-256 .* refusing to unpickle"):
        read_model_directory(model_copy)


def test_tampered_model_file_is_refused(model_copy):
    path = model_copy / MODEL_FILENAME
    data = bytearray(path.read_bytes())
    data[-10] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(StartupError, match="refusing to unpickle"):
        read_model_directory(model_copy)


def test_unloadable_file_with_matching_hash_is_one_line(model_copy):
    """A manifest rewritten to vouch for garbage still cannot crash the process."""
    (model_copy / MODEL_FILENAME).write_bytes(b"not a pickle")
    edit_manifest(model_copy, lambda m: m.update(sha256=sha256_hex(b"not a pickle")))
    with pytest.raises(StartupError, match="could not be loaded"):
        read_model_directory(model_copy)


def test_a_manifest_naming_another_release_than_the_pickle_is_refused(model_copy):
    """The release that pickled the file is read from the file; a manifest that says otherwise
    was not written for it, whatever the setting."""
    edit_manifest(model_copy, lambda m: m["versions"].update({"scikit-learn": "0.24.2"}))
    for allowed in (False, True):
        with pytest.raises(StartupError, match=f"pickled by scikit-learn {sklearn.__version__}, "
                                               "the manifest says 0.24.2: re-import it"):
            read_model_directory(model_copy, allow_sklearn_version_mismatch=allowed)


def test_manifest_that_disagrees_with_estimator_is_refused(model_copy):
    edit_manifest(model_copy, lambda m: m["features"].pop())
    with pytest.raises(StartupError, match="expects 4 features, the manifest lists 3"):
        read_model_directory(model_copy)


# --- a classifier has probabilities, a regressor none (as scikit-learn's estimators) ---

@pytest.fixture(scope="module")
def regressor_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("regressor")
    features = np.random.default_rng(0).normal(size=(120, 3))
    train_forest(out, ["a", "b", "c"], features, features @ [1.0, -2.0, 0.5], task=REGRESSION, target_name="y",
                 dataset="test", name="linear", n_estimators=5, progress=lambda line: None)
    return out


@pytest.mark.parametrize("compiled", [True, False], ids=["compiled", "scikit-learn"])
def test_a_regressor_has_no_predict_proba(regressor_dir, compiled):
    model = read_model_directory(regressor_dir, compile_estimator=compiled)
    assert not hasattr(model, "predict_proba") and not isinstance(model, LoadedClassifier)
    assert model.labels is None
    rows = np.random.default_rng(1).normal(size=(20, 3))
    np.testing.assert_array_equal(model.predict(rows), joblib.load(regressor_dir / MODEL_FILENAME).predict(rows))


@pytest.mark.parametrize("compiled", [True, False], ids=["compiled", "scikit-learn"])
def test_a_classifier_predicts_probabilities_and_the_most_probable_label(model_dir, compiled):
    model = read_model_directory(model_dir, compile_estimator=compiled)
    assert isinstance(model, LoadedClassifier) and hasattr(model, "predict_proba")
    rows = load_iris().data[::7]
    reference = joblib.load(model_dir / MODEL_FILENAME)
    np.testing.assert_array_equal(model.predict_proba(rows), reference.predict_proba(rows))
    np.testing.assert_array_equal(model.predict(rows), model.labels.take(model.predict_proba(rows).argmax(axis=1)))
