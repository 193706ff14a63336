"""The factories: ``create_app`` and ``load_model`` refuse, with one line, what they cannot serve,
and ``load_model`` answers in process exactly as scikit-learn does."""

import json
import logging

import joblib
import numpy as np
import pytest
from sklearn.datasets import load_iris
from werkzeug.test import Client

from contract.model_directory import CONTRACT_FILENAME, MODEL_FILENAME, REGRESSION
from training.train import train_forest
from wsgi_service import Settings, StartupError, create_app, load_model


def test_model_without_its_contract_is_refused(model_copy):
    (model_copy / CONTRACT_FILENAME).unlink()
    with pytest.raises(StartupError, match="no readable contract at .*openapi.json.*retrain"):
        create_app(settings=Settings(model_dir=model_copy))


# --- load_model: the verified model in process ---

def reference(model_dir):
    """scikit-learn's own estimator from the file, at n_jobs=1: what the answers must equal bit for bit."""
    estimator = joblib.load(model_dir / MODEL_FILENAME)
    estimator.n_jobs = 1
    return estimator


def test_load_model_answers_as_scikit_learn_does(model_dir):
    model = load_model(model_dir)
    rows = np.resize(load_iris().data, (300, 4))
    estimator = reference(model_dir)
    np.testing.assert_array_equal(model.predict_proba(rows), estimator.predict_proba(rows))
    np.testing.assert_array_equal(model.predict(rows), estimator.predict(rows))
    np.testing.assert_array_equal(model.predict(rows.tolist()), estimator.predict(rows))
    assert model.serving["path"] == "compiled forest"


def test_load_model_serves_a_regressor_and_words_for_categorical_features(tmp_path):
    rng = np.random.default_rng(0)
    words = ["dark", "light", "medium"]
    codes = rng.integers(0, 3, 200)
    features = np.column_stack([codes, rng.normal(size=200)])
    target = features[:, 1] * 3 + codes
    train_forest(tmp_path, ["roast", "acidity"], features, target, task=REGRESSION, target_name="score",
                 dataset="test", name="coffee", n_estimators=10, categories={"roast": words},
                 progress=lambda line: None)
    model = load_model(tmp_path)
    as_words = [[words[int(code)], value] for code, value in features[:20].tolist()]
    np.testing.assert_array_equal(model.predict(as_words), reference(tmp_path).predict(features[:20]))
    assert not hasattr(model, "predict_proba")  # as scikit-learn's regressors


@pytest.mark.parametrize("rows, message", [
    ([[5.1, 3.5, 1.4]], "2-D array of 4 features"),
    ([5.1, 3.5, 1.4, 0.2], "2-D array of 4 features"),
    ([[5.1, 3.5, 1.4, float("inf")]], "finite number within float32"),
    ([[5.1, 3.5, 1.4, 1e39]], "finite number within float32"),
    ([[5.1, "wide", 1.4, 0.2]], "must be numbers"),
], ids=["short-row", "one-dimensional", "infinite", "beyond-float32", "word"])
def test_load_model_refuses_rows_the_contract_would(model_dir, rows, message):
    with pytest.raises(ValueError, match=message):
        load_model(model_dir).predict(rows)


def test_load_model_refuses_what_the_service_refuses(model_copy):
    contract = json.loads((model_copy / CONTRACT_FILENAME).read_text())
    contract["components"]["schemas"]["Row"]["minItems"] = 5
    (model_copy / CONTRACT_FILENAME).write_text(json.dumps(contract))
    with pytest.raises(StartupError, match="contract and model disagree at /components/schemas/Row/minItems"):
        load_model(model_copy)
    (model_copy / MODEL_FILENAME).write_bytes(b"not a pickle")
    with pytest.raises(StartupError, match="refusing to unpickle"):
        load_model(model_copy)


def test_a_forest_left_to_scikit_learn_says_so_in_a_warning_and_on_model(model_dir, caplog):
    with caplog.at_level(logging.WARNING, logger="wsgi_service"):
        app = create_app(settings=Settings(model_dir=model_dir, compile_forest=False))
    assert any("served by scikit-learn, single-threaded: COMPILE_FOREST=0" in record.getMessage()
               for record in caplog.records if record.levelno == logging.WARNING)
    served = Client(app).get("/model").get_json()["serving"]
    assert served == {"path": "scikit-learn", "detail": "COMPILE_FOREST=0"}
