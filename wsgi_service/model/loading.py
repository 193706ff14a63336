"""Load a model directory only after proving it is the one training wrote.

A joblib file is a pickle, and unpickling runs code: the bytes are hashed
and compared with the manifest before anything is unpickled, the very bytes
that were hashed are the ones loaded, and they are unpickled admitting only
an allow-list of globals (``unpickling``). Every refusal is a
``StartupError`` with one line that says what to do. The estimator is then
checked against its manifest (``manifest_checks``) and compiled where it can
be; what serves it is a ``LoadedModel`` (``loaded_model``).

A model whose manifest says it takes a DataFrame is refused before its file
is read where pandas is not installed (an optional dependency), and the
manifest's word for it is checked against the estimator, as its features and
classes are: the Docker build installs pandas on that word alone.
"""

import ctypes
import gc
import json
import logging
from pathlib import Path

import sklearn
from sklearn.pipeline import Pipeline

from contract.model_directory import (
    DATAFRAME_INPUT, MANIFEST_FILENAME, MODEL_FILENAME, REQUIRED_MANIFEST_KEYS, input_of, sha256_hex,
)
from wsgi_service.errors import StartupError
from wsgi_service.model.forest import CompiledForest, compile_forest
from wsgi_service.model.frames import require_pandas, takes_frame
from wsgi_service.model.loaded_model import COMPILED, SCIKIT_LEARN, LoadedClassifier, LoadedModel
from wsgi_service.model.manifest_checks import check_estimator_matches_manifest, classifies
from wsgi_service.model.unpickling import UnsafePickle, load_estimator
from wsgi_service.operations.settings import ENV_ALLOW_SKLEARN_MISMATCH, ENV_COMPILE_FOREST

__all__ = ["LoadedClassifier", "LoadedModel", "check_release", "read_model_directory"]

log = logging.getLogger(__name__)


def read_model_directory(model_dir: Path, *, allow_sklearn_version_mismatch: bool = False,
                         compile_estimator: bool = True) -> LoadedModel:
    """The model in ``model_dir``, verified (hash, scikit-learn version, estimator against manifest)
    and compiled when it can be; a ``StartupError`` saying what to do otherwise. A classifier
    is a ``LoadedClassifier``."""
    model_dir = Path(model_dir)
    manifest = _read_manifest(model_dir)
    model_path = model_dir / manifest.get("model_file", MODEL_FILENAME)
    if input_of(manifest) == DATAFRAME_INPUT:
        require_pandas(str(model_dir))
    estimator, pickled_with = _unpickled(_verified_bytes(model_path, manifest), model_path,
                                         manifest["versions"].get("scikit-learn"), allow_sklearn_version_mismatch)
    check_estimator_matches_manifest(estimator, manifest, model_path)
    kind = LoadedClassifier if classifies(estimator) else LoadedModel
    labels = estimator.classes_ if kind is LoadedClassifier else None
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
        return kind(manifest, labels, compiled=compiled, serving={"path": COMPILED, "detail": how},
                    transformers=transformers, takes_frame=frame)
    # Each worker is one process per core: single_threaded_answers sets n_jobs=1 where there is one.
    single_threaded = hasattr(estimator, "n_jobs")
    log.warning("%s: served by scikit-learn%s: %s", model_path, ", single-threaded" if single_threaded else "", how)
    return kind(manifest, labels, estimator=estimator, serving={"path": SCIKIT_LEARN, "detail": how},
                takes_frame=frame)


def _verified_bytes(model_path: Path, manifest: dict) -> bytes:
    """The model file's bytes, once their SHA-256 is the manifest's: these very bytes are unpickled."""
    try:
        model_bytes = model_path.read_bytes()
    except OSError as error:
        raise StartupError(f"cannot read {model_path}: {error.strerror}") from None
    actual = sha256_hex(model_bytes)
    if actual != manifest["sha256"]:
        raise StartupError(f"{model_path} has SHA-256 {actual[:16]}…, the manifest says "
                           f"{str(manifest['sha256'])[:16]}…: refusing to unpickle a file that is not the one trained")
    return model_bytes


def _unpickled(model_bytes: bytes, model_path: Path, recorded: str | None,
               allow_other: bool) -> tuple[object, str]:
    """The estimator in ``model_bytes`` and the scikit-learn release that pickled it, which must be
    the one the manifest ``recorded`` and one the installed release serves (``check_release``)."""
    try:
        estimator, pickled_with = load_estimator(model_bytes, str(model_path))
    except UnsafePickle as refused:
        raise StartupError(f"refusing {model_path}: {refused}") from None
    except Exception as error:  # any failure to unpickle is one startup refusal
        if recorded != sklearn.__version__ and not allow_other:
            raise StartupError(_other_release(model_path, "model", recorded)) from None
        raise StartupError(f"{model_path} could not be loaded: {type(error).__name__}: {error}") from None
    if pickled_with != recorded:
        raise StartupError(f"{model_path} was pickled by scikit-learn {pickled_with}, "
                           f"the manifest says {recorded}: re-import it")
    check_release(estimator, pickled_with, model_path, allow_other)
    return estimator, pickled_with


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
