"""Load a model directory only after proving it is the one training wrote.

A joblib file is a pickle, and unpickling runs code: the bytes are hashed
and compared with the manifest before anything is unpickled, the very bytes
that were hashed are the ones loaded, and they are unpickled admitting only
an allow-list of globals (``unpickling``). Every refusal is a
``StartupError`` with one line that says what to do.

A model whose manifest says it takes a DataFrame is refused before its file
is read where pandas is not installed (an optional dependency), and the
manifest's word for it is checked against the estimator, as its features and
classes are: the Docker build installs pandas on that word alone.
"""

import ctypes
import gc
import json
import logging
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np
import sklearn
from sklearn.pipeline import Pipeline

from contract.model_directory import (
    CLASSIFICATION, DATAFRAME_INPUT, IDENTITY_KEYS, INPUT_KEY, INPUTS, MANIFEST_FILENAME, MODEL_FILENAME,
    REQUIRED_MANIFEST_KEYS, TASKS, input_of, sha256_hex,
)
from wsgi_service.errors import StartupError
from wsgi_service.model.frames import as_frame, encoded_words, require_pandas, takes_frame
from wsgi_service.model.forest import CompiledForest, compile_forest, single_threaded_answers
from wsgi_service.model.unpickling import UnsafePickle, load_estimator
from wsgi_service.operations.settings import ENV_ALLOW_SKLEARN_MISMATCH, ENV_COMPILE_FOREST

log = logging.getLogger(__name__)


# Which path evaluates the model, as /model reports it.
COMPILED, SCIKIT_LEARN = "compiled forest", "scikit-learn"
_FLOAT32_MAX = float(np.finfo(np.float32).max)


@dataclass(frozen=True)
class LoadedModel:
    """A verified model, the manifest that vouches for it, and what evaluates it.

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

    @property
    def is_classifier(self) -> bool:
        return self.manifest.get("task", CLASSIFICATION) == CLASSIFICATION

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

    def predict_proba(self, rows) -> np.ndarray:
        """A classifier's per-class probabilities (columns in ``labels`` order) for ``rows``:
        a 2-D array, or a list of rows in feature order (a categorical feature's words as words)."""
        if not self.is_classifier:
            raise TypeError(f"{self.manifest['name']} is a regressor: it predicts values, not probabilities")
        return self.evaluate(self.matrix(rows, checked=True))

    def predict(self, rows) -> np.ndarray:
        """Each row's label (a classifier: the most probable class, first of equals) or value (a regressor)."""
        outputs = self.evaluate(self.matrix(rows, checked=True))
        if self.is_classifier:
            return self.labels.take(outputs.argmax(axis=1))
        return outputs[:, 0]

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


def read_model_directory(model_dir: Path, *, allow_sklearn_version_mismatch: bool = False,
                         compile_estimator: bool = True) -> LoadedModel:
    """The model in ``model_dir``, verified (hash, scikit-learn version, estimator against manifest)
    and compiled when it can be; a ``StartupError`` saying what to do otherwise."""
    model_dir = Path(model_dir)
    manifest = _read_manifest(model_dir)
    model_path = model_dir / manifest.get("model_file", MODEL_FILENAME)
    if input_of(manifest) == DATAFRAME_INPUT:
        require_pandas(str(model_dir))
    try:
        model_bytes = model_path.read_bytes()
    except OSError as error:
        raise StartupError(f"cannot read {model_path}: {error.strerror}") from None

    actual = sha256_hex(model_bytes)
    if actual != manifest["sha256"]:
        raise StartupError(f"{model_path} has SHA-256 {actual[:16]}…, the manifest says "
                           f"{str(manifest['sha256'])[:16]}…: refusing to unpickle a file that is not the one trained")

    recorded = manifest["versions"].get("scikit-learn")
    try:
        estimator, pickled_with = load_estimator(model_bytes, str(model_path))
    except UnsafePickle as refused:
        raise StartupError(f"refusing {model_path}: {refused}") from None
    except Exception as error:  # any failure to unpickle is one startup refusal
        if recorded != sklearn.__version__ and not allow_sklearn_version_mismatch:
            raise StartupError(_other_release(model_path, "model", recorded)) from None
        raise StartupError(f"{model_path} could not be loaded: {type(error).__name__}: {error}") from None
    del model_bytes
    if pickled_with != recorded:
        raise StartupError(f"{model_path} was pickled by scikit-learn {pickled_with}, "
                           f"the manifest says {recorded}: re-import it")
    check_release(estimator, pickled_with, model_path, allow_sklearn_version_mismatch)

    _check_estimator_matches_manifest(estimator, manifest, model_path)
    labels = estimator.classes_ if hasattr(estimator, "predict_proba") and hasattr(estimator, "classes_") else None
    frame = takes_frame(estimator)
    transformers, final = _split_pipeline(estimator)
    compiled, how = compile_forest(final) if compile_estimator else (None, f"{ENV_COMPILE_FOREST}=0")
    if pickled_with != sklearn.__version__:
        how += f"; pickled by scikit-learn {pickled_with}"
    if compiled is not None:
        if transformers is not None:
            how += "; the pipeline's transformers run in scikit-learn"
        log.info("%s: %s", model_path, how)
        # The compiled forest holds the trees now: the estimator's copy of them is let go,
        # and the memory it held goes back to the system before gunicorn forks its workers.
        del estimator, final
        _return_freed_memory()
        return LoadedModel(manifest, labels, compiled=compiled, serving={"path": COMPILED, "detail": how},
                           transformers=transformers, takes_frame=frame)
    # Each worker is one process per core: single_threaded_answers sets n_jobs=1 where there is one.
    single_threaded = hasattr(estimator, "n_jobs")
    log.warning("%s: served by scikit-learn%s: %s", model_path, ", single-threaded" if single_threaded else "", how)
    return LoadedModel(manifest, labels, estimator=estimator, serving={"path": SCIKIT_LEARN, "detail": how},
                       takes_frame=frame)


def check_release(estimator: object, pickled_with: str, model_path: Path, allow_other: bool) -> None:
    """Refuse a model pickled by another scikit-learn release unless it is a forest (its trees are
    read as data, ``legacy_trees``) or ``allow_other``: any other estimator's methods are the
    installed release's, which may compute something else with the pickled attributes."""
    if pickled_with != sklearn.__version__ and not allow_other and not CompiledForest.supports(estimator):
        raise StartupError(_other_release(model_path, type(estimator).__name__, pickled_with))


def _other_release(model_path: Path, what: str, pickled_with: str) -> str:
    return (f"{model_path} holds a {what} pickled by scikit-learn {pickled_with} but {sklearn.__version__} "
            f"is installed (only forests are read across releases): re-save it with {sklearn.__version__}, "
            f"or set {ENV_ALLOW_SKLEARN_MISMATCH}=1 to serve it anyway")


def _split_pipeline(estimator: object) -> tuple[object | None, object]:
    """A scikit-learn ``Pipeline``'s transformers (a pipeline of all but its last step) and its
    last step; ``(None, estimator)`` for anything else."""
    if isinstance(estimator, Pipeline) and len(estimator.steps) > 1:
        return estimator[:-1], estimator.steps[-1][1]
    return None, estimator


def _return_freed_memory() -> None:
    """Hand the heap's free pages back to the system (glibc's ``malloc_trim``; elsewhere nothing).

    Unpickling a forest allocates its trees twice over (the file's arrays,
    then scikit-learn's own copies), and glibc keeps what is freed for
    reuse: without this the master, and every worker forked from it, would
    carry hundreds of MiB that nothing uses.
    """
    gc.collect()
    try:
        ctypes.CDLL(None).malloc_trim(0)
    except (OSError, AttributeError):
        pass  # not glibc


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


def _check_input_matches_manifest(estimator: object, manifest: dict, model_path: Path) -> None:
    """The manifest's ``input`` is what decides whether pandas is installed (the Docker build):
    it must say what the estimator takes."""
    said = input_of(manifest)
    if said not in INPUTS:
        raise StartupError(f"{model_path}: the manifest's {INPUT_KEY} {said!r} is not one of {', '.join(INPUTS)}")
    marked = f'"{INPUT_KEY}": "{DATAFRAME_INPUT}"'
    if takes_frame(estimator) and said != DATAFRAME_INPUT:
        raise StartupError(f"{model_path} takes a pandas DataFrame, but its manifest does not say so ({marked}): "
                           f"re-import it with `python -m training import`")
    if said == DATAFRAME_INPUT and not takes_frame(estimator):
        raise StartupError(f"{model_path} takes an array, but its manifest says {marked}")


def _check_frame_matches_manifest(estimator: object, manifest: dict, model_path: Path) -> None:
    """A model that takes a DataFrame is handed the manifest's names and words: they must be its own."""
    names = [feature["name"] for feature in manifest["features"]]
    if list(estimator.feature_names_in_) != names:
        raise StartupError(f"{model_path} takes columns {', '.join(map(str, estimator.feature_names_in_))}; "
                           f"the manifest lists {', '.join(names)}")
    listed = {feature["name"]: feature.get("categories") for feature in manifest["features"]}
    for name, words in encoded_words(estimator).items():
        if listed[name] != words:
            raise StartupError(f"{model_path} encodes {name} as {words}; the manifest lists {listed[name]}")


def _check_estimator_matches_manifest(estimator: object, manifest: dict, model_path: Path) -> None:
    task = manifest.get("task", CLASSIFICATION)
    if task not in TASKS:
        raise StartupError(f"{model_path}: the manifest's task {task!r} is not one of {', '.join(TASKS)}")
    is_classifier = hasattr(estimator, "predict_proba") and hasattr(estimator, "classes_")
    if (task == CLASSIFICATION) != is_classifier:
        raise StartupError(f"{model_path} holds a {type(estimator).__name__}; the manifest says the task is {task}")
    if getattr(estimator, "n_outputs_", 1) != 1:
        raise StartupError(f"{model_path} predicts {estimator.n_outputs_} outputs; the service serves one")
    if not hasattr(estimator, "n_features_in_"):
        raise StartupError(f"{model_path} holds an unfitted {type(estimator).__name__}")
    if estimator.n_features_in_ != len(manifest["features"]):
        raise StartupError(f"{model_path} expects {estimator.n_features_in_} features, "
                           f"the manifest lists {len(manifest['features'])}")
    _check_input_matches_manifest(estimator, manifest, model_path)
    if takes_frame(estimator):
        _check_frame_matches_manifest(estimator, manifest, model_path)
    if not is_classifier:
        return
    if "classes" not in manifest:
        raise StartupError(f"{model_path}: the manifest of a classifier lists no classes")
    labels = [cls["label"] for cls in manifest["classes"]]
    if estimator.classes_.tolist() != labels:
        raise StartupError(f"{model_path} predicts classes {estimator.classes_.tolist()}, "
                           f"the manifest lists {labels}")
