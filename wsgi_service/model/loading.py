"""Load a model directory only after proving it is the one training wrote.

A joblib file is a pickle, and unpickling runs code: the bytes are hashed
and compared with the manifest before anything is unpickled, and the very
bytes that were hashed are the ones loaded. Every refusal is a
``StartupError`` with one line that says what to do.
"""

import io
import json
import logging
from dataclasses import dataclass
from pathlib import Path

import joblib
import numpy as np
import sklearn

from contract.model_directory import (
    CLASSIFICATION, IDENTITY_KEYS, MANIFEST_FILENAME, MODEL_FILENAME, REQUIRED_MANIFEST_KEYS, TASKS, sha256_hex,
)
from wsgi_service.errors import StartupError
from wsgi_service.model.forest import CompiledForest, compile_forest
from wsgi_service.operations.settings import ENV_ALLOW_SKLEARN_MISMATCH

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LoadedModel:
    """A verified estimator with the manifest that vouches for it."""

    manifest: dict
    estimator: object
    compiled: CompiledForest | None = None

    @property
    def identity(self) -> dict:
        return {key: self.manifest[key] for key in IDENTITY_KEYS}

    @property
    def is_classifier(self) -> bool:
        return self.manifest.get("task", CLASSIFICATION) == CLASSIFICATION

    @property
    def feature_names(self) -> list[str]:
        return [feature["name"] for feature in self.manifest["features"]]

    @property
    def category_codes(self) -> dict[int, dict[str, int]]:
        """Per categorical feature (by position): each word's index, the number the forest saw."""
        return {position: {word: code for code, word in enumerate(feature["categories"])}
                for position, feature in enumerate(self.manifest["features"]) if "categories" in feature}

    @property
    def class_names(self) -> list[str]:
        return [cls["name"] for cls in self.manifest.get("classes", ())]

    def evaluate(self, rows: np.ndarray) -> np.ndarray:
        """A classifier's per-class probabilities (columns in
        ``estimator.classes_`` order), or a regressor's predictions as one column.

        From the compiled forest when there is one (bitwise the same numbers,
        without scikit-learn's per-call overhead), else from scikit-learn.
        ``rows`` passed the contract, so every value is finite and fits
        float32: scikit-learn's own finiteness check is skipped as redundant
        (it sums the whole batch, and legitimate values near float32's limits
        overflow that sum into inf - inf and a RuntimeWarning).
        """
        if self.compiled is not None:
            return self.compiled.evaluate(rows)
        with sklearn.config_context(assume_finite=True):
            if self.is_classifier:
                return self.estimator.predict_proba(rows)
            return self.estimator.predict(rows).reshape(len(rows), 1)


def load_model(model_dir: Path, *, allow_sklearn_version_mismatch: bool = False,
               compile_estimator: bool = True) -> LoadedModel:
    model_dir = Path(model_dir)
    manifest = _read_manifest(model_dir)
    model_path = model_dir / manifest.get("model_file", MODEL_FILENAME)
    try:
        model_bytes = model_path.read_bytes()
    except OSError as error:
        raise StartupError(f"cannot read {model_path}: {error.strerror}") from None

    actual = sha256_hex(model_bytes)
    if actual != manifest["sha256"]:
        raise StartupError(f"{model_path} has SHA-256 {actual[:16]}…, the manifest says "
                           f"{str(manifest['sha256'])[:16]}…: refusing to unpickle a file that is not the one trained")

    trained_with = manifest["versions"].get("scikit-learn")
    if trained_with != sklearn.__version__ and not allow_sklearn_version_mismatch:
        raise StartupError(f"{model_path} was trained with scikit-learn {trained_with} but "
                           f"{sklearn.__version__} is installed: retrain it, or set "
                           f"{ENV_ALLOW_SKLEARN_MISMATCH}=1 to serve it anyway")

    try:
        estimator = joblib.load(io.BytesIO(model_bytes))
    except Exception as error:  # any failure to unpickle is one startup refusal
        raise StartupError(f"{model_path} could not be loaded: {type(error).__name__}: {error}") from None

    _check_estimator_matches_manifest(LoadedModel(manifest, estimator), model_path)
    compiled = None
    if compile_estimator:
        compiled, how = compile_forest(estimator)
        log.info("%s: %s", model_path, how if compiled else f"served by scikit-learn: {how}")
    return LoadedModel(manifest, estimator, compiled)


def _read_manifest(model_dir: Path) -> dict:
    path = model_dir / MANIFEST_FILENAME
    if not path.is_file():
        raise StartupError(f"no model at {model_dir} ({MANIFEST_FILENAME} missing): "
                           f"train one with `python -m training --out {model_dir}`")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise StartupError(f"{path} is not readable JSON: {error}") from None
    missing = [key for key in REQUIRED_MANIFEST_KEYS if not isinstance(manifest, dict) or key not in manifest]
    if missing:
        raise StartupError(f"{path} lacks {', '.join(missing)}")
    return manifest


def _check_estimator_matches_manifest(model: LoadedModel, model_path: Path) -> None:
    estimator, task = model.estimator, model.manifest.get("task", CLASSIFICATION)
    if task not in TASKS:
        raise StartupError(f"{model_path}: the manifest's task {task!r} is not one of {', '.join(TASKS)}")
    is_classifier = hasattr(estimator, "predict_proba") and hasattr(estimator, "classes_")
    if model.is_classifier != is_classifier:
        raise StartupError(f"{model_path} holds a {type(estimator).__name__}; the manifest says the task is {task}")
    if getattr(estimator, "n_outputs_", 1) != 1:
        raise StartupError(f"{model_path} predicts {estimator.n_outputs_} outputs; the service serves one")
    if not hasattr(estimator, "n_features_in_"):
        raise StartupError(f"{model_path} holds an unfitted {type(estimator).__name__}")
    if estimator.n_features_in_ != len(model.feature_names):
        raise StartupError(f"{model_path} expects {estimator.n_features_in_} features, "
                           f"the manifest lists {len(model.feature_names)}")
    if not is_classifier:
        return
    if "classes" not in model.manifest:
        raise StartupError(f"{model_path}: the manifest of a classifier lists no classes")
    labels = [cls["label"] for cls in model.manifest["classes"]]
    if estimator.classes_.tolist() != labels:
        raise StartupError(f"{model_path} predicts classes {estimator.classes_.tolist()}, "
                           f"the manifest lists {labels}")
