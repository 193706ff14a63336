"""Build the service: the two-level app factory servers point at, and the in-process model API.

``create_app(model_dir)`` loads and verifies the model and the contract in
``model_dir`` (or those ``settings`` name) and returns the WSGI app;
``create_app_from_env()`` reads the settings from the environment, once, and
is what gunicorn points at. ``assemble(model, contract, settings)`` is the
pure level below both: it builds every collaborator from ready objects and
hands them to the edge. ``load_model(model_dir)`` is the same verified model
without HTTP, for scoring a file, a DataFrame or a partition in process.
"""

import json
import logging
from dataclasses import replace
from pathlib import Path

from contract.api_keys import locked
from contract.limits import Limits, with_limits
from wsgi_service.edge.app import Service
from wsgi_service.edge.bodies import BodyReader
from wsgi_service.edge.docs import docs_page_for
from wsgi_service.edge.endpoints import Endpoints
from wsgi_service.edge.prepared import prepare_replies
from wsgi_service.enforcement.agreement import check_contract_fits_model
from wsgi_service.enforcement.validation import RequestValidator
from wsgi_service.errors import StartupError, refusal_reasons
from wsgi_service.model.loading import LoadedModel, read_model_directory
from wsgi_service.operations.draining import STATE, DrainState
from wsgi_service.operations.metrics import ServiceMetrics
from wsgi_service.operations.settings import Settings
from wsgi_service.serving.open_inference import OpenInference
from wsgi_service.serving.prediction import Predictor

log = logging.getLogger("wsgi_service")


def create_app(model_dir: str | Path | None = None, settings: Settings | None = None) -> Service:
    """Load and verify the model and the contract in ``model_dir`` (default: ``settings.model_dir``);
    return the WSGI app.

        app = create_app("models/iris")

    Fails with ``StartupError`` (one line) when anything is missing, tampered
    with, or inconsistent: never later, during a request.
    """
    settings = _settings(model_dir, settings)
    return assemble(_read_model(settings), _read_contract(settings), settings)


def create_app_from_env() -> Service:
    """What servers point at: ``create_app`` configured from the environment, read once."""
    return create_app(settings=Settings.from_env())


def assemble(model: LoadedModel, contract: dict, settings: Settings, drain: DrainState = STATE) -> Service:
    """The service of ``model`` under ``contract`` (as training wrote it), configured by ``settings``.

    ``drain`` is what gunicorn's master sets on SIGTERM (``operations.draining``).
    """
    check_contract_fits_model(contract, model)
    # The contract served, and validated against, states this server's limits; with keys,
    # it says they are required wherever it does not waive them (the health checks).
    contract = with_limits(contract, Limits(settings.max_batch_rows, settings.max_body_bytes))
    if settings.api_keys is not None:
        contract = locked(contract)
        log.info("API keys on: every operation but the health checks needs one of %d key(s) (fingerprints %s)",
                 len(settings.api_keys), ", ".join(settings.api_keys.fingerprints))
    predictor = Predictor(model, RequestValidator(contract), settings.max_batch_rows)
    # The Open Inference Protocol (V2), when the contract has it (a model over numbers only).
    open_inference = (OpenInference(predictor, contract)
                      if "V2ModelMetadata" in contract["components"]["schemas"] else None)
    metrics = ServiceMetrics(contract, model.identity, model.class_names, refusal_reasons(),
                             model.feature_names, model.ranged_features)
    bodies = BodyReader(settings.max_body_bytes)
    endpoints = Endpoints(replies=prepare_replies(contract, model), predictor=predictor,
                          open_inference=open_inference, docs=docs_page_for(contract), bodies=bodies,
                          metrics=metrics, drain=drain, identity=model.identity)
    return Service(contract, endpoints.table(), bodies=bodies, metrics=metrics, drain=drain,
                   keys=settings.api_keys)


def load_model(model_dir: str | Path | None = None, settings: Settings | None = None) -> LoadedModel:
    """The verified model the service would serve from ``model_dir`` (or ``settings.model_dir``),
    with the same refusals: ``model.predict(rows)``, and a classifier's ``model.predict_proba(rows)``
    (a ``LoadedClassifier``; a regressor has none, as scikit-learn's have none).

        model = load_model("models/iris")
        model.predict([[5.1, 3.5, 1.4, 0.2]])   # array([0])
    """
    settings = _settings(model_dir, settings)
    model = _read_model(settings)
    check_contract_fits_model(_read_contract(settings), model)
    return model


def _settings(model_dir: str | Path | None, settings: Settings | None) -> Settings:
    settings = settings or Settings()
    return settings if model_dir is None else replace(settings, model_dir=Path(model_dir))


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
