"""The Open Inference Protocol (V2) over the same model, validation and limits as /predict.

What the protocol's answers say about the model (its tensors' names,
datatypes and shapes) is read from the contract's ``V2ModelMetadata``, which
``contract.open_inference`` wrote for this model; the request is validated
against the contract's ``V2InferenceRequest``, its whole numbers (the shape)
read as ints however they are written. This module adds only what a schema
cannot say: that the data holds exactly rows x features values.
"""

from collections.abc import Callable

import numpy as np

from contract import pointer_to
from contract.open_inference import PREFIX
from wsgi_service.enforcement.validation import RequestValidator
from wsgi_service.errors import InvalidInferenceRequest
from wsgi_service.serving.binary_tensors import with_binary_data_inlined
from wsgi_service.serving.prediction import Answer, Evaluation, Predictor

REQUEST_SCHEMA = pointer_to("paths", f"{PREFIX}/models/{{model_name}}/infer", "post", "requestBody", "content",
                            "application/json", "schema")


class OpenInference:
    """Answers V2 inference requests for the model ``predictor`` serves."""

    def __init__(self, predictor: Predictor, contract: dict):
        self.predictor = predictor
        self.metadata = contract["components"]["schemas"]["V2ModelMetadata"]["const"]
        self._validator = RequestValidator(contract, REQUEST_SCHEMA, refusal=InvalidInferenceRequest)
        self._width = self.metadata["inputs"][0]["shape"][1]
        self._tensors = {tensor["name"]: tensor for tensor in self.metadata["outputs"]}
        labels = predictor.model.labels
        # Each output tensor's data, from an evaluation.
        self._data: dict[str, Callable[[Evaluation], list]] = {
            "label": lambda evaluation: labels.take(evaluation.winners).tolist(),
            "probabilities": lambda evaluation: evaluation.outputs.ravel().tolist(),
            "value": lambda evaluation: evaluation.outputs[:, 0].tolist(),
        }
        unknown = self._tensors.keys() - self._data.keys()
        if unknown:
            raise TypeError(f"the contract names output tensors this service cannot fill: {sorted(unknown)}")

    def infer(self, body: object, binary: bytes | None = None) -> Answer:
        """Validate ``body`` (the batch limit first, as /predict does) and answer its rows.

        ``binary`` is the binary tensor data after a JSON header ``body``: each input with
        ``parameters.binary_data_size`` reads its values from it. Raises ``ContentTooLarge`` or
        ``InvalidInferenceRequest``.
        """
        body = self._validator.with_integers(body)  # binary data's sizes are whole numbers too
        if binary is not None:
            body = with_binary_data_inlined(body, binary)
        tensor = _first_input(body)
        # Before validation, so that an oversized batch is never walked: the rows the data would
        # fill, and the rows the shape says.
        if isinstance(tensor.get("data"), list):
            self.predictor.check_batch(-(-len(tensor["data"]) // self._width))
        shape = tensor.get("shape")
        if isinstance(shape, list) and shape and type(shape[0]) is int:
            self.predictor.check_batch(shape[0])
        body = self._validator.checked(body)
        data = body["inputs"][0]["data"]
        rows = body["inputs"][0]["shape"][0]
        if len(data) != rows * self._width:
            raise InvalidInferenceRequest(
                f"The input holds {len(data)} values; its shape [{rows}, {self._width}] needs "
                f"{rows * self._width}.",
                errors=[("/inputs/0/data", f"has {len(data)} values, the shape needs {rows * self._width}")])
        evaluation = self.predictor.evaluate(np.array(data, dtype=np.float64).reshape(rows, self._width))
        wanted = {output["name"] for output in body.get("outputs", ())} or self._tensors.keys()
        document = {"model_name": self.metadata["name"], "model_version": self.metadata["versions"][0]}
        if "id" in body:
            document["id"] = body["id"]
        document["outputs"] = [
            {"name": name, "datatype": tensor["datatype"], "shape": [rows, *tensor["shape"][1:]],
             "data": self._data[name](evaluation)}
            for name, tensor in self._tensors.items() if name in wanted]
        return Answer(document, rows, evaluation.winners, evaluation.out_of_range())


def _first_input(body: object) -> dict:
    """The first input tensor, whatever the body (empty where there is none)."""
    inputs = body.get("inputs") if isinstance(body, dict) else None
    first = inputs[0] if isinstance(inputs, list) and inputs else None
    return first if isinstance(first, dict) else {}
