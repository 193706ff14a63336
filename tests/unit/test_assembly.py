"""Assembly apart from routing: the factory hands the edge its collaborators, and the edge answers
exactly the contract's operations, each with the handler its table names."""

import copy

import numpy as np
import pytest
from werkzeug.test import Client

from contract import operations
from contract.generate import load_template
from tests.support.assembly import ready_objects
from tests.support.problems import assert_problem
from wsgi_service import StartupError, assemble, create_app
from wsgi_service.edge.app import Service
from wsgi_service.edge.bodies import BodyReader
from wsgi_service.edge.docs import docs_page_for
from wsgi_service.edge.endpoints import Endpoints
from wsgi_service.edge.prepared import prepare_replies
from wsgi_service.errors import ContentTooLarge, refusal_reasons
from wsgi_service.operations.draining import DrainState
from wsgi_service.operations.metrics import ServiceMetrics
from wsgi_service.serving.prediction import Answer


def operation_ids(document: dict) -> set[str]:
    return {operation["operationId"] for _, _, operation in operations(document)}


def test_create_app_takes_a_model_directory_as_load_model_does(model_dir):
    assert create_app(str(model_dir)).contract == create_app(model_dir).contract


def test_every_operation_the_template_defines_has_a_handler(app):
    assert set(app.handlers) == operation_ids(load_template()) == operation_ids(app.contract)


def test_an_operation_without_a_handler_stops_the_start_in_one_line(model_dir):
    model, contract, settings = ready_objects(model_dir)
    extra = copy.deepcopy(contract)
    extra["paths"]["/explain"] = {"post": {**contract["paths"]["/predict"]["post"], "operationId": "explain"}}
    with pytest.raises(StartupError, match=r"no handler for \['explain'\], no operation for none") as refused:
        assemble(model, extra, settings)
    assert "\n" not in str(refused.value)


def test_a_handler_without_an_operation_stops_the_start_in_one_line(model_dir):
    model, contract, settings = ready_objects(model_dir)
    del contract["paths"]["/metrics"]
    with pytest.raises(StartupError, match=r"no handler for none, no operation for \['metrics'\]"):
        assemble(model, contract, settings)


class FixedPredictor:
    """A stand-in for the serving layer: answers every body with two setosas, or refuses a batch."""

    def answer(self, body: object) -> Answer:
        if body == "too many":
            raise ContentTooLarge("The batch has too many rows.", limit=1)
        return Answer([0, 0], 2, np.array([0, 0]))


def test_the_edge_renders_what_the_serving_layer_answers(model_dir):
    """The edge with a fake predictor: its answer encoded with the model header and counted, its
    refusal rendered as a problem; no forest is walked."""
    model, contract, settings = ready_objects(model_dir)
    served = assemble(model, contract, settings).contract
    drain, bodies = DrainState(), BodyReader(settings.max_body_bytes)
    metrics = ServiceMetrics(served, model.identity, model.class_names, refusal_reasons(), model.feature_names,
                             model.ranged_features)
    endpoints = Endpoints(replies=prepare_replies(served, model), predictor=FixedPredictor(), open_inference=None,
                          docs=docs_page_for(served), bodies=bodies, metrics=metrics, drain=drain,
                          identity=model.identity)
    handlers = endpoints.table()
    without_v2 = {**served, "paths": {path: item for path, item in served["paths"].items()
                                      if not path.startswith("/v2")}}
    client = Client(Service(without_v2, handlers, bodies=bodies, metrics=metrics, drain=drain))
    answered = client.post("/predict", json={"anything": "at all"})
    assert answered.status_code == 200 and answered.get_json() == [0, 0]
    assert answered.headers["X-Model"].startswith("iris/")
    refused = client.post("/predict", json="too many")
    assert assert_problem(refused.status_code, refused.mimetype, refused.get_json(), 413)["limit"] == 1
    counted = client.get("/metrics").get_data(as_text=True)
    assert "forest_predicted_rows_total 2.0" in counted
    assert 'forest_predictions_total{class_name="setosa"} 2.0' in counted
