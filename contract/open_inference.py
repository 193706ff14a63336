"""The Open Inference Protocol (V2) part of a model's contract, written beside our own API.

The protocol is what KServe, Triton and MLServer speak and what their clients
(``tritonclient``, KServe's SDK, inference graphs) send. It fixes the paths and
the JSON shapes; what is this model's is filled in here, so the whole V2 part
is generated rather than kept in the template: the model's name and version
in the paths, one input tensor ``input-0`` of shape [-1, number of features]
taking FP32 or FP64 in row-major order, and the outputs ``label`` and
``probabilities`` (a classifier) or ``value`` (a regressor).

The service reads the model's metadata document (``V2ModelMetadata``, a
``const``) and the request schema from what this writes, so the tensor names,
datatypes and shapes are decided once, here. Input data may come as JSON or
as binary tensor data (tritonclient's default: a JSON header, then the
bytes), which the service reads back into the JSON form before validating it;
answers are JSON, which every client reads. A model whose features include
words has no V2 part: the protocol's tensors hold one datatype.

Errors are the service's RFC 9457 problems with the protocol's ``error``
member added, so a V2 client reads its message where it looks for it.
"""

from collections.abc import Sequence

PREFIX = "/v2"
INPUT_NAME = "input-0"
INPUT_DATATYPES = ["FP64", "FP32"]  # the first is the one the metadata names
PLATFORM = "scikit-learn"

_SCHEMAS = "#/components/schemas/"
_REQUEST_ID = {"$ref": "#/components/parameters/RequestId"}
_REQUEST_ID_HEADER = {"X-Request-ID": {"$ref": "#/components/headers/RequestId"}}


def open_inference_part(manifest: dict, labels: list | None, rows: Sequence[Sequence[float]],
                        outputs: Sequence) -> tuple[dict, dict]:
    """``(paths, schemas)`` of the V2 API for the model ``manifest`` describes.

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
    schemas = {
        "V2ServerMetadata": {
            "type": "object", "required": ["name", "version", "extensions"],
            "properties": {"name": {"type": "string"}, "version": {"type": "string"},
                           "extensions": {"type": "array", "items": {"type": "string"}, "maxItems": 0}},
        },
        "V2Live": _flag("live"),
        "V2Ready": _flag("ready"),
        "V2ModelReady": {**_flag("ready"), "required": ["name", "ready"],
                         "properties": {"name": {"const": name}, "ready": {"const": True}}},
        "V2ModelMetadata": {
            "description": f"This model's metadata, exactly. The input is the rows in feature order "
                           f"({', '.join(feature['name'] for feature in manifest['features'])}), flattened "
                           f"row-major; {INPUT_DATATYPES[1]} is accepted too.",
            "const": metadata,
        },
        "V2Parameters": {
            "description": "Parameters as the protocol allows them. An input's binary_data_size says how "
                           "many bytes of binary tensor data it has (see the infer operation); none changes "
                           "the answer: outputs are always JSON (binary_data or binary_data_output is "
                           "answered in JSON, which tritonclient reads as well).",
            "type": "object",
            "properties": {"binary_data_size": {
                "description": "An input's bytes of binary tensor data, read only with "
                               "Inference-Header-Content-Length; that input then holds no `data`.",
                "type": "integer", "minimum": 0}},
            "additionalProperties": {"type": ["string", "number", "boolean"]},
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
        "V2InferenceRequest": {
            "description": "One input tensor; outputs name the ones wanted (all when absent), each answered once.",
            "type": "object", "required": ["inputs"], "additionalProperties": False,
            "properties": {
                "id": {"type": "string"},
                "parameters": {"$ref": _SCHEMAS + "V2Parameters"},
                "inputs": {"type": "array", "minItems": 1, "maxItems": 1,
                           "items": {"$ref": _SCHEMAS + "V2InputTensor"}},
                "outputs": {"type": "array", "minItems": 1,
                            "items": {"$ref": _SCHEMAS + "V2RequestedOutput"}},
            },
        },
        "V2OutputTensor": {"oneOf": [_output_tensor(*tensor) for tensor in tensors]},
        "V2InferenceResponse": {
            "type": "object", "required": ["model_name", "model_version", "outputs"], "additionalProperties": False,
            "properties": {"model_name": {"const": name}, "model_version": {"const": version},
                           "id": {"type": "string", "description": "The request's id, when it had one."},
                           "outputs": {"type": "array", "minItems": 1,
                                       "items": {"$ref": _SCHEMAS + "V2OutputTensor"}}},
        },
        "V2Error": {
            "description": "A problem (RFC 9457) with the protocol's `error` member: the detail and the "
                           "pointers in one line.",
            "allOf": [{"$ref": _SCHEMAS + "Problem"}, {"type": "object", "required": ["error"],
                                                       "properties": {"error": {"type": "string"}}}],
        },
    }
    examples = _examples(name, version, width, tensors, rows, outputs, labels)
    return _paths(name, version, examples), schemas


def _flag(name: str) -> dict:
    return {"type": "object", "required": [name], "additionalProperties": False,
            "properties": {name: {"const": True}}}


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
              labels: list | None) -> dict:
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
    return {"request": request, "response": response}


def _paths(name: str, version: str, examples: dict) -> dict:
    model = {"name": "model_name", "in": "path", "required": True, "schema": {"type": "string", "enum": [name]},
             "description": "The model's name; another answers 404."}
    release = {"name": "model_version", "in": "path", "required": True,
               "schema": {"type": "string", "enum": [version]},
               "description": "The model's version; another answers 404."}
    not_found = _error("No such model or version (`error` names the one served).")
    draining = _error("Draining: the instance is stopping (see /health).")

    def get(operation: str, summary: str, schema: str, parameters: list, errors: dict) -> dict:
        return {"get": {"operationId": operation, "summary": summary, "tags": ["Open Inference Protocol (V2)"],
                        "parameters": [*parameters, _REQUEST_ID],
                        "responses": {"200": _answer("The answer.", schema), **errors, "default": _error(
                            "Any other problem.")}}}

    def infer(operation: str, parameters: list) -> dict:
        return {"post": {
            "operationId": operation, "summary": "Infer a batch", "tags": ["Open Inference Protocol (V2)"],
            "description": "The same validation, model and limits as POST /predict: the batch's rows (the "
                           "shape's first dimension) against MAX_BATCH_ROWS, the body against "
                           "MAX_BODY_BYTES. A body sent without a Content-Type is read as JSON "
                           "(tritonclient sends none). Binary tensor data (tritonclient's default) is read "
                           "too: with an Inference-Header-Content-Length header, the body is that many bytes "
                           "of this JSON document, each input without `data` but with "
                           "`parameters.binary_data_size`, then those bytes of each input in turn (FP64 or "
                           "FP32, little-endian, row-major); the values are then validated as if sent as "
                           "`data` (NaN and infinities refused, as JSON cannot hold them); an input with both "
                           "`data` and `parameters.binary_data_size` is refused. Such a body may also be "
                           "labelled application/octet-stream. What no schema can say: `data` holds exactly "
                           "rows x features values (the shape's product, row-major); other lengths are "
                           "refused 400 pointing at `/inputs/0/data`. Whole numbers (the shape, "
                           "binary_data_size) may be written 2, 2.0 or 2e0, as JSON Schema counts them alike.",
            "parameters": [*parameters, _REQUEST_ID],
            "requestBody": {"required": True, "content": {"application/json": {
                "schema": {"$ref": _SCHEMAS + "V2InferenceRequest"},
                "examples": {"batch": {"summary": "Rows in feature order, flattened", "value": examples["request"]}},
            }}},
            "responses": {
                "200": _answer("One output tensor per requested output (all when none is named), in the "
                               "metadata's order.", "V2InferenceResponse",
                               {"batch": {"value": examples["response"]}}),
                "400": _error("Malformed JSON, or a body that breaks this contract (`errors` points at "
                              "each offending value), or data whose length is not the shape's product."),
                "404": not_found,
                "413": _error("The body exceeds MAX_BODY_BYTES (the request body's x-max-body-bytes) or the "
                              "batch exceeds MAX_BATCH_ROWS (the shape's first maximum, the data's maxItems), "
                              "checked before the rest of the body."),
                "415": _error("Another Content-Type than JSON (or application/octet-stream with binary "
                              "tensor data), or a Content-Encoding."),
                "default": _error("Any other problem."),
            }}}

    return {
        PREFIX: get("v2_server_metadata", "Server metadata", "V2ServerMetadata", [], {}),
        f"{PREFIX}/health/live": get("v2_server_live", "Server live", "V2Live", [], {}),
        f"{PREFIX}/health/ready": get("v2_server_ready", "Server ready", "V2Ready", [], {"503": draining}),
        f"{PREFIX}/models/{{model_name}}": get("v2_model_metadata", "Model metadata", "V2ModelMetadata",
                                                [model], {"404": not_found}),
        f"{PREFIX}/models/{{model_name}}/versions/{{model_version}}": get(
            "v2_model_version_metadata", "Model metadata (versioned)", "V2ModelMetadata", [model, release],
            {"404": not_found}),
        f"{PREFIX}/models/{{model_name}}/ready": get("v2_model_ready", "Model ready", "V2ModelReady", [model],
                                                      {"404": not_found, "503": draining}),
        f"{PREFIX}/models/{{model_name}}/versions/{{model_version}}/ready": get(
            "v2_model_version_ready", "Model ready (versioned)", "V2ModelReady", [model, release],
            {"404": not_found, "503": draining}),
        f"{PREFIX}/models/{{model_name}}/infer": infer("v2_infer", [model]),
        f"{PREFIX}/models/{{model_name}}/versions/{{model_version}}/infer": infer("v2_version_infer",
                                                                                   [model, release]),
    }


def _answer(description: str, schema: str, examples: dict | None = None) -> dict:
    content = {"schema": {"$ref": _SCHEMAS + schema}}
    if examples:
        content["examples"] = examples
    return {"description": description, "headers": _REQUEST_ID_HEADER, "content": {"application/json": content}}


def _error(description: str) -> dict:
    return {"description": description, "headers": _REQUEST_ID_HEADER,
            "content": {"application/problem+json": {"schema": {"$ref": _SCHEMAS + "V2Error"}}}}
