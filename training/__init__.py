"""Train a random forest and write it as a verifiable model directory.

A model directory holds ``model.joblib`` (the pickled estimator) and
``manifest.json`` (its identity, SHA-256, library versions, features, classes,
hyperparameters and metrics). The service trusts nothing else about a model.
"""

from training.artifacts import MANIFEST_FILENAME, MODEL_FILENAME
from training.train import DEFAULT_MODEL_DIR, train_iris

__all__ = ["DEFAULT_MODEL_DIR", "MANIFEST_FILENAME", "MODEL_FILENAME", "train_iris"]
