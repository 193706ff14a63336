"""The service refuses to start with a contract that disagrees with its model, naming the first difference."""

import json
import re

import pytest

from contract import load_contract
from wsgi_service import Settings, StartupError, create_app


def _row_of_five(schemas):
    schemas["Row"]["minItems"] = schemas["Row"]["maxItems"] = 5


def _renamed_class(schemas):
    schemas["ClassName"]["enum"][0] = "setosa-ish"


def _regressor_outcome(schemas):
    schemas.pop("Label")
    schemas["Prediction"] = {"type": "object", "properties": {"value": {"type": "number"}}}


def _v2_other_width(schemas):
    schemas["V2ModelMetadata"]["const"]["inputs"][0]["shape"] = [-1, 5]


@pytest.mark.parametrize("edit, message", [
    (_row_of_five, "at /components/schemas/Row/minItems: contract 5, model 4"),
    (_renamed_class, 'at /components/schemas/ClassName/enum: contract ["setosa-ish", '),
    (_regressor_outcome, "at /components/schemas/Label: contract nothing, model {"),
    (_v2_other_width, 'at /components/schemas/V2ModelMetadata/const/inputs: contract [{"name": "input-0"'),
], ids=["row-length", "class-name", "regression-contract", "v2-metadata"])
def test_contract_that_disagrees_with_model_is_refused(model_dir, tmp_path, edit, message):
    contract = load_contract()
    edit(contract["components"]["schemas"])
    path = tmp_path / "openapi.json"
    path.write_text(json.dumps(contract))
    with pytest.raises(StartupError, match=f"contract and model disagree {re.escape(message)}"):
        create_app(settings=Settings(model_dir=model_dir, contract_path=path))


def test_contract_bounds_beyond_float32_are_refused(model_dir, tmp_path):
    contract = load_contract()
    contract["components"]["schemas"]["FeatureValue"].pop("maximum")
    path = tmp_path / "openapi.json"
    path.write_text(json.dumps(contract))
    with pytest.raises(StartupError, match="float32 cannot hold"):
        create_app(settings=Settings(model_dir=model_dir, contract_path=path))
