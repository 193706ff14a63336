"""A batch walked on several threads gives the bits of one thread, and n_threads is checked."""

import joblib
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.base import is_classifier
from sklearn.ensemble import RandomForestRegressor

from contract.model_directory import MODEL_FILENAME
from tests.support.profiles import examples
from tests.unit.test_forest import fitted_forests, fitted_regressors, rows_for
from wsgi_service.model import threads
from wsgi_service.model.forest import CompiledForest, single_threaded_answers
from wsgi_service.model.loading import read_model_directory

THREAD_COUNTS = (1, 2, 3, -1)


@settings(max_examples=examples(60))
@given(data=st.data())
def test_every_thread_count_gives_the_bits_of_one_thread(data):
    """Batches that rarely divide evenly among the threads, one row a thread at least."""
    estimator, X = data.draw(fitted_forests() | fitted_regressors())
    rows = data.draw(rows_for((estimator, X)))
    compiled = CompiledForest(estimator)
    one_thread = compiled.evaluate(rows)
    np.testing.assert_array_equal(one_thread, single_threaded_answers(estimator, rows))
    for n_threads in THREAD_COUNTS:
        threads_used = threads.thread_count(n_threads)
        assert len(threads.row_runs(len(rows), threads_used, min_rows_per_thread=1)) == min(threads_used, len(rows))
        np.testing.assert_array_equal(threads.evaluate(compiled, rows, threads_used, min_rows_per_thread=1),
                                      one_thread)


@settings(max_examples=examples(100))
@given(n_rows=st.integers(0, 5000), n_threads=st.integers(1, 9), min_rows=st.integers(1, 1500))
def test_runs_cover_the_batch_in_order_with_enough_rows_each(n_rows, n_threads, min_rows):
    runs = threads.row_runs(n_rows, n_threads, min_rows)
    assert runs[0].start == 0 and runs[-1].stop == n_rows
    assert all(before.stop == after.start for before, after in zip(runs, runs[1:]))
    assert 1 <= len(runs) <= n_threads
    if len(runs) > 1:
        assert min(run.stop - run.start for run in runs) >= min_rows
        assert max(run.stop - run.start for run in runs) - min(run.stop - run.start for run in runs) <= 1


@pytest.mark.parametrize("compiled", [True, False], ids=["compiled", "scikit-learn"])
@pytest.mark.parametrize("n_threads", THREAD_COUNTS)
def test_load_model_predicts_the_same_bits_on_any_number_of_threads(model_dir, compiled, n_threads):
    """A batch large enough to be cut (and not evenly), through the in-process API."""
    model = read_model_directory(model_dir, compile_estimator=compiled)
    rows = np.random.default_rng(abs(n_threads)).uniform(0, 8, size=(2 * threads.MIN_ROWS_PER_THREAD + 1, 4))
    reference = joblib.load(model_dir / MODEL_FILENAME)
    assert is_classifier(reference)
    np.testing.assert_array_equal(model.predict_proba(rows, n_threads=n_threads), reference.predict_proba(rows))
    np.testing.assert_array_equal(model.predict(rows, n_threads=n_threads), reference.predict(rows))


def test_a_regressor_predicts_the_same_bits_on_any_number_of_threads():
    estimator, _ = fitted_regressor()
    compiled = CompiledForest(estimator)
    rows = np.random.default_rng(3).normal(size=(3 * threads.MIN_ROWS_PER_THREAD + 2, 3))
    expected = estimator.predict(rows).reshape(-1, 1)
    for n_threads in THREAD_COUNTS:
        np.testing.assert_array_equal(threads.evaluate(compiled, rows, threads.thread_count(n_threads)), expected)


def fitted_regressor():
    X = np.random.default_rng(0).normal(size=(200, 3))
    return RandomForestRegressor(n_estimators=7, random_state=0).fit(X, X @ [1.0, -2.0, 0.5]), X


@pytest.mark.parametrize("n_threads, error, message", [
    (0, ValueError, "at least 1"), (-2, ValueError, "at least 1"), (1.5, TypeError, "whole number"),
    ("2", TypeError, "whole number"), (True, TypeError, "whole number"),
])
def test_a_bad_thread_count_is_refused_with_what_is_allowed(model_dir, n_threads, error, message):
    model = read_model_directory(model_dir)
    with pytest.raises(error, match=message):
        model.predict_proba([[5.1, 3.5, 1.4, 0.2]], n_threads=n_threads)


def test_all_cores_is_the_cores_this_process_may_use():
    assert threads.thread_count(-1) == threads.usable_cores() >= 1
    assert threads.thread_count(None) == 1 and threads.thread_count(np.int64(3)) == 3
