"""Train a random forest and write it as a verifiable model directory.

A model directory holds ``model.joblib`` (the pickled estimator),
``manifest.json`` (its identity, SHA-256, library versions, features, classes
or target, hyperparameters and held-out metrics) and ``openapi.json`` (the
contract the service enforces for it, generated from the manifest). The
service trusts nothing else about a model.

The service imports only ``training.artifacts`` (the file names): the fitting
code in ``training.train`` pulls in scikit-learn's metrics and model
selection, which a serving process has no use for.
"""
