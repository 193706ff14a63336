"""Build the service: the two-level app factory servers point at, and the in-process model API.

``create_app(settings)`` loads and verifies the model and the contract that
``settings`` name and returns the WSGI app; ``create_app_from_env()`` reads
the settings from the environment, once, and is what gunicorn points at.
``load_model(model_dir)`` is the same verified model without HTTP, for
scoring a file, a DataFrame or a partition in process.
"""

import json
from dataclasses import replace
from pathlib import Path

from wsgi_service.edge.app import Service
from wsgi_service.enforcement.agreement import check_contract_fits_model
from wsgi_service.errors import StartupError
from wsgi_service.model.loading import LoadedModel, read_model_directory
from wsgi_service.operations.settings import Settings


def create_app(settings: Settings | None = None) -> Service:
    """Load and verify the model and the contract named by ``settings``; return the WSGI app.

    Fails with ``StartupError`` (one line) when anything is missing, tampered
    with, or inconsistent: never later, during a request.
    """
    settings = settings or Settings()
    model = _read_model(settings)
    return Service(model, _read_contract(settings), settings)


def create_app_from_env() -> Service:
    """What servers point at: ``create_app`` configured from the environment, read once."""
    return create_app(Settings.from_env())


def load_model(model_dir: str | Path | None = None, settings: Settings | None = None) -> LoadedModel:
    """The verified model the service would serve from ``model_dir`` (or ``settings.model_dir``),
    with the same refusals: ``model.predict(rows)``, ``model.predict_proba(rows)``.

        model = load_model("models/iris")
        model.predict([[5.1, 3.5, 1.4, 0.2]])   # array([0])
    """
    settings = settings or Settings()
    if model_dir is not None:
        settings = replace(settings, model_dir=Path(model_dir))
    model = _read_model(settings)
    check_contract_fits_model(_read_contract(settings), model)
    return model


def _read_model(settings: Settings) -> LoadedModel:
    return read_model_directory(settings.model_dir,
                                allow_sklearn_version_mismatch=settings.allow_sklearn_version_mismatch,
                                compile_estimator=settings.compile_forest)


def _read_contract(settings: Settings) -> dict:
    try:
        return json.loads(settings.contract_file.read_bytes())
    except (OSError, ValueError) as error:
        raise StartupError(f"no readable contract at {settings.contract_file} ({error}): training writes it "
                           f"beside the model; retrain with `python -m training --out {settings.model_dir}`") from None
