"""In-process timings of the two costs the service adds to the HTTP ceiling.

Over HTTP every figure also carries gunicorn, parsing and encoding; here the
predictor and the validator are timed alone, on the same rows, so what the
compiled forest gains over scikit-learn (and what validation costs) is seen
without them. The predictor is timed through ``LoadedModel.evaluate``,
the call the service makes, once with the compiled forest and once without
(scikit-learn's own ``predict_proba``, as ``COMPILE_FOREST=0`` serves). The
validator is called directly, so 100,000 rows, over the service's batch
limit, can be timed too.
"""

import timeit
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sklearn.datasets import load_iris

from contract import load_contract
from wsgi_service.model.loading import read_model_directory
from wsgi_service.enforcement.validation import RequestValidator

ROW_COUNTS = (1, 100, 10_000, 100_000)
REPEAT = 5


@dataclass(frozen=True)
class Timings:
    rows: int
    compiled_s: float
    sklearn_s: float
    validator_s: float


def iris_rows(count: int) -> np.ndarray:
    """``count`` real iris rows, the data set cycled: every path a request might take."""
    data = load_iris().data
    return np.resize(data, (count, data.shape[1]))


def best_seconds(call) -> float:
    """Best of ``REPEAT`` timeit runs, each long enough (>= 0.2 s) for the clock; per call."""
    timer = timeit.Timer(call)
    number, _ = timer.autorange()
    return min(timer.repeat(REPEAT, number)) / number


def time_all(model_dir: Path, row_counts=ROW_COUNTS) -> list[Timings]:
    compiled = read_model_directory(model_dir)
    if compiled.compiled is None:
        raise RuntimeError(f"the forest in {model_dir} was not compiled: nothing to compare")
    by_sklearn = read_model_directory(model_dir, compile_estimator=False)  # scikit-learn, n_jobs=1
    validator = RequestValidator(load_contract())
    results = []
    for count in row_counts:
        rows = iris_rows(count)
        if not np.array_equal(compiled.evaluate(rows), by_sklearn.evaluate(rows)):
            raise RuntimeError(f"compiled forest and scikit-learn disagree on {count} rows")
        body = rows.tolist()  # what decoding the JSON seed form gives the validator
        validator.checked(body)
        results.append(Timings(
            rows=count,
            compiled_s=best_seconds(lambda: compiled.evaluate(rows)),
            sklearn_s=best_seconds(lambda: by_sklearn.evaluate(rows)),
            validator_s=best_seconds(lambda: validator.checked(body)),
        ))
    return results
