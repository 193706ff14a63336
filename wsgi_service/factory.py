"""Build the app: the two-level factory servers and embedders call.

``create_app(settings)`` loads and verifies the model and the contract that
``settings`` name and returns the WSGI app; ``create_app_from_env()`` reads
the settings from the environment, once, and is what gunicorn points at.
"""

import json

from wsgi_service.edge.app import Service
from wsgi_service.errors import StartupError
from wsgi_service.model.loading import load_model
from wsgi_service.operations.settings import Settings


def create_app(settings: Settings | None = None) -> Service:
    """Load and verify the model and the contract named by ``settings``; return the WSGI app.

    Fails with ``StartupError`` (one line) when anything is missing, tampered
    with, or inconsistent: never later, during a request.
    """
    settings = settings or Settings()
    model = load_model(settings.model_dir,
                       allow_sklearn_version_mismatch=settings.allow_sklearn_version_mismatch,
                       compile_estimator=settings.compile_forest)
    try:
        contract_bytes = settings.contract_file.read_bytes()
        contract = json.loads(contract_bytes)
    except (OSError, ValueError) as error:
        raise StartupError(f"no readable contract at {settings.contract_file} ({error}): training writes it "
                           f"beside the model; retrain with `python -m training --out {settings.model_dir}`") from None
    return Service(model, contract, contract_bytes, settings)


def create_app_from_env() -> Service:
    """What servers point at: ``create_app`` configured from the environment, read once."""
    return create_app(Settings.from_env())
