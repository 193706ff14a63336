"""Where rows leave the ranges their features had in training (the manifest's min and max).

One native pass over the batch (``kernel.outside``) answers whether any value
is outside; only then are the per-value masks built, so a batch inside its
ranges costs that one pass.
"""

import numpy as np

from wsgi_service.model.kernel import outside


class TrainingRanges:
    """The training range of each feature, in feature order (a feature without one spans everything)."""

    def __init__(self, low: np.ndarray, high: np.ndarray):
        self.low, self.high = low, high
        outside(np.zeros((1, len(low))), low, high)  # compiled now, in the master, before gunicorn forks

    def outside(self, matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
        """Per row and feature, whether the value is below and above its range; None when none is."""
        if not outside(matrix, self.low, self.high):
            return None
        return matrix < self.low, matrix > self.high
