"""A forest pickled by each scikit-learn release from 1.1 on, as its user has it: imported with
``python -m training import``, served by gunicorn, certified by ``python -m contract`` against
the contract the import generated, its answers over HTTP those the release gave when it pickled
the forest, bit for bit. (Every fixture, in process, through both evaluation paths:
``tests/unit/test_legacy_trees.py``.)"""

import json

import numpy as np
import pytest
import requests

from contract.model_directory import MANIFEST_FILENAME
from tests.fixtures.legacy_forests.pickle_forests import ANSWERS_FILENAME, dataset, probe_rows
from tests.fixtures.legacy_forests.regenerate import HERE as FIXTURES, RELEASES
from tests.support.commands import certified_server, run_training

# Every release's classifier (the tutorial's case: class names as labels); the regressor of the
# oldest release and of the installed one. Each takes a server start and a certification, about
# 9 s; the unit tests compare every fixture, in process.
CASES = [(release, "iris_random_forest") for release in RELEASES] + [
    (release, "diabetes_random_forest") for release in (next(iter(RELEASES)), list(RELEASES)[-1])]


@pytest.mark.parametrize("release, model", CASES)
def test_imported_served_and_certified_with_the_answers_of_the_pickling_release(release, model, tmp_path):
    features = dataset(model)[2]
    imported = run_training("import", str(FIXTURES / release / f"{model}.joblib"), "--out", str(tmp_path),
                            "--features", ",".join(features))
    assert imported.returncode == 0, imported.stderr
    assert f"pickled by scikit-learn {release}" in imported.stdout
    assert json.loads((tmp_path / MANIFEST_FILENAME).read_text())["versions"]["scikit-learn"] == release

    rows = probe_rows(model)
    with certified_server(tmp_path) as base_url:
        served = requests.get(f"{base_url}/model", timeout=10).json()
        answers = requests.post(f"{base_url}/predict", json={"instances": rows.tolist()}, timeout=30).json()
    assert served["versions"]["scikit-learn"] == release
    assert served["serving"]["path"] == "compiled forest", served["serving"]
    expected = np.load(FIXTURES / release / ANSWERS_FILENAME)[model]
    if expected.ndim == 2:  # a classifier's probabilities, columns in the order of its classes
        classes = [cls["name"] for cls in served["classes"]]
        got = [[prediction["probabilities"][name] for name in classes] for prediction in answers["predictions"]]
    else:
        got = [prediction["value"] for prediction in answers["predictions"]]
    np.testing.assert_array_equal(np.array(got), expected)
