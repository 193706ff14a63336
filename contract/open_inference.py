"""The Open Inference Protocol (V2) part of a model's contract, beside our own API.

The protocol is what KServe, Triton and MLServer speak and what their clients
(``tritonclient``, KServe's SDK, inference graphs) send. Its paths,
operations, errors and the shapes that do not depend on the model are
written in the template, tagged "Open Inference Protocol (V2)"; what is this
model's is filled in here: the model's name and version as the path
parameters' only values, one input tensor ``input-0`` of shape [-1, number of
features] taking FP32 or FP64 in row-major order, the outputs ``label`` and
``probabilities`` (a classifier) or ``value`` (a regressor), and examples the
model answered.

The service reads the model's metadata document (``V2ModelMetadata``, a
``const``) and the request schema from what this writes, so the tensor names,
datatypes and shapes are decided once, here. A model whose features include
words has no V2 part (``drop_open_inference``): the protocol's tensors hold
one datatype.
"""

from collections.abc import Sequence

from contract import operations

PREFIX = "/v2"
# What the template's V2 parts are named with: schemas, parameters and responses.
NAME_PREFIX = "V2"
INPUT_NAME = "input-0"
INPUT_DATATYPES = ["FP64", "FP32"]  # the first is the one the metadata names
PLATFORM = "scikit-learn"

_SCHEMAS = "#/components/schemas/"


def fill_open_inference(document: dict, manifest: dict, labels: list | None, rows: Sequence[Sequence[float]],
                        outputs: Sequence) -> None:
    """Fill the template's V2 placeholders in ``document`` for the model ``manifest`` describes.

    ``labels`` are a classifier's class labels (None for a regressor); ``rows``
    and ``outputs`` are example rows and the model's answers to them, as
    ``generate_contract`` takes them.
    """
    width = len(manifest["features"])
    name, version = manifest["name"], manifest["version"]
    if labels is not None:
        label_type = "INT64" if all(isinstance(label, int) for label in labels) else "BYTES"
        tensors = [("label", label_type, [-1], "Label"), ("probabilities", "FP64", [-1, len(labels)], "Probability")]
    else:
        tensors = [("value", "FP64", [-1], "Value")]
    metadata = {
        "name": name, "versions": [version], "platform": PLATFORM,
        "inputs": [{"name": INPUT_NAME, "datatype": INPUT_DATATYPES[0], "shape": [-1, width]}],
        "outputs": [{"name": tensor, "datatype": datatype, "shape": shape} for tensor, datatype, shape, _ in tensors],
    }
    document["components"]["parameters"].update(
        V2ModelName=_path_parameter("model_name", name, "The model's name; another answers 404."),
        V2ModelVersion=_path_parameter("model_version", version, "The model's version; another answers 404."))
    document["components"]["schemas"].update({
        "V2ModelReady": {"type": "object", "required": ["name", "ready"], "additionalProperties": False,
                         "properties": {"name": {"const": name}, "ready": {"const": True}}},
        "V2ModelMetadata": {
            "description": f"This model's metadata, exactly. The input is the rows in feature order "
                           f"({', '.join(feature['name'] for feature in manifest['features'])}), flattened "
                           f"row-major; {INPUT_DATATYPES[1]} is accepted too.",
            "const": metadata,
        },
        "V2InputTensor": {
            "type": "object", "required": ["name", "shape", "datatype", "data"], "additionalProperties": False,
            "properties": {
                "name": {"enum": [INPUT_NAME]},
                "shape": {"description": f"[rows, {width}]: the batch's rows and the model's features.",
                          "type": "array", "minItems": 2, "maxItems": 2,
                          "prefixItems": [{"type": "integer", "minimum": 1}, {"enum": [width]}]},
                "datatype": {"enum": INPUT_DATATYPES},
                "parameters": {"$ref": _SCHEMAS + "V2Parameters"},
                "data": {"description": "rows x features values, row-major, flattened: exactly as many "
                                        "as the shape says.",
                         "type": "array", "minItems": 1, "items": {"$ref": _SCHEMAS + "FeatureValue"}},
            },
        },
        "V2RequestedOutput": {
            "type": "object", "required": ["name"], "additionalProperties": False,
            "properties": {"name": {"enum": [tensor for tensor, *_ in tensors]},
                           "parameters": {"$ref": _SCHEMAS + "V2Parameters"}},
        },
        "V2OutputTensor": {"oneOf": [_output_tensor(*tensor) for tensor in tensors]},
        "V2InferenceResponse": {
            "type": "object", "required": ["model_name", "model_version", "outputs"], "additionalProperties": False,
            "properties": {"model_name": {"const": name}, "model_version": {"const": version},
                           "id": {"type": "string", "description": "The request's id, when it had one."},
                           "outputs": {"type": "array", "minItems": 1,
                                       "items": {"$ref": _SCHEMAS + "V2OutputTensor"}}},
        },
    })
    request, response = _examples(name, version, width, tensors, rows, outputs, labels)
    for path, _, operation in operations(document):
        if path.startswith(PREFIX) and "requestBody" in operation:
            operation["requestBody"]["content"]["application/json"]["examples"] = {
                "batch": {"summary": "Rows in feature order, flattened", "value": request}}
            operation["responses"]["200"]["content"]["application/json"]["examples"] = {
                "batch": {"value": response}}


def drop_open_inference(document: dict) -> None:
    """Remove the V2 part from ``document``: its paths and its schemas, parameters and responses."""
    for path in [path for path in document["paths"] if path == PREFIX or path.startswith(PREFIX + "/")]:
        del document["paths"][path]
    for components in document["components"].values():
        for name in [name for name in components if name.startswith(NAME_PREFIX)]:
            del components[name]
    document["tags"] = [tag for tag in document.get("tags", []) if not tag["name"].startswith("Open Inference")]


def _path_parameter(name: str, value: str, description: str) -> dict:
    return {"name": name, "in": "path", "required": True, "schema": {"type": "string", "enum": [value]},
            "description": description}


def _output_tensor(tensor: str, datatype: str, shape: list, item: str) -> dict:
    rows = {"type": "integer", "minimum": 1}
    return {
        "type": "object", "required": ["name", "datatype", "shape", "data"], "additionalProperties": False,
        "properties": {"name": {"const": tensor}, "datatype": {"const": datatype},
                       "shape": {"type": "array", "prefixItems": [rows, *({"const": size} for size in shape[1:])],
                                 "minItems": len(shape), "maxItems": len(shape)},
                       "data": {"type": "array", "items": {"$ref": _SCHEMAS + item}}},
    }


def _examples(name: str, version: str, width: int, tensors: list, rows: Sequence, outputs: Sequence,
              labels: list | None) -> tuple[dict, dict]:
    request = {"id": "example-1", "inputs": [{
        "name": INPUT_NAME, "shape": [len(rows), width], "datatype": INPUT_DATATYPES[0],
        "data": [float(value) for row in rows for value in row]}]}
    if labels is None:
        answers = {"value": [float(value) for value in outputs]}
    else:
        probabilities = [[float(p) for p in row] for row in outputs]
        answers = {"label": [labels[row.index(max(row))] for row in probabilities],
                   "probabilities": [p for row in probabilities for p in row]}
    response = {"model_name": name, "model_version": version, "id": "example-1", "outputs": [
        {"name": tensor, "datatype": datatype, "shape": [len(rows), *shape[1:]], "data": answers[tensor]}
        for tensor, datatype, shape, _ in tensors]}
    return request, response
