"""Refuse to start when the contract and the model describe different things.

A contract that promises four features to a model that needs five would
turn valid requests into server errors; a bound the forest's float32 cannot
hold would do the same for large numbers. Both are caught here, once.

The model's side of the comparison is what ``contract.generate`` writes for
this model's manifest: every schema that depends on the model (rows, labels,
class names, predictions, the Open Inference Protocol's tensors) must be
exactly the generated one.
"""

import json
import math

import numpy as np

from contract import pointer_to
from contract.generate import generate_contract, load_template, model_schema_names
from wsgi_service.model.loading import LoadedModel
from wsgi_service.errors import StartupError

# The forest compares features in float32: every value the contract admits must fit.
FOREST_DTYPE_MAX = float(np.finfo(np.float32).max)


def check_contract_fits_model(contract: dict, model: LoadedModel) -> None:
    schemas = contract["components"]["schemas"]
    template = load_template()  # read once: the generated schemas and their names both come from it
    generated = generate_contract(model.manifest, [], [], template)["components"]["schemas"]
    for name in model_schema_names(template):
        difference = _first_difference(schemas.get(name), generated.get(name), ("components", "schemas", name))
        if difference:
            where, in_contract, for_model = difference
            raise StartupError(f"contract and model disagree at {pointer_to(*where)}: contract "
                               f"{_short(in_contract)}, model {_short(for_model)}; "
                               f"serve the contract training wrote for this model")
    value = schemas["FeatureValue"]
    bounds = (value.get("minimum", -math.inf), value.get("maximum", math.inf))
    if not all(-FOREST_DTYPE_MAX <= bound <= FOREST_DTYPE_MAX for bound in bounds):
        raise StartupError(f"contract's FeatureValue bounds {bounds} admit numbers the forest's "
                           f"float32 cannot hold (±{FOREST_DTYPE_MAX!r})")


def _first_difference(in_contract: object, for_model: object, where: tuple) -> tuple | None:
    """``(path, contract's value, model's value)`` where the two first differ, or None."""
    if isinstance(in_contract, dict) and isinstance(for_model, dict):
        for key in [*for_model, *(key for key in in_contract if key not in for_model)]:
            difference = _first_difference(in_contract.get(key, _ABSENT), for_model.get(key, _ABSENT),
                                           (*where, key))
            if difference:
                return difference
        return None
    if in_contract == for_model and type(in_contract) is type(for_model):
        return None
    return where, in_contract, for_model


_ABSENT = object()


def _short(value: object, limit: int = 120) -> str:
    text = "nothing" if value is _ABSENT or value is None else json.dumps(value)
    return text if len(text) <= limit else text[:limit] + "…"
