"""Fit a random forest reproducibly and write its model directory.

A model directory holds three files, all written here: the pickled forest,
its manifest (identity, SHA-256, library versions, features, classes or
target, held-out metrics) and its contract (the OpenAPI document the service
enforces, generated from the manifest). The same data and seed give a
byte-identical model file.
"""

import io
import json
import platform
import sys
import time
from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from pathlib import Path

import joblib
import numpy as np
import sklearn
from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor
from sklearn.metrics import accuracy_score, f1_score, mean_absolute_error, r2_score
from sklearn.model_selection import train_test_split

from contract.generate import generate_contract, write_contract
from contract.model_directory import (
    CLASSIFICATION, CONTRACT_FILENAME, DATAFRAME_INPUT, DEFAULT_MODEL_DIR, INPUT_KEY, MANIFEST_FILENAME,
    MODEL_FILENAME, REGRESSION, sha256_hex,
)

DEFAULT_SEED = 42
DEFAULT_N_ESTIMATORS = 100
TEST_FRACTION = 0.25
# Identifier-friendly names: they become JSON keys in the rich request form.
IRIS_FEATURE_NAMES = ("sepal_length", "sepal_width", "petal_length", "petal_width")
# Fits longer than this show their progress; shorter ones stay quiet.
QUIET_SECONDS = 2.0
PROGRESS_STEPS = 10
EXAMPLE_ROWS = 2


class TrainingError(ValueError):
    """The data cannot make a useful model; the message says why."""


def train_iris(out_dir: Path = DEFAULT_MODEL_DIR, *, seed: int = DEFAULT_SEED,
               n_estimators: int = DEFAULT_N_ESTIMATORS, name: str = "iris", version: str = "1.0.0") -> dict:
    """The default model: scikit-learn's bundled iris data; return the manifest written."""
    from sklearn.datasets import load_iris

    iris = load_iris()
    return train_forest(
        out_dir, list(IRIS_FEATURE_NAMES), iris.data.astype(np.float64), iris.target.tolist(),
        task=CLASSIFICATION, target_name="species", class_names=dict(enumerate(iris.target_names.tolist())),
        dataset="sklearn.datasets.load_iris", name=name, version=version, seed=seed,
        n_estimators=n_estimators)


def train_forest(out_dir: Path, feature_names: list[str], features: np.ndarray, target: Sequence, *,
                 task: str, target_name: str, dataset: str, name: str, version: str = "1.0.0",
                 seed: int = DEFAULT_SEED, n_estimators: int = DEFAULT_N_ESTIMATORS,
                 class_names: dict | None = None, categories: dict[str, list[str]] | None = None,
                 progress: Callable[[str], None] | None = None) -> dict:
    """Fit a forest on ``features`` -> ``target``, evaluate it on a held-out
    quarter, and write the model directory; return the manifest.

    A classifier's labels are ``target``'s values; ``class_names`` maps a
    label to a readable name (default: the label as text). A regressor's
    target must be numbers. ``categories`` names the categorical features and
    their words: ``features`` holds each word's index in that list.
    """
    y = _target_for(task, target)
    if len(y) < 4:
        raise TrainingError(f"{len(y)} rows are too few to train and hold out a test set: need at least 4")
    if task == CLASSIFICATION and len(set(y.tolist())) < 2:
        raise TrainingError(f"the target {target_name!r} has a single class ({y[0]!r}): "
                            f"there is nothing to tell apart")
    x_train, x_test, y_train, y_test = train_test_split(
        features, y, test_size=TEST_FRACTION, random_state=seed, stratify=_strata(task, y))

    forest_class = RandomForestClassifier if task == CLASSIFICATION else RandomForestRegressor
    forest = forest_class(n_estimators=n_estimators, random_state=seed)
    _fit_showing_progress(forest, x_train, y_train, progress or _print_progress)
    return write_model_directory(
        out_dir, forest, feature_names, (x_train, y_train), (x_test, y_test), task=task, target_name=target_name,
        name=name, version=version, class_names=class_names, categories=categories,
        training={"dataset": dataset, "seed": seed, "test_fraction": TEST_FRACTION})


def write_model_directory(out_dir: Path, estimator, feature_names: list[str],
                          train: tuple[np.ndarray | None, np.ndarray | None],
                          test: tuple[np.ndarray, np.ndarray] | None, *,
                          task: str, target_name: str, name: str, version: str = "1.0.0",
                          class_names: dict | None = None, categories: dict[str, list[str]] | None = None,
                          training: dict | None = None, model_bytes: bytes | None = None,
                          pickled_with: str | None = None,
                          as_dataframe: Callable[[np.ndarray], object] | None = None) -> dict:
    """Write the model directory of a fitted ``estimator``: its pickle, its manifest (features'
    ranges from ``train``'s rows when given, metrics on ``test`` when given) and its contract;
    return the manifest. ``model_bytes``: the pickle as it came (an imported file), else
    ``estimator`` is pickled here; ``pickled_with``: the scikit-learn version that pickled it;
    ``as_dataframe``: for an estimator that takes a pandas DataFrame, what turns rows (float64, a
    category as its index) into it; the manifest then says so (``input``), which is what has
    pandas installed where the model is served."""
    (x_train, y_train) = train
    if model_bytes is None:
        buffer = io.BytesIO()
        joblib.dump(estimator, buffer)
        model_bytes = buffer.getvalue()
    outcome, metrics = {}, {}
    if task == CLASSIFICATION:
        outcome = {"classes": [{"label": label, "name": (class_names or {}).get(label, str(label))}
                               for label in estimator.classes_.tolist()]}
    if test is not None:
        x_test, y_test = test
        predicted = estimator.predict(as_dataframe(x_test) if as_dataframe else x_test)
        if task == CLASSIFICATION:
            metrics = {"test_accuracy": float(accuracy_score(y_test, predicted)),
                       "test_macro_f1": float(f1_score(y_test, predicted, average="macro"))}
        else:
            metrics = {"test_r2": float(r2_score(y_test, predicted)),
                       "test_mae": float(mean_absolute_error(y_test, predicted))}
        held_out = x_train is not None and x_train is not x_test  # an imported model's sample is both
        metrics.update({"train_rows": int(len(x_train))} if held_out else {})
        metrics["test_rows"] = int(len(x_test))

    manifest = {
        "name": name,
        "version": version,
        "task": task,
        "estimator": f"{type(estimator).__module__}.{type(estimator).__qualname__}",
        "model_file": MODEL_FILENAME,
        "sha256": sha256_hex(model_bytes),
        "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "versions": {
            "python": platform.python_version(),
            "scikit-learn": pickled_with or sklearn.__version__,
            "numpy": np.__version__,
            "joblib": joblib.__version__,
        },
        **({INPUT_KEY: DATAFRAME_INPUT} if as_dataframe else {}),
        "features": [_describe_feature(feature, None if x_train is None else x_train[:, position], categories or {})
                     for position, feature in enumerate(feature_names)],
        "target": _describe_target(target_name, task, y_train),
        **outcome,
        "hyperparameters": estimator.get_params(deep=False),
        "metrics": metrics,
        **({"training": training} if training else {}),
    }
    examples = (_example_rows(task, *test) if test is not None else
                x_train[:EXAMPLE_ROWS] if x_train is not None else np.zeros((1, len(feature_names))))
    answer = estimator.predict_proba if task == CLASSIFICATION else estimator.predict
    outputs = answer(as_dataframe(examples) if as_dataframe else examples)

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / MODEL_FILENAME).write_bytes(model_bytes)
    # default=repr: a parameter that is no JSON value (a RandomState, a pipeline step) is recorded as it prints.
    (out_dir / MANIFEST_FILENAME).write_text(json.dumps(manifest, indent=2, default=repr) + "\n")
    example_rows = [_as_sent(row, feature_names, categories or {}) for row in examples.tolist()]
    write_contract(generate_contract(manifest, example_rows, outputs.tolist()), out_dir / CONTRACT_FILENAME)
    return manifest


def _describe_feature(name: str, column: np.ndarray | None, categories: dict[str, list[str]]) -> dict:
    """A numeric feature's observed range (its name alone without rows), or a categorical one's words."""
    if name in categories:
        return {"name": name, "categories": categories[name]}
    if column is None:
        return {"name": name}
    return {"name": name, "min": float(column.min()), "max": float(column.max())}


def _as_sent(row: list[float], feature_names: list[str], categories: dict[str, list[str]]) -> list:
    """A row as a client sends it: a categorical feature as its word, not its index."""
    return [categories[name][int(value)] if name in categories else value
            for name, value in zip(feature_names, row)]


def _target_for(task: str, target: Sequence) -> np.ndarray:
    """Labels as written (whole numbers become ints), or a regressor's numbers."""
    values = list(target)
    if task == REGRESSION:
        try:
            return np.array([float(value) for value in values])
        except ValueError as error:
            raise TrainingError(f"a regression target must be numeric: {error}") from None
    if task != CLASSIFICATION:
        raise TrainingError(f"unknown task {task!r}: use {CLASSIFICATION} or {REGRESSION}")
    if all(isinstance(value, (int, np.integer)) for value in values):
        return np.array(values, dtype=np.int64)
    texts = [str(value) for value in values]
    if all(_is_whole_number(text) for text in texts):
        return np.array([int(text) for text in texts], dtype=np.int64)
    return np.array(texts, dtype=object)


def _is_whole_number(text: str) -> bool:
    digits = text[1:] if text[:1] in "+-" else text
    return digits.isdigit() and str(int(text)) == text.lstrip("+")


def _strata(task: str, y: np.ndarray) -> np.ndarray | None:
    """Stratify a classifier's split when every class can appear on both sides."""
    if task != CLASSIFICATION:
        return None
    _, counts = np.unique(y, return_counts=True)
    test_rows = int(np.ceil(len(y) * TEST_FRACTION))
    return y if counts.min() >= 2 and test_rows >= len(counts) else None


def _describe_target(name: str, task: str, y_train: np.ndarray | None) -> dict:
    if task == REGRESSION and y_train is not None and len(y_train):
        return {"name": name, "min": float(y_train.min()), "max": float(y_train.max())}
    return {"name": name}


def _example_rows(task: str, x_test: np.ndarray, y_test: np.ndarray) -> np.ndarray:
    """A few held-out rows for the contract's examples; for a classifier,
    rows of different classes where the test set has them."""
    if task == REGRESSION:
        return x_test[:EXAMPLE_ROWS]
    firsts = sorted(np.unique(y_test.astype(str), return_index=True)[1])
    return x_test[firsts[:EXAMPLE_ROWS]]


def _fit_showing_progress(forest, x: np.ndarray, y: np.ndarray, show: Callable[[str], None]) -> None:
    """Grow the forest in steps (``warm_start``), reporting once a fit takes
    longer than ``QUIET_SECONDS``. scikit-learn draws each new tree's seed
    from the same stream either way: the forest is byte-identical to one fit."""
    total = forest.n_estimators
    sizes = [*range(max(1, total // PROGRESS_STEPS), total, max(1, total // PROGRESS_STEPS)), total]
    started = time.monotonic()
    forest.set_params(warm_start=True)
    for size in sizes:
        forest.set_params(n_estimators=size)
        forest.fit(x, y)
        elapsed = time.monotonic() - started
        if elapsed > QUIET_SECONDS:
            show(f"fitting: {size}/{total} trees, {elapsed:.1f} s" + (" - done" if size == total else ""))
    forest.set_params(warm_start=False)


def _print_progress(line: str) -> None:
    """One line per step; on a terminal the line is redrawn in place."""
    last = line.endswith("done")
    sys.stderr.write(line + ("\r" if sys.stderr.isatty() and not last else "\n"))
    sys.stderr.flush()
