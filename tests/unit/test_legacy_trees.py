"""Forests pickled by every scikit-learn release from 1.1 on answer, here, what that release
answered when it pickled them, bit for bit: through the installed scikit-learn and compiled.

The fixtures (``tests/fixtures/legacy_forests``) were fitted with ``n_jobs=-1`` and pickled by
each release in a venv of its own, which also saved its answers at ``n_jobs=1``.
"""

import json

import joblib
import numpy as np
import pytest
import sklearn

from tests.fixtures.legacy_forests.pickle_forests import ANSWERS_FILENAME, MODELS, VERSIONS_FILENAME, probe_rows
from tests.fixtures.legacy_forests.regenerate import HERE as FIXTURES, RELEASES
from wsgi_service.model.forest import compile_forest, single_threaded_answers
from wsgi_service.model.legacy_trees import PickledTree
from wsgi_service.model.unpickling import load_estimator

OLDEST = next(iter(RELEASES))
CASES = [(release, model) for release in RELEASES for model in MODELS]


def pickled_by(release: str, model: str) -> tuple[object, str]:
    path = FIXTURES / release / f"{model}.joblib"
    return load_estimator(path.read_bytes(), str(path))


def answered_by(release: str, model: str) -> np.ndarray:
    answers = np.load(FIXTURES / release / ANSWERS_FILENAME)[model]
    return answers if answers.ndim == 2 else answers.reshape(-1, 1)


@pytest.mark.parametrize("release", RELEASES)
def test_every_release_has_its_fixtures(release):
    versions = json.loads((FIXTURES / release / VERSIONS_FILENAME).read_text())
    assert versions["scikit-learn"] == release
    assert sorted(np.load(FIXTURES / release / ANSWERS_FILENAME).files) == sorted(MODELS)


@pytest.mark.parametrize("release, model", CASES)
def test_the_pickling_release_is_read_from_the_pickle(release, model):
    estimator, pickled_with = pickled_by(release, model)
    assert pickled_with == release
    assert estimator.n_jobs == -1  # as fitted: the service evaluates single-threaded on its own


@pytest.mark.parametrize("release, model", CASES)
def test_scikit_learn_answers_what_the_pickling_release_answered(release, model):
    estimator, _ = pickled_by(release, model)
    np.testing.assert_array_equal(single_threaded_answers(estimator, probe_rows(model)), answered_by(release, model))


@pytest.mark.parametrize("release, model", CASES)
def test_the_compiled_forest_answers_what_the_pickling_release_answered(release, model):
    forest, how = compile_forest(pickled_by(release, model)[0])
    assert forest is not None, how
    np.testing.assert_array_equal(forest.evaluate(probe_rows(model)), answered_by(release, model))


def test_no_tree_is_built_by_scikit_learn_from_the_pickle(monkeypatch):
    """The pickle's tree state reaches a PickledTree, never scikit-learn's Tree.__setstate__."""
    states = []
    keep = PickledTree.__setstate__

    def recorded(tree, state):
        states.append(state)
        keep(tree, state)

    monkeypatch.setattr(PickledTree, "__setstate__", recorded)
    pickled_by(OLDEST, "iris_random_forest")
    assert len(states) == MODELS["iris_random_forest"][2]["n_estimators"]
    assert "missing_go_to_left" not in states[0]["nodes"].dtype.names  # the layout before 1.3


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.InconsistentVersionWarning")
def test_the_installed_release_refuses_the_oldest_pickles_on_its_own():
    """Why the trees are read as data: scikit-learn itself cannot open a tree pickled before 1.3."""
    with pytest.raises(ValueError, match="incompatible dtype"):
        joblib.load(FIXTURES / OLDEST / "iris_random_forest.joblib")


def test_the_installed_release_is_the_newest_fixture():
    assert sklearn.__version__ == list(RELEASES)[-1], (
        f"scikit-learn {sklearn.__version__} is installed: add it to RELEASES in regenerate.py and run it")
