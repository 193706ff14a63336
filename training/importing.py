"""``python -m training import MODEL_FILE``: package a model fitted elsewhere as a model directory.

The file is read as the service reads it, through the allow-list unpickler
(``wsgi_service.model.unpickling``): a pickle that would run code is refused
here, before anything is written, not only later at start. It is kept byte
for byte (its SHA-256 goes in the manifest), so the directory serves exactly
the file the user made. The manifest records what the pickle says: the
estimator, the scikit-learn version that pickled it, the features (from
``feature_names_in_``, ``--features``, or a sample CSV's header, else
``x0``, ``x1``, ...), classes, and, when a sample is given, the features'
ranges and (with its target column) metrics on it. The contract is generated
as for a trained model, its examples answered by the model. A model that
takes a pandas DataFrame is refused where pandas is not installed (the
``dataframe`` extra), before anything is written, and its manifest says it
takes one.
"""

import threading
from pathlib import Path

import numpy as np

from contract.model_directory import CLASSIFICATION, REGRESSION
from training.table import Table, read_table
from training.train import TrainingError, write_model_directory
from wsgi_service.errors import StartupError
from wsgi_service.model.frames import as_frame, encoded_words, require_pandas, takes_frame
from wsgi_service.model.loading import check_release
from wsgi_service.model.manifest_checks import classifies
from wsgi_service.model.unpickling import UnsafePickle, load_estimator

# A file that takes longer than this to read says so.
QUIET_SECONDS = 2.0


def import_model(model_file: Path, out_dir: Path, *, name: str, version: str = "1.0.0",
                 features: list[str] | None = None, sample: Path | None = None, target: str | None = None,
                 class_names: dict[str, str] | None = None, allow_other_release: bool = False,
                 progress=print) -> dict:
    """Write ``out_dir`` for the fitted model in ``model_file``; return the manifest.

    Raises ``TrainingError`` (one line) for a file that cannot be served as it is, as the
    service would refuse it at start (``allow_other_release``: a model other than a forest
    pickled by another scikit-learn release, as ``ALLOW_SKLEARN_VERSION_MISMATCH=1`` lets it).
    """
    model_file = Path(model_file)
    try:
        data = model_file.read_bytes()
    except OSError as error:
        raise TrainingError(f"cannot read {model_file}: {error.strerror}") from None
    estimator, pickled_with = _load(data, model_file, progress)
    try:
        check_release(estimator, pickled_with, model_file, allow_other_release)
        if takes_frame(estimator):
            require_pandas(str(model_file))
    except StartupError as refused:
        raise TrainingError(str(refused)) from None
    task = _task_of(estimator, model_file)
    words = encoded_words(estimator)
    table = read_table(sample, target, categorical=tuple(words)) if sample is not None else None
    names = _feature_names(estimator, features, table.feature_names if table else None, model_file)
    rows = _coded_as_the_model_codes(table, words, model_file) if table is not None else None
    y = np.asarray(table.target, dtype=_label_dtype(estimator, task)) if table is not None and target else None
    labels = {str(label): name for label, name in (class_names or {}).items()}
    try:
        return write_model_directory(
            out_dir, estimator, names, (rows, y), (rows, y) if y is not None else None, task=task,
            target_name=target or "the target", name=name, version=version,
            class_names={label: labels.get(str(label), str(label)) for label in getattr(estimator, "classes_", [])},
            categories=words, training={"imported_from": model_file.name, **({"sample": str(sample)} if sample else {})},
            model_bytes=data, pickled_with=pickled_with,
            as_dataframe=(lambda matrix: as_frame(matrix, names, words)) if takes_frame(estimator) else None)
    except TrainingError:
        raise
    except (ValueError, TypeError) as error:  # scikit-learn refusing the rows it is given
        raise TrainingError(f"{model_file} cannot answer rows of its features: {error}") from None


def _coded_as_the_model_codes(table: Table, words: dict[str, list[str]], model_file: Path) -> np.ndarray:
    """The sample's rows, a word column's cells as the word's index among the words the model
    encodes (the table indexes the sample's own words)."""
    rows = table.features.copy()
    for position, name in enumerate(table.feature_names):
        if name not in words:
            continue
        unknown = sorted(set(table.categories[name]) - set(words[name]))
        if unknown:
            raise TrainingError(f"the sample's {name} holds {', '.join(unknown)}, which {model_file} does not "
                                f"encode (it knows {', '.join(words[name])})")
        codes = np.array([words[name].index(word) for word in table.categories[name]], dtype=np.float64)
        rows[:, position] = codes[table.features[:, position].astype(np.intp)]
    return rows


def _load(data: bytes, model_file: Path, progress) -> tuple[object, str]:
    """The estimator, through the allow-list, and the scikit-learn version that pickled it."""
    timer = threading.Timer(QUIET_SECONDS, progress, [f"reading {model_file} ({len(data) / 2**20:.0f} MiB)..."])
    timer.start()
    try:
        return load_estimator(data, str(model_file))
    except UnsafePickle as refused:
        raise TrainingError(f"refusing {model_file}: {refused}") from None
    except Exception as error:  # a broken or foreign file is one refusal
        raise TrainingError(f"{model_file} could not be loaded: {type(error).__name__}: {error}") from None
    finally:
        timer.cancel()


def _task_of(estimator: object, model_file: Path) -> str:
    if not hasattr(estimator, "predict") or not hasattr(estimator, "n_features_in_"):
        raise TrainingError(f"{model_file} holds a {type(estimator).__name__}, not a fitted scikit-learn model")
    if getattr(estimator, "n_outputs_", 1) != 1:
        raise TrainingError(f"{model_file} predicts {estimator.n_outputs_} outputs; the service serves one")
    return CLASSIFICATION if classifies(estimator) else REGRESSION


def _feature_names(estimator, given: list[str] | None, from_sample: list[str] | None, model_file: Path) -> list[str]:
    """The names the model was fitted with, else the ones given, else the sample's, else x0, x1, ..."""
    count = estimator.n_features_in_
    fitted = [str(name) for name in getattr(estimator, "feature_names_in_", [])]
    for source, names in (("--features", given), ("the sample's header", from_sample)):
        if names is not None and len(names) != count:
            raise TrainingError(f"{model_file} expects {count} features; {source} names {len(names)}")
        if names is not None and fitted and list(names) != fitted:
            raise TrainingError(f"{model_file} was fitted with features {', '.join(fitted)}; "
                                f"{source} names {', '.join(names)}")
    return fitted or list(given or from_sample or (f"x{index}" for index in range(count)))


def _label_dtype(estimator, task: str):
    """A sample's target cells read as the model's labels are typed (or as numbers, for a regressor)."""
    if task == REGRESSION:
        return np.float64
    return estimator.classes_.dtype if estimator.classes_.dtype.kind in "iuf" else object
