"""The allow-list unpickler: every model the service supports loads as joblib loads it; every
pickle that calls anything else is refused, naming it, and nothing of it runs."""

import json
import subprocess
from pathlib import Path

import joblib
import numpy as np
import pytest
import sklearn
from sklearn.ensemble import (
    GradientBoostingRegressor, HistGradientBoostingClassifier, RandomForestClassifier, RandomForestRegressor,
)
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from contract.model_directory import MANIFEST_FILENAME, MODEL_FILENAME, sha256_file
from tests.support.malicious import dump, payloads, write_marker_module
from wsgi_service import StartupError
from wsgi_service.model.loading import read_model_directory
from wsgi_service.model.unpickling import UnsafePickle, load_estimator

PAYLOADS = list(payloads(Path("marker")))


@pytest.fixture
def marker(tmp_path, monkeypatch):
    """Where a payload would leave its mark; the marker module importable, as it would be."""
    monkeypatch.syspath_prepend(str(tmp_path))
    path = tmp_path / "ran"
    write_marker_module(tmp_path, path)
    return path


def supported_models() -> dict[str, object]:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(120, 4))
    words = np.array(["commercial", "premium", "specialty"])[rng.integers(0, 3, 120)]
    return {
        "forest with text labels": RandomForestClassifier(5, random_state=0).fit(X, words),
        "forest with a RandomState": RandomForestClassifier(5, random_state=np.random.RandomState(0)).fit(X, words),
        "regressor": RandomForestRegressor(5, random_state=0).fit(X, X[:, 0]),
        "pipeline": make_pipeline(StandardScaler(), RandomForestClassifier(3, random_state=0)).fit(X, words),
        "gradient boosting": GradientBoostingRegressor(n_estimators=5).fit(X, X[:, 0]),
        "histogram gradient boosting": HistGradientBoostingClassifier(max_iter=5).fit(X, words),
    }


@pytest.mark.parametrize("name", list(supported_models()))
def test_supported_models_load_as_joblib_loads_them(tmp_path, name):
    path = dump(supported_models()[name], tmp_path / "model.joblib")
    (loaded, pickled_with), reference = load_estimator(path.read_bytes(), str(path)), joblib.load(path)
    assert pickled_with == sklearn.__version__
    rows = np.random.default_rng(1).normal(size=(50, 4))
    np.testing.assert_array_equal(loaded.predict(rows), reference.predict(rows))


def test_a_compressed_file_loads_too(tmp_path):
    path = tmp_path / "model.joblib"
    joblib.dump(supported_models()["regressor"], path, compress=3)
    assert load_estimator(path.read_bytes(), str(path))[0].n_estimators == 5


@pytest.mark.parametrize("name", PAYLOADS)
def test_each_payload_is_real(tmp_path, marker, name):
    """What the refusal protects from: joblib itself runs the payload."""
    payload, _ = payloads(marker)[name]
    try:
        loaded = joblib.load(dump(payload, tmp_path / "evil.joblib"))
    except Exception:
        loaded = None  # the forest with a call inside is no forest once loaded; the call ran all the same
    if isinstance(loaded, subprocess.Popen):
        loaded.wait()
    assert marker.exists()


@pytest.mark.parametrize("name", PAYLOADS)
def test_each_payload_is_refused_naming_what_it_calls_and_nothing_runs(tmp_path, marker, name):
    payload, called = payloads(marker)[name]
    path = dump(payload, tmp_path / "evil.joblib")
    with pytest.raises(UnsafePickle) as refused:
        load_estimator(path.read_bytes(), str(path))
    assert str(refused.value) == f"the pickle calls {called}"
    assert not marker.exists()


@pytest.mark.parametrize("name", PAYLOADS)
def test_a_model_directory_holding_a_payload_is_refused_at_start(model_copy, marker, name):
    """The attacker packaged it: the manifest's SHA-256 matches, so only the allow-list stands."""
    payload, called = payloads(marker)[name]
    dump(payload, model_copy / MODEL_FILENAME)
    manifest = json.loads((model_copy / MANIFEST_FILENAME).read_text())
    manifest["sha256"] = sha256_file(model_copy / MODEL_FILENAME)
    (model_copy / MANIFEST_FILENAME).write_text(json.dumps(manifest))
    with pytest.raises(StartupError, match=f"^refusing {model_copy / MODEL_FILENAME}: the pickle calls {called}$"):
        read_model_directory(model_copy)
    assert not marker.exists()
