"""The prediction core: a decoded body in, a JSON-ready answer out. No HTTP here.

Two request forms share one path. The seed form (a bare array of rows)
answers a bare array with one prediction per row, as the original tutorial's
clients expect; the rich form (``{"instances": [...]}``, rows as arrays or
named objects) answers, per row, the label, class name and probabilities
(a classifier) or the value (a regressor), and the model's identity.

Drift is noticed here too: a value outside the range its feature had in
training (the manifest's min and max) is counted per feature and side, and
the rich form names the row's such features (``out_of_range``).
"""

from typing import NamedTuple

import numpy as np

from wsgi_service.enforcement.validation import RequestValidator
from wsgi_service.errors import ContentTooLarge
from wsgi_service.model.drift import TrainingRanges
from wsgi_service.model.loading import LoadedModel


SIDES = ("below", "above")


class Answer(NamedTuple):
    """What one request predicted: the JSON-ready body, and what metrics count."""

    document: object
    rows: int
    # Index into the model's classes of each row's prediction (classifiers only).
    winners: np.ndarray | None
    # Per feature, how many rows fell below and above its training range; None when none did.
    out_of_range: tuple[np.ndarray, np.ndarray] | None = None


class Evaluation(NamedTuple):
    """The model's outputs for a matrix of rows, and where the rows left the training ranges."""

    # A classifier's per-class probabilities, or a regressor's values as one column.
    outputs: np.ndarray
    winners: np.ndarray | None
    # Per row and feature, below and above its training range; None when no value is outside.
    below: np.ndarray | None = None
    above: np.ndarray | None = None

    def out_of_range(self) -> tuple[np.ndarray, np.ndarray] | None:
        """Per feature, how many rows fell below and above its range (``Answer.out_of_range``)."""
        return None if self.below is None else (self.below.sum(axis=0), self.above.sum(axis=0))


class Predictor:
    """Answers decoded request bodies with ``model``'s predictions, each body validated first."""

    def __init__(self, model: LoadedModel, validator: RequestValidator, max_batch_rows: int):
        self.model = model
        self._validator = validator
        self._max_batch_rows = max_batch_rows
        self._features = model.feature_names
        self._class_names = model.class_names
        self._labels = model.labels
        self._ranges = TrainingRanges(*model.ranges)

    def answer(self, body: object) -> Answer:
        """Validate ``body`` against the contract and predict every row.

        Raises ``ContentTooLarge`` or ``ContractViolation``; the batch limit is
        checked first so an oversized batch is never walked by the validator.
        """
        rows = body.get("instances") if isinstance(body, dict) else body
        if isinstance(rows, list):
            self.check_batch(len(rows))
        body = self._validator.checked(body)
        rich = isinstance(body, dict)
        rows = body["instances"] if rich else body

        in_feature_order = [[row[name] for name in self._features] if isinstance(row, dict) else row for row in rows]
        evaluation = self.evaluate(self.model.matrix(in_feature_order))
        outputs = evaluation.outputs
        answer = self._values(outputs[:, 0].tolist(), rich) if self._labels is None else \
            self._classes(outputs, evaluation.winners, rich)
        if evaluation.below is None:
            return answer
        if rich:
            for prediction, row_below, row_above in zip(answer.document["predictions"], evaluation.below,
                                                        evaluation.above):
                if row_below.any() or row_above.any():
                    prediction["out_of_range"] = {
                        name: SIDES[int(high)] for name, low, high in zip(self._features, row_below, row_above)
                        if low or high}
        return answer._replace(out_of_range=evaluation.out_of_range())

    def check_batch(self, rows: int) -> None:
        """``ContentTooLarge`` for a batch of more rows than this server accepts."""
        if rows > self._max_batch_rows:
            raise ContentTooLarge(f"The batch has {rows} rows; this server accepts at most "
                                  f"{self._max_batch_rows} per request.", limit=self._max_batch_rows)

    def evaluate(self, matrix: np.ndarray) -> Evaluation:
        """The model's outputs for ``matrix`` (valid rows in feature order); for a classifier the
        label is the most probable class, exactly as the estimator's own predict() derives it (first
        of equals on a tie)."""
        outputs = self.model.evaluate(matrix)
        winners = None if self._labels is None else outputs.argmax(axis=1)
        outside = self._ranges.outside(matrix)
        return Evaluation(outputs, winners) if outside is None else Evaluation(outputs, winners, *outside)

    def _classes(self, probabilities: np.ndarray, winners: np.ndarray, rich: bool) -> Answer:
        labels = self._labels.take(winners).tolist()
        if not rich:
            return Answer(labels, len(labels), winners)
        return Answer({
            "predictions": [
                {"label": label, "class_name": self._class_names[winner],
                 "probabilities": dict(zip(self._class_names, row))}
                for label, winner, row in zip(labels, winners.tolist(), probabilities.tolist())
            ],
            "model": self.model.identity,
        }, len(labels), winners)

    def _values(self, values: list[float], rich: bool) -> Answer:
        if not rich:
            return Answer(values, len(values), None)
        return Answer({"predictions": [{"value": value} for value in values], "model": self.model.identity},
                      len(values), None)
