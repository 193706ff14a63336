"""``python -m bench``: measure the service against its HTTP ceiling, in one run, on loopback.

Absolute numbers depend on the machine; ratios measured in the same run do
not (much), so every HTTP figure is set beside the ceiling's: a trivial app
that only parses the JSON body, served by the very same gunicorn settings.
Three servers run side by side, each bound to 127.0.0.1 only and stopped by
PID at the end, even on Ctrl-C:

- ceiling: ``bench.ceiling:application`` under ``wsgi_service.operations.gunicorn_config``;
- service: ``python -m wsgi_service``, the production command (compiled forest);
- ``COMPILE_FOREST=0``: the same service, scikit-learn's own ``predict_proba`` serving.

Each is started ``--starts`` times, one server at a time, and timed from
process start to a healthy /health (the median is kept). The wrk loads then
take turns across the servers, for ``--rounds`` rounds, and each figure is its
best over the rounds (highest rate, lowest latency): a burst of other work on
a shared machine spoils one round of one server, not a ratio. Memory is read before and after the loads;
in-process timings of the predictor and the validator close the run. One
table, with the targets, goes to stdout; ``--json`` keeps it.
"""

import argparse
import http.client
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

from bench import inprocess
from bench.forests import FOREST_LOAD, FORESTS, ForestSpec, forest_rows, model_directory, render_forests, time_forest
from bench.load import run_load
from bench.memory import server_memory
from bench.report import render, rows_from
from contract.model_directory import MODEL_FILENAME
from tests.harness.server import Server, running_server
from tests.harness.wrk import ensure_wrk
from wsgi_service.operations.front import WORKER_CLASS as FRONT_WORKER

SINGLE_ROW = [[5.1, 3.5, 1.4, 0.2]]
BATCH_SIZES = (1_000, 10_000)
# (name, rows per request, connections): the loads every server gets.
LOADS = (("1 row, c=8", 1, 8), ("1 row, c=32", 1, 32),
         ("1,000 rows, c=4", 1_000, 4), ("10,000 rows, c=4", 10_000, 4))
# (name, gunicorn app arguments, extra environment)
SERVERS = (("ceiling", ["bench.ceiling:application"], {}),
           ("service", [], {}),
           ("COMPILE_FOREST=0", [], {"COMPILE_FOREST": "0"}))
SETTLE_S = 0.5  # after the last worker is forked, before memory is read


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="Measure the service against its HTTP ceiling and scikit-learn, in one run, on loopback "
                    "(127.0.0.1 only); print one table with the targets. Run from the repository root.")
    parser.add_argument("--model-dir", type=Path,
                        help="model directory to serve (default: train one into a temporary directory)")
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write the table and raw figures as JSON")
    parser.add_argument("--duration", type=_at_least(1), default=5, metavar="S",
                        help="seconds of wrk per figure and round (%(default)s)")
    parser.add_argument("--warmup", type=_at_least(0), default=1, metavar="S",
                        help="seconds of discarded wrk before each figure (%(default)s)")
    parser.add_argument("--rounds", type=_at_least(1), default=2,
                        help="rounds of every load on every server; the best counts (%(default)s)")
    parser.add_argument("--starts", type=_at_least(1), default=3,
                        help="starts of each server timed to healthy; the median counts (%(default)s)")
    parser.add_argument("--workers", type=_at_least(1), default=2,
                        help="gunicorn workers, via WEB_CONCURRENCY (%(default)s)")
    parser.add_argument("--worker-class", default=FRONT_WORKER,
                        help="gunicorn worker class (default: the config's, %(default)s)")
    parser.add_argument("--forests", default=",".join(spec.name for spec in FORESTS),
                        help="production-sized forests to measure too, comma-separated, or 'none' "
                             "(%(default)s; fitted once, then cached: see bench/forests.py)")
    args = parser.parse_args(argv)
    chosen = [] if args.forests == "none" else args.forests.split(",")
    unknown = set(chosen) - {spec.name for spec in FORESTS}
    if unknown:
        parser.error(f"--forests: no forest named {', '.join(sorted(unknown))}")

    # SIGTERM unwinds like Ctrl-C, through the finally blocks that stop the servers.
    signal.signal(signal.SIGTERM, _interrupt)
    ensure_wrk()
    meta = {"workers": args.workers, "worker_class": args.worker_class, "wrk_seconds": args.duration,
            "warmup_seconds": args.warmup, "rounds": args.rounds, "starts": args.starts, "wrk_threads": 1,
            "cpus": os.cpu_count(), "load_average_before": _load_average()}
    try:
        with tempfile.TemporaryDirectory(prefix="bench-") as scratch:
            scratch = Path(scratch)
            model_dir = args.model_dir.resolve() if args.model_dir else _train(scratch / "model")
            results = _measure_servers(model_dir, _write_bodies(scratch), args)
            print("in-process timings", flush=True)
            timings = inprocess.time_all(model_dir)
            forests = {spec.name: _measure_forest(spec, scratch, args)
                       for spec in FORESTS if spec.name in chosen}
    except KeyboardInterrupt:
        print("\ninterrupted: servers stopped", file=sys.stderr)
        return 130
    meta["load_average_after"] = _load_average()
    meta["time"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")

    rows = rows_from(results, timings)
    print()
    print(render(rows, meta))
    if forests:
        print()
        print(render_forests(forests, results["ceiling"]["loads"][FOREST_LOAD[0]]["requests_per_s"]))
    if args.json:
        args.json.write_text(json.dumps({
            "meta": meta,
            "table": [row.to_dict() for row in rows],
            "raw": {"servers": results, "inprocess": [timing.__dict__ for timing in timings]},
            "forests": forests,
        }, indent=2) + "\n")
        print(f"\nwritten to {args.json}")
    return 0


def _measure_servers(model_dir: Path, bodies: dict[int, Path], args) -> dict:
    """Start every server, load them in turns, read their memory; stop them all, whatever happens."""
    results = {name: {"start_to_healthy_s": None, "starts_s": [], "loads": {}, "rounds": []}
               for name, _, _ in SERVERS}
    with ExitStack() as running:
        servers: dict[str, Server] = {}
        for name, app_args, extra_env in SERVERS:
            gunicorn_args = [*(("--worker-class", args.worker_class) if args.worker_class != FRONT_WORKER else ()),
                             *app_args]
            serve = dict(model_dir=model_dir, env=extra_env, workers=args.workers)
            starts = results[name]["starts_s"]
            for _ in range(args.starts - 1):
                with running_server(*gunicorn_args, **serve) as server:
                    starts.append(server.start_to_healthy_s)
            server = running.enter_context(running_server(*gunicorn_args, **serve))
            starts.append(server.start_to_healthy_s)
            results[name]["start_to_healthy_s"] = statistics.median(starts)
            print(f"{name}: healthy after {', '.join(f'{s:.2f}' for s in starts)} s", flush=True)
            for path in bodies.values():
                _check_answers(server.port, path)
            servers[name] = server
        time.sleep(SETTLE_S)
        for name, server in servers.items():
            results[name]["memory_before_load"] = server_memory(server.pid)

        for round_number in range(1, args.rounds + 1):
            for load_name, rows, connections in LOADS:
                for name, server in servers.items():
                    result = run_load(server.base_url + "/predict", bodies[rows], rows, connections,
                                      args.duration, args.warmup).to_dict()
                    results[name]["rounds"].append({"round": round_number, "load": load_name, **result})
                    results[name]["loads"][load_name] = _best(results[name]["loads"].get(load_name), result)
                    print(f"round {round_number}, {load_name}, {name}: "
                          f"{result['requests_per_s']:,.0f} requests/s, "
                          f"{result['rows_per_s']:,.0f} rows/s, p99 {result['p99_ms']:.1f} ms"
                          + (f", {result['errors']} ERRORS" if result["errors"] else ""), flush=True)

        # Read again after the load: what the workers hold once they have served batches.
        for name, server in servers.items():
            results[name]["memory"] = server_memory(server.pid)
    return results


def _measure_forest(spec: ForestSpec, scratch: Path, args) -> dict:
    """One production-sized forest: in process, then served: start to healthy, memory, single rows."""
    directory = model_directory(spec)
    print(f"{spec.name}: in-process timings", flush=True)
    figures = {"model_file_mib": (directory / MODEL_FILENAME).stat().st_size / 2**20,
               "timings": [timing.to_dict() for timing in time_forest(spec, directory)]}
    body = scratch / f"{spec.name}-row.json"
    body.write_text(json.dumps(forest_rows(directory, 1).tolist()))
    name, rows, connections = FOREST_LOAD
    with running_server(model_dir=directory, workers=args.workers) as server:
        figures["start_to_healthy_s"] = server.start_to_healthy_s
        figures["nodes"] = _get_json(server.port, "/model")["serving"]["detail"]
        _check_answers(server.port, body)
        time.sleep(SETTLE_S)
        figures["memory_before_load"] = server_memory(server.pid)
        figures["load"] = run_load(server.base_url + "/predict", body, rows, connections,
                                   args.duration, args.warmup).to_dict()
        figures["memory"] = server_memory(server.pid)
    print(f"{spec.name}: healthy after {figures['start_to_healthy_s']:.2f} s, "
          f"{figures['load']['requests_per_s']:,.0f} single rows/s, "
          f"PSS {figures['memory']['pss_mib']:.0f} MiB", flush=True)
    return figures


def _get_json(port: int, path: str) -> dict:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request("GET", path)
        return json.loads(connection.getresponse().read())
    finally:
        connection.close()


def _best(best: dict | None, result: dict) -> dict:
    """Each figure's best over the rounds so far (rates highest, latencies lowest); counts are summed."""
    if best is None:
        return dict(result)
    return {key: (max if key.endswith("_per_s") else min)(best[key], result[key])
            if key.endswith(("_per_s", "_ms")) else best[key] + result[key]
            for key in result}


def _at_least(least: int):
    """An argparse type: a whole number of at least ``least`` (wrk reads no fractions of a second)."""
    def parse(text: str) -> int:
        value = int(text)
        if value < least:
            raise argparse.ArgumentTypeError(f"needs at least {least}")
        return value
    parse.__name__ = "whole number"
    return parse


def _interrupt(signum, frame):
    raise KeyboardInterrupt


def _load_average() -> list[float]:
    return [round(average, 2) for average in os.getloadavg()]


def _train(out: Path) -> Path:
    print(f"training the default model into {out}", flush=True)
    subprocess.run([sys.executable, "-m", "training", "--out", str(out)], check=True, stdout=subprocess.DEVNULL)
    return out


def _write_bodies(directory: Path) -> dict[int, Path]:
    """The request bodies wrk posts, by rows: one iris row, and iris rows cycled for batches."""
    bodies = {1: SINGLE_ROW, **{size: inprocess.iris_rows(size).tolist() for size in BATCH_SIZES}}
    paths = {}
    for rows, body in bodies.items():
        paths[rows] = directory / f"body-{rows}.json"
        paths[rows].write_text(json.dumps(body, separators=(",", ":")))
    return paths


def _check_answers(port: int, body_path: Path) -> None:
    """Every body must get a 200 before it is timed: a benchmark of 4xx answers measures nothing."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request("POST", "/predict", body_path.read_bytes(), {"Content-Type": "application/json"})
        response = connection.getresponse()
        if response.status != 200:
            raise RuntimeError(f"POST {body_path.name} answered {response.status}: {response.read()[:300]!r}")
        response.read()
    finally:
        connection.close()


if __name__ == "__main__":
    sys.exit(main())
