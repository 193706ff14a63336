"""Train a random forest and write it as a verifiable model directory.

A model directory holds ``model.joblib`` (the pickled estimator),
``manifest.json`` (its identity, SHA-256, library versions, features, classes
or target, hyperparameters and held-out metrics) and ``openapi.json`` (the
contract the service enforces for it, generated from the manifest). The
service trusts nothing else about a model.

The directory's layout is ``contract.model_directory``'s, shared with the
service and the contract generator; the service imports nothing from here.
"""
