"""An unpickled estimator checked against the manifest that vouches for it, before anything serves it.

The manifest is what the contract is generated from, and what the Docker
build reads (its ``input`` decides whether pandas is installed): the task,
features, column names, words and classes it lists must be the estimator's
own, or the service would enforce one model's contract in front of another.
Each refusal is a ``StartupError`` in one line.
"""

from pathlib import Path

from contract.model_directory import CLASSIFICATION, DATAFRAME_INPUT, INPUT_KEY, INPUTS, TASKS, input_of
from wsgi_service.errors import StartupError
from wsgi_service.model.frames import encoded_words, takes_frame


def classifies(estimator: object) -> bool:
    """Whether ``estimator`` is a fitted classifier: it has probabilities, and classes to name their columns."""
    return hasattr(estimator, "predict_proba") and hasattr(estimator, "classes_")


def check_estimator_matches_manifest(estimator: object, manifest: dict, model_path: Path) -> None:
    """Refuse an estimator that is not what its manifest says: task, one output, fitted, its
    features (and their names and words, for one that takes a DataFrame), its classes."""
    task = manifest.get("task", CLASSIFICATION)
    if task not in TASKS:
        raise StartupError(f"{model_path}: the manifest's task {task!r} is not one of {', '.join(TASKS)}")
    if (task == CLASSIFICATION) != classifies(estimator):
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
    if not classifies(estimator):
        return
    if "classes" not in manifest:
        raise StartupError(f"{model_path}: the manifest of a classifier lists no classes")
    labels = [cls["label"] for cls in manifest["classes"]]
    if estimator.classes_.tolist() != labels:
        raise StartupError(f"{model_path} predicts classes {estimator.classes_.tolist()}, "
                           f"the manifest lists {labels}")


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
