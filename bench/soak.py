"""``python -m bench.soak``: a long mixed load against one server, its memory followed over time.

Mixed requests (single rows, 1,000- and 10,000-row batches, V2 JSON and
binary tensors, bad requests of every documented status) from a few client
threads, slow clients beside them, for ``--minutes``; every answer is judged
by the status it must get and good ones by the in-process answer. Every
``--sample-s`` seconds the RSS and PSS of the master and each worker are
read from /proc. After the warm-up (10% of the run, at most 2 minutes),
each process's growth in RSS and anonymous PSS (median of the last 3
samples against the first 3) must stay under 5% (``tests/harness/soak.py``
says why PSS as a whole is shown, not judged). Exit status 1 on any unexpected status, a worker
replaced, or growth over the limit.

The server: by default the production command started here
(``running_server``: ``python -m wsgi_service`` on a free loopback port,
stopped by PID at the end); ``--port`` names one already listening on
127.0.0.1 (a container run with ``--network host``), whose processes are
found by its listening socket, or by ``--pid`` (its master's PID). The
answers are checked against the model in ``--model-dir``, which must be the
one that server serves.

Writes ``--out``.csv (one row per sample and process) and ``--out``.svg
(RSS and anonymous PSS over time), and prints the summary.
"""

import argparse
import csv
import sys
from contextlib import ExitStack
from pathlib import Path

from bench.svg_plot import line_plot
from contract.model_directory import DEFAULT_MODEL_DIR
from tests.harness.mixed import mixed_requests
from tests.harness.server import REPO_ROOT, running_server
from tests.harness.soak import (CLIENT_THREADS, GROWTH_LIMIT_PCT, MEMORY_KEYS, Sample, ServerProcesses, SoakFigures,
                                soak_run)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.soak", description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=20, help="minutes of load (%(default)s)")
    parser.add_argument("--sample-s", type=float, default=10, help="seconds between memory samples (%(default)s)")
    parser.add_argument("--warmup-s", type=float, help="seconds left out of the judgement (10%% of the run, "
                                                       "at most 120)")
    parser.add_argument("--threads", type=int, default=CLIENT_THREADS, help="client threads (%(default)s)")
    parser.add_argument("--port", type=int, help="soak the server listening on 127.0.0.1:PORT instead of "
                                                 "starting one")
    parser.add_argument("--pid", type=int, help="with --port: its gunicorn master's PID (default: found by the port)")
    parser.add_argument("--model-dir", type=Path, default=REPO_ROOT / DEFAULT_MODEL_DIR,
                        help="the model the server serves (%(default)s)")
    parser.add_argument("--out", type=Path, default=Path("soak"), help="CSV and SVG path, without suffix "
                                                                       "(%(default)s)")
    parser.add_argument("--limit-pct", type=float, default=GROWTH_LIMIT_PCT, help="growth limit (%(default)s%%)")
    parser.add_argument("--app", help="gunicorn app to serve instead of the config's (a leak, to see this fail)")
    args = parser.parse_args(argv)
    if args.pid and not args.port:
        parser.error("--pid needs --port")

    requests = mixed_requests(args.model_dir)
    with ExitStack() as stack:
        if args.port:
            port = args.port
            processes = (ServerProcesses(args.pid, f"by --pid {args.pid}") if args.pid
                         else ServerProcesses.by_port(port))
        else:
            server = stack.enter_context(running_server(*([args.app] if args.app else []), model_dir=args.model_dir))
            port, processes = server.port, ServerProcesses(server.pid, "as started here (running_server)")
        print(f"soaking 127.0.0.1:{port} for {args.minutes:g} min; master {processes.master}, found "
              f"{processes.found_by}", flush=True)
        figures = soak_run(port, processes, requests, args.minutes * 60, args.sample_s, args.warmup_s,
                           args.threads, limit_pct=args.limit_pct, on_sample=_progress)
    write_csv(figures, args.out.with_suffix(".csv"))
    args.out.with_suffix(".svg").write_text(plot(figures))
    print("\n".join(figures.lines()))
    print(f"written: {args.out.with_suffix('.csv')}, {args.out.with_suffix('.svg')}")
    return 0 if figures.passed else 1


def _progress(sample: Sample) -> None:
    memory = ", ".join(f"{name} {m['rss_mib']:.1f}/{m['pss_mib']:.1f}/{m['pss_anon_mib']:.1f}"
                       for name, m in sample.memory.items())
    print(f"{sample.at_s:7.0f} s  {sample.requests:>9,} requests, {sample.unexpected} unexpected; "
          f"RSS/PSS/anonymous PSS MiB: {memory}", flush=True)


def write_csv(figures: SoakFigures, path: Path) -> None:
    with open(path, "w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(("seconds", "process", *MEMORY_KEYS, "requests", "unexpected", "after_warmup"))
        for sample in figures.samples:
            for name, memory in sample.memory.items():
                writer.writerow((f"{sample.at_s:.1f}", name, *(memory[key] for key in MEMORY_KEYS),
                                 sample.requests, sample.unexpected, int(sample.at_s >= figures.warmup_s)))


def plot(figures: SoakFigures) -> str:
    series = {}
    for name in figures.samples[0].memory:
        for key, label in (("rss_mib", "RSS"), ("pss_anon_mib", "anon PSS")):
            series[f"{name} {label}"] = [(s.at_s / 60, s.memory[name][key]) for s in figures.samples
                                         if name in s.memory]
    return line_plot(series, f"{figures.requests:,} requests, {figures.unexpected} unexpected, worst growth "
                             f"{figures.worst_growth_pct:+.2f}% after the warm-up", "minutes", "MiB",
                     figures.warmup_s / 60, "warm-up")


if __name__ == "__main__":
    sys.exit(main())
