"""What a verified model directory becomes: the model, the manifest that vouches for it, what evaluates it.

A classifier is a ``LoadedClassifier``, which has ``predict_proba``; a
regressor is a plain ``LoadedModel``, which has none: as with scikit-learn's
estimators, ``hasattr(model, "predict_proba")`` is how a caller tells them
apart. Both take rows as a 2-D array or a list of rows in feature order (a
categorical feature's words as words) and refuse, with ``ValueError``, what
the contract would refuse over HTTP.
"""

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import sklearn

from contract.model_directory import IDENTITY_KEYS
from wsgi_service.model.forest import CompiledForest, single_threaded_answers
from wsgi_service.model.frames import as_frame

# Which path evaluates the model, as /model reports it.
COMPILED, SCIKIT_LEARN = "compiled forest", "scikit-learn"
_FLOAT32_MAX = float(np.finfo(np.float32).max)


@dataclass(frozen=True)
class LoadedModel:
    """A verified model (a regressor, or the base of ``LoadedClassifier``), the manifest that
    vouches for it, and what evaluates it.

    The compiled forest evaluates it when the estimator compiles (its trees
    are then held once, as node records, and ``estimator`` is None);
    otherwise the estimator itself does (with ``n_jobs=1`` where it has one). ``serving`` says
    which, and why.
    """

    manifest: dict
    # A classifier's classes (``classes_``), in the order of its probability columns; None for a regressor.
    labels: np.ndarray | None
    compiled: CompiledForest | None = None
    estimator: object | None = None
    serving: dict = field(default_factory=dict)
    # A pipeline's transformers, which feed the compiled forest (its last step): scikit-learn runs them.
    transformers: object | None = None
    # The model selects named columns of a DataFrame (``frames``): rows are handed over as one.
    takes_frame: bool = False

    @property
    def identity(self) -> dict:
        return {key: self.manifest[key] for key in IDENTITY_KEYS}

    @cached_property
    def feature_names(self) -> list[str]:
        return [feature["name"] for feature in self.manifest["features"]]

    @cached_property
    def ranges(self) -> tuple[np.ndarray, np.ndarray]:
        """Per feature, the lowest and highest value seen in training (the manifest's min and
        max); -inf and inf for a feature with none (a categorical one, an import without a sample)."""
        features = self.manifest["features"]  # a categorical feature records words, never min and max
        return (np.array([feature.get("min", -np.inf) for feature in features], dtype=np.float64),
                np.array([feature.get("max", np.inf) for feature in features], dtype=np.float64))

    @cached_property
    def ranged_features(self) -> list[str]:
        """The features that have a training range to fall outside of."""
        low, high = self.ranges
        return [name for name, bottom, top in zip(self.feature_names, low, high) if np.isfinite(bottom + top)]

    @cached_property
    def category_words(self) -> dict[str, list[str]]:
        """Per categorical feature (by name): its words, in the order of their indexes."""
        return {feature["name"]: feature["categories"] for feature in self.manifest["features"]
                if "categories" in feature}

    @cached_property
    def category_codes(self) -> dict[int, dict[str, int]]:
        """Per categorical feature (by position): each word's index, the number the forest saw."""
        return {position: {word: code for code, word in enumerate(feature["categories"])}
                for position, feature in enumerate(self.manifest["features"]) if "categories" in feature}

    @cached_property
    def class_names(self) -> list[str]:
        return [cls["name"] for cls in self.manifest.get("classes", ())]

    def evaluate(self, rows: np.ndarray) -> np.ndarray:
        """A classifier's per-class probabilities (columns in ``labels`` order), or a
        regressor's predictions as one column, for rows every value of which is
        finite and fits float32 (the contract's promise)."""
        if self.takes_frame:
            rows = as_frame(rows, self.feature_names, self.category_words)
        if self.compiled is None:
            return single_threaded_answers(self.estimator, rows)
        if self.transformers is not None:
            with sklearn.config_context(assume_finite=True):  # as in single_threaded_answers
                rows = self.transformers.transform(rows)
        return self.compiled.evaluate(rows)

    def predict(self, rows) -> np.ndarray:
        """Each row's predicted value."""
        return self.evaluate(self.matrix(rows, checked=True))[:, 0]

    def matrix(self, rows, checked: bool = False) -> np.ndarray:
        """``rows`` as the float64 matrix the forest evaluates, categorical words as their indexes.

        ``checked``: refuse (``ValueError``) what the contract would have
        refused over HTTP: a shape other than rows of the model's features, a
        word not among a feature's, a value that is not finite or beyond float32.
        """
        codes = self.category_codes
        if codes and not isinstance(rows, np.ndarray):
            rows = [[codes[position][cell] if position in codes and cell in codes[position] else cell
                     for position, cell in enumerate(row)] for row in rows]
        try:
            matrix = np.asarray(rows, dtype=np.float64)
        except (TypeError, ValueError) as error:
            raise ValueError(f"rows must be numbers (or a categorical feature's words): {error}") from None
        if not checked:
            return matrix
        width = len(self.manifest["features"])
        if matrix.ndim != 2 or matrix.shape[1] != width:
            raise ValueError(f"rows must be a 2-D array of {width} features ({', '.join(self.feature_names)}), "
                             f"got shape {matrix.shape}")
        if not np.all(np.abs(matrix) <= _FLOAT32_MAX):
            raise ValueError("every value must be a finite number within float32's range")
        return matrix


@dataclass(frozen=True)
class LoadedClassifier(LoadedModel):
    """A verified classifier: ``LoadedModel`` with its classes' probabilities."""

    def predict_proba(self, rows) -> np.ndarray:
        """Per-class probabilities (columns in ``labels`` order) for ``rows``."""
        return self.evaluate(self.matrix(rows, checked=True))

    def predict(self, rows) -> np.ndarray:
        """Each row's label: the most probable class, the first of equals."""
        return self.labels.take(self.predict_proba(rows).argmax(axis=1))
