"""``python -m bench.front``: what the server's front costs, gunicorn's sync worker against ours, in one run.

Every load runs against two fronts, started as production starts the
service (two workers, the same config) but for ``--worker-class``:

- **sync**: gunicorn's sync worker, the front the service had before its own:
  a worker reads each request itself and closes the connection after it;
- **front**: ``wsgi_service.operations.front.BufferingWorker``, the config's
  (``front.WORKER_CLASS``):
  requests read whole by an event loop, connections kept alive.

Under each front, the HTTP ceiling (``bench.ceiling``: parse the JSON,
answer a constant) and the service. wrk (one thread) posts, per round:

- an iris row at 8 and at 32 connections;
- a 10,000-row iris batch at 4 connections;
- a row of the production-sized forest (``--forest``, ``bench/forests.py``,
  about 2 million nodes) at 8 connections (its own servers).

Loads take turns, front by front, for ``--rounds`` rounds of
``--duration`` seconds after ``--warmup``; each figure is the median of
its rounds, each ratio the median of the per-round ratios (so a burst of
other work spoils one round, not a ratio): the service against the
ceiling under the same front, the service under the front against the
service under sync, and the service under the front against the ceiling
under sync (the ceiling the service was held to before). Every answer must
be a 200.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from contextlib import ExitStack
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from bench.forests import FORESTS, forest_rows, model_directory
from tests.harness.server import running_server
from tests.harness.wrk import body_args, run_wrk

FRONTS = {"sync": ("--worker-class", "sync"), "front": ()}
# name: (body, connections, model); the model is "iris" or "forest".
LOADS = {
    "iris row, c=8": ("row", 8, "iris"),
    "iris row, c=32": ("row", 32, "iris"),
    "10,000 iris rows, c=4": ("batch", 4, "iris"),
    "forest row, c=8": ("forest_row", 8, "forest"),
}
BATCH_ROWS = 10_000


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.front", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--forest", choices=[spec.name for spec in FORESTS], default="classifier")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=int, default=5, metavar="S")
    parser.add_argument("--warmup", type=int, default=1, metavar="S")
    args = parser.parse_args(argv)
    print(f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} CPUs, "
          f"load average {os.getloadavg()[0]:.2f}", flush=True)
    forest_dir = model_directory(next(spec for spec in FORESTS if spec.name == args.forest))
    with tempfile.TemporaryDirectory(prefix="bench-front-") as scratch, ExitStack() as servers:
        iris_dir = Path(scratch) / "iris"
        subprocess.run([sys.executable, "-m", "training", "--out", str(iris_dir)], check=True,
                       stdout=subprocess.DEVNULL)
        bodies = _bodies(Path(scratch), forest_dir)
        urls = {}
        for front, gunicorn_args in FRONTS.items():
            ceiling = servers.enter_context(running_server(*gunicorn_args, "bench.ceiling:application",
                                                           model_dir=iris_dir))
            urls[front, "ceiling"] = ceiling.base_url
            for model, directory in (("iris", iris_dir), ("forest", forest_dir)):
                urls[front, model] = servers.enter_context(
                    running_server(*gunicorn_args, model_dir=directory)).base_url
        rates: dict[tuple, list[float]] = {}
        for round_number in range(args.rounds):
            for load, (body, connections, model) in LOADS.items():
                for front in FRONTS:
                    for server in ("ceiling", model):
                        url = f"{urls[front, server]}/predict"
                        if args.warmup:
                            run_wrk(url, body_args(bodies[body]), connections, args.warmup)
                        run = run_wrk(url, body_args(bodies[body]), connections, args.duration)
                        if run.errors:
                            raise SystemExit(f"{load}, {front} {server}: {run.errors} failed requests ({run.detail})")
                        rates.setdefault((load, front, server == "ceiling"), []).append(run.requests_per_s)
            print(f"round {round_number + 1} done, load average {os.getloadavg()[0]:.2f}", flush=True)
    print(render(rates, args))


def _bodies(scratch: Path, forest_dir: Path) -> dict[str, Path]:
    iris = np.random.default_rng(7).uniform([4.3, 2.0, 1.0, 0.1], [7.9, 4.4, 6.9, 2.5], size=(BATCH_ROWS, 4))
    documents = {"row": [[5.1, 3.5, 1.4, 0.2]], "batch": np.round(iris, 1).tolist(),
                 "forest_row": forest_rows(forest_dir, 1).tolist()}
    paths = {}
    for name, document in documents.items():
        paths[name] = scratch / f"{name}.json"
        paths[name].write_text(json.dumps(document))
    return paths


def _ratio(numerators: list[float], denominators: list[float]) -> float:
    return statistics.median(a / b for a, b in zip(numerators, denominators))


def render(rates: dict[tuple, list[float]], args) -> str:
    lines = [f"\nrequests/s, medians of {args.rounds} rounds of {args.duration} s; load average now "
             f"{os.getloadavg()[0]:.2f}",
             "| load | ceiling, sync | service, sync | ceiling, front | service, front | service/ceiling, sync "
             "| service/ceiling, front | front/sync (service) | service front / ceiling sync |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for load in LOADS:
        ceiling_sync, service_sync = rates[load, "sync", True], rates[load, "sync", False]
        ceiling_front, service_front = rates[load, "front", True], rates[load, "front", False]
        lines.append(
            f"| {load} | {statistics.median(ceiling_sync):,.0f} | {statistics.median(service_sync):,.0f} "
            f"| {statistics.median(ceiling_front):,.0f} | {statistics.median(service_front):,.0f} "
            f"| {_ratio(service_sync, ceiling_sync):.2f} | {_ratio(service_front, ceiling_front):.2f} "
            f"| {_ratio(service_front, service_sync):.2f} | {_ratio(service_front, ceiling_sync):.2f} |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
