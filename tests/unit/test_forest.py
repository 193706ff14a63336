"""The compiled forest gives scikit-learn's numbers exactly, for any forest and any row."""

import numpy as np
import pytest
import sklearn
from sklearn.base import is_classifier
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.ensemble import (
    ExtraTreesClassifier, ExtraTreesRegressor, GradientBoostingClassifier, RandomForestClassifier,
    RandomForestRegressor,
)
from sklearn.tree import DecisionTreeClassifier

from tests.support.profiles import examples
from wsgi_service.model.forest import CompiledForest, compile_forest, probe_rows
from wsgi_service.model.kernel import LEAF

FLOAT32_MAX = float(np.finfo(np.float32).max)


def draw_features(draw, rng: np.random.Generator, n_samples: int) -> np.ndarray:
    n_features = draw(st.integers(1, 8))
    scale = 10.0 ** draw(st.integers(-3, 6))
    X = rng.normal(size=(n_samples, n_features)) * scale
    if draw(st.booleans()):  # few distinct values: many ties and repeated thresholds
        X = np.round(X / scale) * scale
    return X


def every_evaluation(compiled: CompiledForest, rows: np.ndarray) -> tuple[np.ndarray, ...]:
    """The batch as the service evaluates it, and its rows evaluated one at a time."""
    return compiled.evaluate(rows), np.concatenate([compiled.evaluate(row[np.newaxis]) for row in rows])


def splits_of(compiled: CompiledForest) -> np.ndarray:
    return np.flatnonzero(compiled.nodes["left"] != LEAF)


@st.composite
def fitted_forests(draw):
    n_classes = draw(st.sampled_from([2, 3, 12]) | st.integers(2, 12))
    n_samples = draw(st.integers(max(2 * n_classes, 10), 120))
    seed = draw(st.integers(0, 2**16))
    rng = np.random.default_rng(seed)
    X = draw_features(draw, rng, n_samples)
    y = np.arange(n_samples) % n_classes
    rng.shuffle(y)
    kind = draw(st.sampled_from([RandomForestClassifier, ExtraTreesClassifier]))
    bootstrap = draw(st.booleans())
    estimator = kind(
        n_estimators=draw(st.integers(1, 25)),
        max_depth=draw(st.none() | st.integers(1, 12)),
        max_features=draw(st.sampled_from(["sqrt", "log2", None, 0.5, 1])),
        bootstrap=bootstrap,
        class_weight=draw(st.sampled_from([None, "balanced"] + (["balanced_subsample"] if bootstrap else []))),
        min_samples_leaf=draw(st.integers(1, 6)),
        min_samples_split=draw(st.integers(2, 8)),
        random_state=seed,
    )
    return estimator.fit(X, y), X


@st.composite
def rows_for(draw, forest_and_data):
    """Rows inside, at and beyond the training range, at thresholds and at their float32 neighbours."""
    estimator, X = forest_and_data
    compiled = CompiledForest(estimator)
    thresholds = compiled.nodes["threshold"][splits_of(compiled)]
    span = float(np.abs(X).max()) or 1.0
    value = st.sampled_from(list(X.ravel()))
    value |= st.floats(-span, span)
    value |= st.floats(-span * 1e3, span * 1e3) | st.sampled_from([-FLOAT32_MAX, FLOAT32_MAX, 0.0, -0.0])
    if len(thresholds):
        at = st.sampled_from(list(thresholds))
        value |= at | at.map(lambda t: float(np.nextafter(np.float32(t), np.float32(np.inf)))) \
            | at.map(lambda t: float(np.nextafter(np.float32(t), np.float32(-np.inf))))
    n_rows = draw(st.sampled_from([1, 2, 7]) | st.integers(1, 100))
    return np.array(draw(st.lists(st.lists(value, min_size=X.shape[1], max_size=X.shape[1]),
                                  min_size=n_rows, max_size=n_rows)))


@st.composite
def fitted_regressors(draw):
    seed = draw(st.integers(0, 2**16))
    rng = np.random.default_rng(seed)
    X = draw_features(draw, rng, n_samples=draw(st.integers(10, 120)))
    y = rng.normal(size=len(X)) * 10.0 ** draw(st.integers(-3, 6))
    kind = draw(st.sampled_from([RandomForestRegressor, ExtraTreesRegressor]))
    estimator = kind(
        n_estimators=draw(st.integers(1, 25)),
        max_depth=draw(st.none() | st.integers(1, 12)),
        max_features=draw(st.sampled_from(["sqrt", "log2", None, 0.5, 1.0])),
        bootstrap=draw(st.booleans()),
        min_samples_leaf=draw(st.integers(1, 6)),
        random_state=seed,
    )
    return estimator.fit(X, y), X


@settings(max_examples=examples(100))
@given(data=st.data())
def test_every_evaluation_equals_scikit_learn_exactly(data):
    """Classifiers' probabilities and labels, regressors' values: the same bits
    (stronger than the 1e-9 asked for), so ties break the same way."""
    estimator, X = data.draw(fitted_forests() | fitted_regressors())
    rows = data.draw(rows_for((estimator, X)))
    compiled = CompiledForest(estimator)
    # scikit-learn's finiteness check overflows on rows near float32's limits (the service skips it too).
    with sklearn.config_context(assume_finite=True):
        predicted = estimator.predict(rows)
        expected = estimator.predict_proba(rows) if is_classifier(estimator) else predicted.reshape(-1, 1)
    for outputs in every_evaluation(compiled, rows):
        np.testing.assert_array_equal(outputs, expected)
        if is_classifier(estimator):
            np.testing.assert_array_equal(estimator.classes_.take(outputs.argmax(axis=1)), predicted)


@settings(max_examples=examples(15))
@given(forest_and_data=fitted_forests())
def test_every_forest_compiles_and_is_proven_on_its_probe_rows(forest_and_data):
    estimator, _ = forest_and_data
    compiled, reason = compile_forest(estimator)
    assert compiled is not None, reason
    rows = probe_rows(compiled)
    np.testing.assert_array_equal(compiled.evaluate(rows), estimator.predict_proba(rows))


@settings(max_examples=examples(15))
@given(forest_and_data=fitted_forests())
def test_probe_rows_cross_every_split_by_the_smallest_float32_step(forest_and_data):
    """For every split, a probe row reaches it and goes left with the largest
    float32 at or below its threshold, and one goes right with the next float32:
    a compiled threshold one float32 value off changes where one of them lands."""
    estimator, _ = forest_and_data
    compiled = CompiledForest(estimator)
    splits = splits_of(compiled)
    rows = probe_rows(compiled, max_rows=2 * len(splits))  # every split, none sampled away
    passes, _ = estimator.decision_path(rows)  # node columns in the same order as the compiled records
    passes = passes.toarray().astype(bool)
    for node in splits:
        split = compiled.nodes[node]
        feature, threshold = split["feature"], split["threshold"]
        went_left = rows[passes[:, split["left"]], feature]
        went_right = rows[passes[:, split["right"]], feature]
        largest_left = np.float32(threshold) if np.float32(threshold) <= threshold \
            else np.nextafter(np.float32(threshold), np.float32(-np.inf))
        assert went_left.max() == largest_left
        assert went_right.min() == np.nextafter(largest_left, np.float32(np.inf))


@pytest.mark.parametrize("estimator", [
    GradientBoostingClassifier(n_estimators=5),
    DecisionTreeClassifier(),
    RandomForestClassifier(n_estimators=3),  # fitted below with two outputs
], ids=["gradient-boosting", "single-tree", "multi-output-forest"])
def test_what_cannot_be_compiled_is_left_to_scikit_learn(estimator):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 3))
    y = rng.integers(0, 2, size=(60, 2)) if isinstance(estimator, RandomForestClassifier) else rng.integers(0, 2, 60)
    compiled, reason = compile_forest(estimator.fit(X, y))
    assert compiled is None and "not a single-output random forest" in reason


@pytest.mark.parametrize("kind", [RandomForestClassifier, RandomForestRegressor])
def test_trees_deeper_than_thirty_levels_equal_scikit_learn(kind):
    """Targets (or sample weights) that double with x make every split peel off one row:
    trees as deep as the rows are many. (Extra trees draw thresholds at random and stay
    shallow here; the property above covers them.)"""
    X = np.arange(80.0).reshape(-1, 1)
    doubling = 2.0 ** np.arange(80)
    estimator = kind(n_estimators=5, bootstrap=False, max_features=None, random_state=0)
    if kind is RandomForestClassifier:
        estimator.fit(X, np.arange(80) % 3, sample_weight=doubling)
    else:
        estimator.fit(X, doubling)
    assert min(tree.tree_.max_depth for tree in estimator.estimators_) >= 30
    compiled, reason = compile_forest(estimator)
    assert compiled is not None, reason
    rows = np.concatenate([X, X + 0.5, probe_rows(compiled)])
    expected = estimator.predict_proba(rows) if kind is RandomForestClassifier else estimator.predict(rows)[:, None]
    for outputs in every_evaluation(compiled, rows):
        np.testing.assert_array_equal(outputs, expected)


@pytest.mark.parametrize("kind", [RandomForestClassifier, RandomForestRegressor])
def test_a_forest_fitted_with_all_cores_is_compiled_and_equals_scikit_learn_at_one(kind):
    """At n_jobs=-1 scikit-learn adds the trees as its threads finish; the kernel adds them in
    order, as scikit-learn does at n_jobs=1, which is what the proof compares with."""
    rng = np.random.default_rng(3)
    X = rng.normal(size=(400, 6))
    y = (X[:, 0] > 0).astype(int) + (X[:, 1] > 0) if kind is RandomForestClassifier else X @ rng.normal(size=6)
    estimator = kind(n_estimators=60, max_depth=6, min_samples_leaf=3, random_state=0, n_jobs=-1).fit(X, y)
    compiled, reason = compile_forest(estimator)
    assert compiled is not None, reason
    assert estimator.n_jobs == -1, "the proof must leave the estimator as it found it"
    estimator.n_jobs = 1
    expected = estimator.predict_proba(X) if kind is RandomForestClassifier else estimator.predict(X).reshape(-1, 1)
    np.testing.assert_array_equal(compiled.evaluate(X), expected)
