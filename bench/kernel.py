"""``python -m bench.kernel``: the compiled forest against the other engines, at the batch sizes users send.

On every production-sized bench forest (``bench/forests.py``), for 1, 100,
1,000 and 10,000 rows, each engine's time per call:

- ours: the compiled forest as the service calls it (one thread), and at
  10,000 rows also with ``n_threads=2`` (the in-process API);
- scikit-learn's ``predict_proba`` / ``predict`` at ``n_jobs=1``, the exact reference;
- onnxruntime through skl2onnx, one thread: float32 thresholds and sums, so
  inexact (its largest difference is reported);
- treelite's own predictor (``treelite.gtil``), one thread.

A round times every engine once per row count (``best_seconds``), engines
interleaved, and each figure is the median of the rounds: a burst of other
work on the shared machine spoils one round, not a ratio. The comparison
engines come from the ``bench`` extra (``pip install -c constraints.txt -e
'.[bench]'``); one that is not installed is left out. Writes a markdown table
and a log-log plot (rows per second against batch size) under ``bench/``.

``--threads-only`` times ours on one thread against two at 10,000 and
100,000 rows instead, and says whether the machine had a second core free
meanwhile: on a shared two-core machine it often has not, and then no
number of threads can be faster.
"""

import argparse
import datetime
import multiprocessing
import os
import statistics
import time
from pathlib import Path

import joblib
import numpy as np

from bench.forests import FORESTS, _onnx_session, forest_rows, model_directory
from bench.inprocess import best_seconds
from bench.svg_plot import log_log_plot
from contract.model_directory import MODEL_FILENAME
from wsgi_service.model.forest import single_threaded_answers
from wsgi_service.model.loading import read_model_directory

ROW_COUNTS = (1, 100, 1_000, 10_000)
THREADED_ROWS = 10_000
ROUNDS = 3
OURS, OURS_THREADED, SKLEARN, ONNX, TREELITE = ("ours", "ours, 2 threads", "scikit-learn n_jobs=1",
                                               "onnxruntime (float32)", "treelite gtil")
ENGINES = (OURS, OURS_THREADED, SKLEARN, ONNX, TREELITE)
BENCH_DIR = Path(__file__).parent


def engines(directory: Path) -> dict[str, callable]:
    """Engine name -> a call taking the float64 rows and returning answers shaped as scikit-learn's."""
    model = read_model_directory(directory)
    if model.compiled is None:
        raise RuntimeError(f"{directory.name}: not compiled ({model.serving['detail']})")
    estimator = joblib.load(directory / MODEL_FILENAME)
    calls = {OURS: model.evaluate, OURS_THREADED: lambda rows: model.evaluate(rows, n_threads=2),
             SKLEARN: lambda rows: single_threaded_answers(estimator, rows)}
    onnx = _onnx_session(estimator, estimator.n_features_in_)
    if onnx is not None:
        # A classifier's outputs are labels then probabilities; a regressor's its values.
        calls[ONNX] = lambda rows: onnx(rows)[-1].reshape(len(rows), -1)
    try:
        import treelite
        import treelite.gtil
    except ImportError:
        return calls
    imported = treelite.sklearn.import_model(estimator)
    calls[TREELITE] = lambda rows: treelite.gtil.predict(imported, rows, nthread=1).reshape(len(rows), -1)
    return calls


def time_engines(directory: Path, rounds: int) -> tuple[dict, dict]:
    """Per (engine, rows): the median seconds per call; per engine: how its answers compare with scikit-learn's."""
    calls = engines(directory)
    inputs = {count: forest_rows(directory, count) for count in ROW_COUNTS}
    # onnxruntime and treelite take float32 rows: converted once, outside the clock (ours converts inside).
    float32 = {count: rows.astype(np.float32) for count, rows in inputs.items()}
    samples = {}
    for _ in range(rounds):
        for count in ROW_COUNTS:
            for name, call in calls.items():
                if name == OURS_THREADED and count != THREADED_ROWS:
                    continue
                rows = float32[count] if name in (ONNX, TREELITE) else inputs[count]
                samples.setdefault((name, count), []).append(best_seconds(lambda: call(rows)))
    reference = calls[SKLEARN](inputs[THREADED_ROWS])
    agreement = {}
    for name, call in calls.items():
        answers = call(float32[THREADED_ROWS] if name in (ONNX, TREELITE) else inputs[THREADED_ROWS])
        agreement[name] = ("bitwise equal" if np.array_equal(answers, reference)
                           else f"differs, up to {np.abs(answers - reference).max():.2g}")
    return {key: statistics.median(values) for key, values in samples.items()}, agreement


def render_table(results: dict[str, tuple[dict, dict]]) -> str:
    """One row per forest and batch size: each engine's time, rows per second for ours, and the ratios."""
    header = ["forest", "rows", *ENGINES, "scikit-learn / ours", "ours / onnxruntime", "ours / treelite"]
    lines = ["| " + " | ".join(header) + " |", "|---|" + "---:|" * (len(header) - 1)]
    for forest, (times, _) in results.items():
        for count in ROW_COUNTS:
            ours = times[(OURS, count)]
            cells = [forest, f"{count:,}"] + [_duration(times.get((name, count))) for name in ENGINES]
            cells += [_ratio(times.get((SKLEARN, count)), ours), _ratio(ours, times.get((ONNX, count))),
                      _ratio(ours, times.get((TREELITE, count)))]
            lines.append("| " + " | ".join(cells) + " |")
    lines.append("")
    for forest, (_, agreement) in results.items():
        lines.append(f"- {forest}, 10,000 rows against scikit-learn at n_jobs=1: "
                     + "; ".join(f"{name} {verdict}" for name, verdict in agreement.items() if name != SKLEARN))
    return "\n".join(lines) + "\n"


def render_plot(results: dict[str, tuple[dict, dict]]) -> str:
    series, colour_of, dash_of = {}, {}, {}
    for forest_index, (forest, (times, _)) in enumerate(results.items()):
        for engine_index, engine in enumerate(ENGINES):
            points = [(count, count / times[(engine, count)]) for count in ROW_COUNTS if (engine, count) in times]
            if len(points) < 2:  # ours on 2 threads is one point: the table has it
                continue
            name = f"{forest}: {engine}"
            series[name], colour_of[name], dash_of[name] = points, engine_index, forest_index
    return log_log_plot(series, "Rows per second against batch size (one thread; median of interleaved rounds)",
                        "rows per call", "rows per second", colour_of, dash_of)


def time_threads(directory: Path, rounds: int, row_counts=(10_000, 100_000)) -> list[str]:
    """Ours on one thread against two, per row count: medians of interleaved rounds, the answers
    checked bitwise; and whether this machine had a second core free meanwhile (two processes
    burning the CPU side by side against one alone: 1.0 when both cores are free, 2.0 when one is)."""
    model = read_model_directory(directory)
    lines = []
    for count in row_counts:
        rows = forest_rows(directory, count)
        one, two = [], []
        for _ in range(rounds):
            one.append(best_seconds(lambda: model.evaluate(rows)))
            two.append(best_seconds(lambda: model.evaluate(rows, n_threads=2)))
        exact = np.array_equal(model.evaluate(rows, n_threads=2), model.evaluate(rows))
        lines.append(f"{count:,} rows: 1 thread {_duration(statistics.median(one))}, 2 threads "
                     f"{_duration(statistics.median(two))}, speed-up "
                     f"{statistics.median(a / b for a, b in zip(one, two)):.2f}x; "
                     f"{'bitwise equal' if exact else 'NOT EQUAL'}")
    lines.append(f"second core: two burning processes take {_side_by_side_slowdown():.2f}x one's time")
    return lines


def _burn(_: object = None) -> float:
    started = time.perf_counter()
    total = 0
    for number in range(10_000_000):
        total += number
    return time.perf_counter() - started


def _side_by_side_slowdown() -> float:
    alone = _burn()
    with multiprocessing.get_context("fork").Pool(2) as pool:
        return statistics.mean(pool.map(_burn, range(2))) / alone


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    return f"{seconds * 1e6:,.1f} µs" if seconds < 1e-3 else f"{seconds * 1e3:,.1f} ms"


def _ratio(numerator: float | None, denominator: float | None) -> str:
    return "–" if numerator is None or denominator is None else f"{numerator / denominator:.2f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=ROUNDS)
    parser.add_argument("--forests", nargs="*", default=[spec.name for spec in FORESTS])
    parser.add_argument("--threads-only", action="store_true",
                        help="only ours on 1 and 2 threads, 10,000 and 100,000 rows, on the first forest named")
    parser.add_argument("--name", default=f"kernel-{datetime.date.today()}",
                        help="written as bench/NAME.md and bench/NAME.svg")
    arguments = parser.parse_args()
    load_before = os.getloadavg()
    if arguments.threads_only:
        spec = next(spec for spec in FORESTS if spec.name in arguments.forests)
        for line in time_threads(model_directory(spec), arguments.rounds):
            print(f"{spec.name}, {line}", flush=True)
        print(f"load average before {load_before[0]:.2f}, after {os.getloadavg()[0]:.2f} (1 min)")
        return
    results = {}
    for spec in FORESTS:
        if spec.name in arguments.forests:
            results[spec.name] = time_engines(model_directory(spec), arguments.rounds)
            print(f"{spec.name} timed", flush=True)
    table = render_table(results)
    footer = (f"\n{arguments.rounds} rounds; load average before {load_before[0]:.2f}, "
              f"after {os.getloadavg()[0]:.2f} (1 min)\n")
    (BENCH_DIR / f"{arguments.name}.md").write_text(table + footer)
    (BENCH_DIR / f"{arguments.name}.svg").write_text(render_plot(results))
    print(table + footer)


if __name__ == "__main__":
    main()
