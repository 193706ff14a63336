"""Refuse to start when the contract and the model describe different things.

A contract that promises four features to a model that needs five would
turn valid requests into server errors; a bound the forest's float32 cannot
hold would do the same for large numbers. Both are caught here, once.
"""

import math

import numpy as np

from wsgi_service.model import LoadedModel
from wsgi_service.settings import StartupError

# The forest compares features in float32: every value the contract admits must fit.
FOREST_DTYPE_MAX = float(np.finfo(np.float32).max)


def check_contract_fits_model(contract: dict, model: LoadedModel) -> None:
    schemas = contract["components"]["schemas"]
    features, labels = model.feature_names, [cls["label"] for cls in model.manifest["classes"]]
    mismatches = [
        ("Row length", (schemas["Row"].get("minItems"), schemas["Row"].get("maxItems")),
         (len(features), len(features))),
        ("NamedRow features", schemas["NamedRow"].get("required"), features),
        ("Label values", schemas["Label"].get("enum"), labels),
        ("ClassName values", schemas["ClassName"].get("enum"), model.class_names),
    ]
    for what, in_contract, in_model in mismatches:
        if in_contract != in_model:
            raise StartupError(f"contract and model disagree on {what}: "
                               f"contract {in_contract}, model {in_model}")
    value = schemas["FeatureValue"]
    bounds = (value.get("minimum", -math.inf), value.get("maximum", math.inf))
    if not all(-FOREST_DTYPE_MAX <= bound <= FOREST_DTYPE_MAX for bound in bounds):
        raise StartupError(f"contract's FeatureValue bounds {bounds} admit numbers the forest's "
                           f"float32 cannot hold (±{FOREST_DTYPE_MAX!r})")
