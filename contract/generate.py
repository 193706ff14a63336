"""Write the contract of one trained model: the shared template, filled in.

Every operation (path, method, operationId, tags, security, errors) and
every shape that does not depend on the model lives in ``template.json``
beside this file, the Open Inference Protocol's (V2) included; what is the
model's in the V2 part is filled in by ``open_inference``.
What depends on the model is generated here from its manifest: the row
shapes with the model's own feature names and count, the class labels and
names (a classifier) or a numeric value (a regressor), and examples whose
answers are the model's real predictions. ``openapi.json`` in this package
is the generated contract of the default iris model, kept in step by a test.

The template marks each generated place with a ``"$comment"`` placeholder, so
a reader of the template sees where the model's parts go, in order.
"""

import copy
import json
from collections.abc import Sequence
from pathlib import Path

from contract.api_keys import document_api_keys
from contract.model_directory import CLASSIFICATION, IDENTITY_KEYS, REGRESSION
from contract.open_inference import drop_open_inference, fill_open_inference

TEMPLATE_PATH = Path(__file__).with_name("template.json")
GENERATED = "generated from the model's manifest by contract/generate.py"

_FEATURE_VALUE = {"$ref": "#/components/schemas/FeatureValue"}


def generate_contract(manifest: dict, example_rows: Sequence[Sequence[float]],
                      example_outputs: Sequence, template: dict | None = None) -> dict:
    """The OpenAPI document for the model ``manifest`` describes.

    ``example_rows`` are a few rows in feature order; ``example_outputs`` are
    the model's answers for them: per-class probabilities in the manifest's
    class order (a classifier) or predicted values (a regressor).
    """
    document = copy.deepcopy(template if template is not None else load_template())
    features = [feature["name"] for feature in manifest["features"]]
    task = manifest.get("task", CLASSIFICATION)
    target = manifest.get("target", {}).get("name", "the target")
    rows = [[value if isinstance(value, str) else float(value) for value in row] for row in example_rows]
    named_rows = [dict(zip(features, row)) for row in rows]

    if task == CLASSIFICATION:
        labels = [cls["label"] for cls in manifest["classes"]]
        names = [cls["name"] for cls in manifest["classes"]]
        outcome = _classification_schemas(labels, names)
        seed_answer, rich_predictions = _classification_examples(labels, names, example_outputs)
        what = f"{target} ({', '.join(names)})"
        summary, answers = "Predict the class of each row", (
            "answers labels, class names, per-class probabilities and the model's identity")
    elif task == REGRESSION:
        outcome = _regression_schemas(target)
        seed_answer = [float(value) for value in example_outputs]
        rich_predictions = [{"value": value} for value in seed_answer]
        what, summary, answers = target, f"Predict {target} for each row", (
            "answers the predicted value of each row and the model's identity")
    else:
        raise ValueError(f"unknown task {task!r}: expected {CLASSIFICATION} or {REGRESSION}")

    for prediction, row in zip(rich_predictions, rows):  # as the service answers these rows
        outside = _out_of_range(manifest["features"], row)
        if outside:
            prediction["out_of_range"] = outside

    schemas = document["components"]["schemas"]
    values = [_feature_value(feature) for feature in manifest["features"]]
    row = {"description": f"One row as an array, features in model order: {', '.join(features)}.",
           "type": "array"}
    if all(value is _FEATURE_VALUE for value in values):
        row["items"] = _FEATURE_VALUE
    else:  # a categorical feature takes words, so each position has its own schema
        row.update({"prefixItems": values, "items": False})
    schemas.update({
        "Row": {**row, "minItems": len(features), "maxItems": len(features)},
        "NamedRow": {
            "description": "One row as an object keyed by feature name; every feature, nothing else.",
            "type": "object", "properties": dict(zip(features, values)),
            "required": features, "additionalProperties": False,
        },
        **outcome,
    })
    ranged = [feature["name"] for feature in manifest["features"] if "min" in feature and "max" in feature]
    if ranged:
        schemas["OutOfRange"] = {
            "description": "The row's features whose value lies outside the range seen in training (the "
                           "manifest's min and max), each with its side; present only when there is one. "
                           "/metrics counts them (forest_feature_out_of_range_total).",
            "type": "object", "propertyNames": {"enum": ranged}, "minProperties": 1,
            "additionalProperties": {"type": "string", "enum": ["below", "above"]},
        }
        schemas["Prediction"]["properties"]["out_of_range"] = {"$ref": "#/components/schemas/OutOfRange"}
    if all(value is _FEATURE_VALUE for value in values):  # V2 tensors hold numbers only
        fill_open_inference(document, manifest, labels if task == CLASSIFICATION else None, rows, example_outputs)
    else:
        drop_open_inference(document)
    _drop_unfilled(schemas)

    estimator_kind = "classifier" if task == CLASSIFICATION else "regressor"
    document["info"]["summary"] = (f"Predicts {what} with the scikit-learn random forest "
                                   f"{estimator_kind} {manifest['name']!r}.")
    predict = document["paths"]["/predict"]["post"]
    predict["summary"] = summary
    predict["description"] = predict["description"].replace("{answers}", answers)
    predict["requestBody"]["content"]["application/json"]["examples"] = {
        "seed": {"summary": "Seed form: rows in feature order", "value": rows},
        "rich_arrays": {"summary": "Rich form, rows as arrays", "value": {"instances": rows}},
        "rich_named": {"summary": "Rich form, rows keyed by feature name", "value": {"instances": named_rows}},
    }
    identity = {key: manifest[key] for key in IDENTITY_KEYS}
    predict["responses"]["200"]["content"]["application/json"]["examples"] = {
        "seed": {"summary": "Answer to the seed form", "value": seed_answer},
        "rich": {"summary": "Answer to the rich form",
                 "value": {"predictions": rich_predictions, "model": identity}},
    }
    document["paths"]["/health"]["get"]["responses"]["200"]["content"]["application/json"]["examples"] = {
        "ok": {"value": {"status": "ok", "model": identity}},
    }
    if task == CLASSIFICATION:
        schemas["Manifest"]["required"].append("classes")
    else:
        del schemas["Manifest"]["properties"]["classes"]
    document_api_keys(document)
    return document


def _out_of_range(features: list[dict], row: Sequence) -> dict[str, str]:
    """The row's features outside their training range, each with its side."""
    return {feature["name"]: "below" if value < feature["min"] else "above"
            for feature, value in zip(features, row)
            if "min" in feature and "max" in feature and not feature["min"] <= value <= feature["max"]}


def _feature_value(feature: dict) -> dict:
    """A numeric feature's schema (shared), or a categorical one's: exactly its words."""
    if "categories" in feature:
        return {"description": f"{feature['name']}: one of the words it was trained with.",
                "type": "string", "enum": feature["categories"]}
    return _FEATURE_VALUE


def _classification_schemas(labels: list, names: list[str]) -> dict:
    label_type = "integer" if all(isinstance(label, int) for label in labels) else "string"
    probability = {"$ref": "#/components/schemas/Probability"}
    return {
        "Label": {"description": "A class label as the model was trained with it.",
                  "type": label_type, "enum": labels},
        "ClassName": {"type": "string", "enum": names},
        "Probability": {"type": "number", "minimum": 0, "maximum": 1},
        "Probabilities": {
            "description": "Per-class probability, keyed by class name; they sum to 1.",
            "type": "object", "properties": {name: probability for name in names},
            "required": names, "additionalProperties": False,
        },
        "Prediction": {
            "type": "object",
            "properties": {"label": {"$ref": "#/components/schemas/Label"},
                           "class_name": {"$ref": "#/components/schemas/ClassName"},
                           "probabilities": {"$ref": "#/components/schemas/Probabilities"}},
            "required": ["label", "class_name", "probabilities"], "additionalProperties": False,
        },
        "SeedResponse": {"description": "The seed form's answer: one label per row.",
                         "type": "array", "items": {"$ref": "#/components/schemas/Label"}},
        "ManifestClasses": {
            "type": "array", "minItems": 2,
            "items": {"type": "object",
                      "properties": {"label": {"$ref": "#/components/schemas/Label"},
                                     "name": {"$ref": "#/components/schemas/ClassName"}},
                      "required": ["label", "name"]},
        },
    }


def _regression_schemas(target: str) -> dict:
    return {
        "Value": {"description": f"The predicted {target}: the mean of the trees' predictions.",
                  "type": "number"},
        "Prediction": {
            "type": "object", "properties": {"value": {"$ref": "#/components/schemas/Value"}},
            "required": ["value"], "additionalProperties": False,
        },
        "SeedResponse": {"description": "The seed form's answer: one predicted value per row.",
                         "type": "array", "items": {"$ref": "#/components/schemas/Value"}},
    }


def _classification_examples(labels: list, names: list[str], probabilities: Sequence) -> tuple[list, list]:
    """The answers the service gives for these probabilities: the label is
    the first most probable class, as the estimator's ``predict`` picks it."""
    seed, rich = [], []
    for row in probabilities:
        row = [float(p) for p in row]
        winner = row.index(max(row))
        seed.append(labels[winner])
        rich.append({"label": labels[winner], "class_name": names[winner],
                     "probabilities": dict(zip(names, row))})
    return seed, rich


def _drop_unfilled(schemas: dict) -> None:
    """Placeholders this task does not use (a regressor has no classes) go."""
    for name in model_schema_names({"components": {"schemas": schemas}}):
        del schemas[name]


def model_schema_names(template: dict | None = None) -> list[str]:
    """The schemas generated per model: the template's placeholders, in order."""
    schemas = (template if template is not None else load_template())["components"]["schemas"]
    return [name for name, schema in schemas.items() if schema.get("$comment") == GENERATED]


def load_template(path: Path = TEMPLATE_PATH) -> dict:
    return json.loads(Path(path).read_text(encoding="utf-8"))


def write_contract(document: dict, path: Path) -> None:
    Path(path).write_bytes(contract_bytes(document))


def contract_bytes(document: dict) -> bytes:
    """The document as the committed ``openapi.json`` is written: stable, diffable, one trailing newline."""
    return (json.dumps(document, indent=2, ensure_ascii=False) + "\n").encode("utf-8")
