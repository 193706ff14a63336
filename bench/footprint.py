"""``python -m bench.footprint``: what one server costs to start and to hold, in the Python that runs it.

A dependency that the service does not use can still cost every deployment:
scikit-learn imports pandas at start whenever it is installed. Its cost is
the difference between two virtualenvs that differ by it alone, so this
command measures one server per model directory, in the Python that runs it
(``python -m wsgi_service`` through the tests' harness, 2 workers, 127.0.0.1),
and appends one JSON line per server to ``--out``: start to a healthy
``/health``, then PSS and RSS of master and workers after ``--load-seconds``
of single rows at 8 connections (wrk), and ``pss_alone_mib`` as root
(``bench.memory``). Run it with each virtualenv in turns, a few rounds, then
``--summary`` prints the medians per Python and model. The machine's load
average is recorded with each line, since PSS shrinks as other processes
share the same files.
"""

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

from bench.load import run_load
from contract.model_directory import MANIFEST_FILENAME
from bench.memory import server_memory
from tests.harness.server import running_server
from tests.harness.wrk import ensure_wrk

SETTLE_S = 0.5  # after the last worker is forked, before the load
CONNECTIONS = 8


def measure(model_dir: Path, label: str, load_seconds: int) -> dict:
    """One server on ``model_dir`` (numeric features: each row is 0.5 throughout): start to healthy,
    memory after the load, and the load's errors (any answer but a 2xx), which spoil the figures."""
    features = len(json.loads((model_dir / MANIFEST_FILENAME).read_text())["features"])
    with tempfile.TemporaryDirectory(prefix="footprint-") as scratch:
        body = Path(scratch) / "row.json"
        body.write_text(json.dumps([[0.5] * features]))
        with running_server(model_dir=model_dir) as server:
            time.sleep(SETTLE_S)
            load = run_load(server.base_url + "/predict", body, 1, CONNECTIONS, load_seconds, 1)
            memory = server_memory(server.pid)
            start_s = server.start_to_healthy_s
    return {"label": label, "python": sys.executable, "model": model_dir.name, "time": time.strftime("%FT%T%z"),
            "load_average": os.getloadavg()[0], "start_to_healthy_s": round(start_s, 3),
            "requests_per_s": round(load.requests_per_s), "errors": load.errors,
            "pss_mib": round(memory["pss_mib"], 1), "rss_mib": round(memory["rss_mib"], 1),
            "pss_alone_mib": memory["pss_alone_mib"] and round(memory["pss_alone_mib"], 1)}


def summary(lines: list[dict]) -> str:
    """Medians per label and model, with every run's figure beside them."""
    runs = defaultdict(list)
    for line in lines:
        runs[line["model"], line["label"]].append(line)
    rows = ["model, label, runs: median start to healthy s (each run), median PSS MiB after load (each run), "
            "median PSS alone MiB"]
    for (model, label), found in sorted(runs.items()):
        starts = "/".join(f"{run['start_to_healthy_s']:.2f}" for run in found)
        pss = "/".join(f"{run['pss_mib']:.0f}" for run in found)
        rows.append(f"{model}, {label}, {len(found)}: {_median(found, 'start_to_healthy_s'):.2f} s ({starts}), "
                    f"{_median(found, 'pss_mib'):.1f} MiB ({pss}), {_median(found, 'pss_alone_mib'):.1f} MiB")
    return "\n".join(rows)


def _median(runs: list[dict], key: str) -> float:
    values = [run[key] for run in runs if run[key] is not None]
    return statistics.median(values) if values else float("nan")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.footprint", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model_dirs", nargs="*", type=Path, metavar="MODEL_DIR")
    parser.add_argument("--out", type=Path, required=True, help="JSON lines file: appended to, or summarised")
    parser.add_argument("--label", help="what this Python is (e.g. 'pandas', 'no pandas')")
    parser.add_argument("--load-seconds", type=int, default=3, help="seconds of single rows before memory is read")
    parser.add_argument("--summary", action="store_true", help="print the medians of --out and measure nothing")
    args = parser.parse_args(argv)
    if args.summary:
        print(summary([json.loads(line) for line in args.out.read_text().splitlines() if line.strip()]))
        return 0
    if not args.model_dirs or not args.label:
        parser.error("give MODEL_DIR... and --label (or --summary)")
    ensure_wrk()
    for model_dir in args.model_dirs:
        figures = measure(model_dir.resolve(), args.label, args.load_seconds)
        print(json.dumps(figures), flush=True)
        with args.out.open("a") as out:
            out.write(json.dumps(figures) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
