"""Fit the default iris forest reproducibly and write its model directory."""

import io
import json
import platform
from datetime import datetime, timezone
from pathlib import Path

import joblib
import numpy as np
import sklearn
from sklearn.datasets import load_iris
from sklearn.ensemble import RandomForestClassifier
from sklearn.model_selection import train_test_split

from training.artifacts import MANIFEST_FILENAME, MODEL_FILENAME, sha256_hex

DEFAULT_MODEL_DIR = Path("models/iris")
DEFAULT_SEED = 42
DEFAULT_N_ESTIMATORS = 100
TEST_FRACTION = 0.25
# Identifier-friendly names: they become JSON keys in the rich request form.
IRIS_FEATURE_NAMES = ("sepal_length", "sepal_width", "petal_length", "petal_width")


def train_iris(
    out_dir: Path = DEFAULT_MODEL_DIR,
    *,
    seed: int = DEFAULT_SEED,
    n_estimators: int = DEFAULT_N_ESTIMATORS,
    name: str = "iris",
    version: str = "1.0.0",
) -> dict:
    """Train on scikit-learn's bundled iris data; return the manifest written.

    The same seed gives a byte-identical ``model.joblib``: the split, the
    bootstrap samples and the feature draws all come from ``seed``.
    """
    iris = load_iris()
    features, target = iris.data.astype(np.float64), iris.target
    x_train, x_test, y_train, y_test = train_test_split(
        features, target, test_size=TEST_FRACTION, random_state=seed, stratify=target
    )
    forest = RandomForestClassifier(n_estimators=n_estimators, random_state=seed)
    forest.fit(x_train, y_train)
    accuracy = float((forest.predict(x_test) == y_test).mean())

    buffer = io.BytesIO()
    joblib.dump(forest, buffer)
    model_bytes = buffer.getvalue()

    manifest = {
        "name": name,
        "version": version,
        "estimator": f"{type(forest).__module__}.{type(forest).__qualname__}",
        "model_file": MODEL_FILENAME,
        "sha256": sha256_hex(model_bytes),
        "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "versions": {
            "python": platform.python_version(),
            "scikit-learn": sklearn.__version__,
            "numpy": np.__version__,
            "joblib": joblib.__version__,
        },
        "features": [
            {"name": feature, "min": float(column.min()), "max": float(column.max())}
            for feature, column in zip(IRIS_FEATURE_NAMES, x_train.T)
        ],
        "classes": [
            {"label": int(label), "name": str(iris.target_names[label])}
            for label in forest.classes_
        ],
        "hyperparameters": forest.get_params(),
        "metrics": {
            "test_accuracy": accuracy,
            "train_rows": int(len(x_train)),
            "test_rows": int(len(x_test)),
        },
        "training": {
            "dataset": "sklearn.datasets.load_iris",
            "seed": seed,
            "test_fraction": TEST_FRACTION,
        },
    }

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / MODEL_FILENAME).write_bytes(model_bytes)
    (out_dir / MANIFEST_FILENAME).write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest
