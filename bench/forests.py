"""Production-sized forests for the benchmark, and their in-process timings.

Iris is a smoke test: the forests users serve have millions of nodes. Each
forest here is fitted on a generated table (scikit-learn's
``make_classification`` / ``make_regression``, fixed seeds) the way a
notebook fits one, with ``n_jobs=-1``, and written as a model directory
(``training.train.write_model_directory``), so the service serves it as it
serves any. Fitting takes minutes on two cores, so each directory is cached
(``BENCH_FOREST_CACHE``, default ``~/.cache/wsgi-forest-service/bench``) under
a name that carries every parameter.

In process, the compiled forest is timed against scikit-learn's own
``predict_proba`` / ``predict`` at ``n_jobs=1`` (its exact reference) on the
same rows, and onnxruntime (through skl2onnx) when both are installed: a
round times each of them once per row count, and each figure is the median
of the rounds, so a burst of other work on the machine spoils one round, not
a ratio.
"""

import json
import os
import statistics
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import joblib
import numpy as np
from sklearn.datasets import make_classification, make_regression
from sklearn.ensemble import ExtraTreesClassifier, RandomForestClassifier, RandomForestRegressor
from sklearn.model_selection import train_test_split

from contract.generate import generate_contract, write_contract
from contract.model_directory import CLASSIFICATION, CONTRACT_FILENAME, MANIFEST_FILENAME, MODEL_FILENAME, REGRESSION
from bench.inprocess import best_seconds
from training.train import write_model_directory
from wsgi_service.model.forest import single_threaded_answers
from wsgi_service.model.loading import read_model_directory

ENV_CACHE = "BENCH_FOREST_CACHE"
ROW_COUNTS = (1, 100, 10_000)
ROUNDS = 3
# The HTTP load each forest's server gets: (the load's name in the main table, rows, connections).
FOREST_LOAD = ("1 row, c=8", 1, 8)


@dataclass(frozen=True)
class ForestSpec:
    name: str
    estimator: type
    n_estimators: int
    rows: int
    features: int
    classes: int  # 0: a regressor
    min_samples_leaf: int = 1

    @property
    def directory_name(self) -> str:
        return (f"{self.name}-{self.estimator.__name__}-{self.n_estimators}t-{self.rows}x{self.features}"
                f"-{self.classes}c-leaf{self.min_samples_leaf}")


FORESTS = (
    # Fully grown, as RandomForestClassifier's defaults grow it: about 2.5 million nodes, 300 MB.
    ForestSpec("classifier", RandomForestClassifier, 100, rows=60_000, features=54, classes=7),
    ForestSpec("extra-trees", ExtraTreesClassifier, 200, rows=50_000, features=50, classes=2),
    # Fully grown regression trees have a leaf per distinct target (12 million nodes, 900 MB
    # for these 200): five rows a leaf keeps it the size of the others.
    ForestSpec("regressor", RandomForestRegressor, 200, rows=50_000, features=50, classes=0, min_samples_leaf=5),
)


@dataclass(frozen=True)
class ForestTiming:
    forest: str
    rows: int
    compiled_s: float
    sklearn_s: float
    onnxruntime_s: float | None
    exact: bool

    def to_dict(self) -> dict:
        return asdict(self)


def cache_dir() -> Path:
    return Path(os.environ.get(ENV_CACHE, Path.home() / ".cache" / "wsgi-forest-service" / "bench"))


def model_directory(spec: ForestSpec) -> Path:
    """The forest's model directory, fitted and written on first use."""
    directory = cache_dir() / spec.directory_name
    if (directory / MANIFEST_FILENAME).is_file() and (directory / MODEL_FILENAME).is_file():
        _rewrite_contract(directory)
        return directory
    print(f"fitting the {spec.name} forest ({spec.directory_name}); cached in {directory}", flush=True)
    started = time.perf_counter()
    if spec.classes:
        X, y = make_classification(spec.rows, spec.features, n_informative=min(20, spec.features),
                                   n_classes=spec.classes, random_state=0)
    else:
        X, y = make_regression(spec.rows, spec.features, n_informative=min(20, spec.features), noise=10,
                               random_state=0)
    x_train, x_test, y_train, y_test = train_test_split(X, y, test_size=0.25, random_state=0)
    estimator = spec.estimator(n_estimators=spec.n_estimators, min_samples_leaf=spec.min_samples_leaf,
                               random_state=0, n_jobs=-1).fit(x_train, y_train)
    write_model_directory(directory, estimator, [f"x{index}" for index in range(spec.features)],
                          (x_train, y_train), (x_test, y_test), task=CLASSIFICATION if spec.classes else REGRESSION,
                          target_name="y", name=spec.name, training={"dataset": spec.directory_name})
    print(f"  fitted and written in {time.perf_counter() - started:.0f} s", flush=True)
    return directory


def _rewrite_contract(directory: Path) -> None:
    """A cached directory's contract written anew by today's generator, its examples kept: the
    service refuses a contract an older template wrote (it no longer fits the model's)."""
    path = directory / CONTRACT_FILENAME
    predict = json.loads(path.read_text())["paths"]["/predict"]["post"]
    rows = predict["requestBody"]["content"]["application/json"]["examples"]["seed"]["value"]
    answers = predict["responses"]["200"]["content"]["application/json"]["examples"]["rich"]["value"]["predictions"]
    outputs = [list(answer["probabilities"].values()) if "probabilities" in answer else answer["value"]
               for answer in answers]
    write_contract(generate_contract(json.loads((directory / MANIFEST_FILENAME).read_text()), rows, outputs), path)


def time_forest(spec: ForestSpec, directory: Path) -> list[ForestTiming]:
    """Median of ``ROUNDS`` interleaved rounds per row count: the compiled forest, scikit-learn
    at n_jobs=1 and, when installed, onnxruntime; the compiled answers checked bitwise."""

    model = read_model_directory(directory)
    if model.compiled is None:
        raise RuntimeError(f"{spec.name}: not compiled ({model.serving['detail']})")
    estimator = joblib.load(directory / MODEL_FILENAME)
    onnx = _onnx_session(estimator, spec.features)
    rows_by_count = {count: forest_rows(directory, count) for count in ROW_COUNTS}
    samples = {count: {"compiled": [], "sklearn": [], "onnxruntime": []} for count in ROW_COUNTS}
    for _ in range(ROUNDS):
        for count, rows in rows_by_count.items():
            samples[count]["compiled"].append(best_seconds(lambda: model.evaluate(rows)))
            samples[count]["sklearn"].append(best_seconds(lambda: single_threaded_answers(estimator, rows)))
            if onnx is not None:
                rows32 = rows.astype(np.float32)
                samples[count]["onnxruntime"].append(best_seconds(lambda: onnx(rows32)))
    return [ForestTiming(spec.name, count, statistics.median(samples[count]["compiled"]),
                         statistics.median(samples[count]["sklearn"]),
                         statistics.median(samples[count]["onnxruntime"]) if onnx is not None else None,
                         bool(np.array_equal(model.evaluate(rows), single_threaded_answers(estimator, rows))))
            for count, rows in rows_by_count.items()]


def forest_rows(directory: Path, count: int) -> np.ndarray:
    """``count`` rows drawn inside each feature's training range (from the manifest)."""
    features = json.loads((directory / MANIFEST_FILENAME).read_text())["features"]
    low = np.array([feature["min"] for feature in features])
    high = np.array([feature["max"] for feature in features])
    return np.random.default_rng(count).uniform(low, high, size=(count, len(features)))


def _onnx_session(estimator, n_features: int):
    """onnxruntime's single-threaded TreeEnsemble for ``estimator``, or None when skl2onnx or
    onnxruntime is not installed (``pip install skl2onnx onnxruntime``: not a dependency)."""
    try:
        import onnxruntime
        from skl2onnx import to_onnx
    except ImportError:
        return None
    onnx_model = to_onnx(estimator, np.zeros((1, n_features), dtype=np.float32),
                         options={id(estimator): {"zipmap": False}} if hasattr(estimator, "classes_") else None)
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = options.inter_op_num_threads = 1
    session = onnxruntime.InferenceSession(onnx_model.SerializeToString(), options,
                                           providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    return lambda rows32: session.run(None, {name: rows32})


def render_forests(forests: dict[str, dict], ceiling_single_rows_per_s: float) -> str:
    """The production-sized forests' table: served (vs the ceiling and the model file), then in process."""
    lines = ["production-sized forests (bench/forests.py), each served by 2 workers:", ""]
    for name, figures in forests.items():
        file_mib, memory = figures["model_file_mib"], figures["memory"]["pss_mib"]
        rate = figures["load"]["requests_per_s"]
        lines += [
            f"{name}: {figures['nodes']}; model file {file_mib:.0f} MiB",
            f"  start to healthy {figures['start_to_healthy_s']:.2f} s (target <= 3 s)",
            f"  PSS master + workers after load {memory:.0f} MiB (target <= 1.5 x file + 150 = "
            f"{1.5 * file_mib + 150:.0f} MiB)",
            f"  single rows, c=8: {rate:,.0f} req/s = {rate / ceiling_single_rows_per_s:.2f} of the ceiling "
            f"(p99 {figures['load']['p99_ms']:.1f} ms" + (f", {figures['load']['errors']} ERRORS" if
                                                           figures["load"]["errors"] else "") + ")",
        ]
        for timing in figures["timings"]:
            onnx = (f", onnxruntime {_ms(timing['onnxruntime_s'])} (compiled / onnxruntime "
                    f"{timing['compiled_s'] / timing['onnxruntime_s']:.2f})" if timing["onnxruntime_s"] else "")
            lines.append(f"  in process, {timing['rows']:>6,} rows: compiled {_ms(timing['compiled_s'])}, "
                         f"scikit-learn n_jobs=1 {_ms(timing['sklearn_s'])} "
                         f"({timing['sklearn_s'] / timing['compiled_s']:.1f}x){onnx}; "
                         f"{'bitwise equal' if timing['exact'] else 'NOT EQUAL'}")
        lines.append("")
    lines.append(f"in process: median of {ROUNDS} interleaved rounds; targets: 10,000 rows >= 1.5x scikit-learn, "
                 "1 row <= 2x onnxruntime")
    return "\n".join(lines)


def _ms(seconds: float) -> str:
    return f"{seconds * 1e3:.3f} ms" if seconds < 0.01 else f"{seconds * 1e3:.1f} ms"
