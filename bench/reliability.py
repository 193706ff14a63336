"""``python -m bench.reliability``: the reliability runs with their figures, and a worker comparison.

Without options: the runs ``pytest -m reliability`` checks (load at 64
connections for 60 s, kill -9 of a worker, SIGTERM to the master, the
slow-client drill held past every deadline of the front), and the four model
refusals; then one table of targets, met or not. Exit status
1 when a target is missed.

``--compare``: the same service under other worker settings, to choose them
(gunicorn flags override ``wsgi_service.operations.gunicorn_config``): a shorter load,
with and without keep-alive, kill -9, and the slow-client drill, per setting.

Everything runs on 127.0.0.1 against ``python -m wsgi_service`` with 2
workers; run from the repository root. The machinery lives in
``tests/harness/`` (``runs`` above all).
"""

import argparse
import json
import subprocess
import sys
import tempfile
from dataclasses import asdict, is_dataclass
from pathlib import Path

from tests.harness.corpus import build_corpus
from tests.harness.proc import load_average
from tests.harness.runs import (
    STOP_BOUND_S,
    MEMORY_FLAT_MIB,
    RECOVERY_LIMIT_S,
    kill_worker_run,
    load_run,
    refusal_runs,
    sigterm_run,
    slow_drill_run,
)
from tests.harness.wrk import write_corpus_table

# name -> gunicorn flags over the config; the first is the config as it is.
WORKER_SETTINGS = {
    "the front (config)": (),
    "sync, timeout 30": ("--worker-class", "sync"),
    "gthread, 4 threads": ("--worker-class", "gthread", "--threads", "4"),
    # A worker takes no more connections than it has threads, and none is kept
    # alive: the rest wait in the kernel's backlog, shared by both workers.
    "gthread, 4 threads, 4 connections": ("--worker-class", "gthread", "--threads", "4",
                                          "--worker-connections", "4", "--keep-alive", "0"),
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.reliability", description=__doc__.split("\n\n")[0])
    parser.add_argument("--model-dir", type=Path, help="model to serve (default: train one in a temporary directory)")
    parser.add_argument("--load-seconds", type=int, default=60, help="seconds of load (%(default)s)")
    parser.add_argument("--compare", action="store_true", help="compare worker settings instead")
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write every figure as JSON")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="reliability-") as scratch:
        scratch = Path(scratch)
        model_dir = args.model_dir.resolve() if args.model_dir else _train(scratch / "model")
        corpus = build_corpus(model_dir)
        corpus_table = write_corpus_table(corpus, scratch)
        print(f"load average before: {load_average()}", flush=True)
        if args.compare:
            figures, rows = _compare(model_dir, corpus, corpus_table, args.load_seconds)
        else:
            figures, rows = _target_runs(model_dir, corpus, corpus_table, scratch, args.load_seconds)
        print(f"load average after: {load_average()}")
    print()
    print(_table(rows))
    if args.json:
        args.json.write_text(json.dumps({"figures": figures, "table": rows}, indent=2, default=_plain) + "\n")
        print(f"written to {args.json}")
    return 1 if any(row[-1] == "NO" for row in rows) else 0


def _target_runs(model_dir: Path, corpus, corpus_table, scratch: Path, load_seconds: int):
    load = _shown(load_run(model_dir, corpus_table, seconds=load_seconds))
    kill = _shown(kill_worker_run(model_dir, corpus_table))
    term = _shown(sigterm_run(model_dir, corpus))
    slow = _shown(slow_drill_run(model_dir, corpus))
    refusals = refusal_runs(model_dir, scratch)
    for refusal in refusals.values():
        _shown(refusal)

    growth = load.growth_mib("rss_mib")
    run = load.run
    waiting = term.queued + term.connecting
    rows = [
        ("load, 64 connections", "requests (checked)", f"{run.requests:,} ({run.checked:,})", "", ""),
        ("", "requests/s, p99", f"{run.requests_per_s:,.0f}/s, {run.p99_ms:.1f} ms", "", ""),
        ("", "errors", str(run.errors), "0", _met(run.errors == 0)),
        ("", "wrong answers (and not 200)", f"{run.wrong} ({run.not_200})", "0",
         _met(run.wrong == run.not_200 == 0)),
        ("", "RSS growth per worker", ", ".join(f"{mib:+.1f}" for mib in growth.values()) + " MiB",
         f"<= {MEMORY_FLAT_MIB} MiB", _met(all(mib <= MEMORY_FLAT_MIB for mib in growth.values()))),
        ("kill -9 a worker", "failed requests", f"{kill.run.errors} (victim held {kill.held_at_kill})",
         "<= in flight", _met(kill.run.errors <= max(1, kill.held_at_kill))),
        ("", "wrong answers", str(kill.run.wrong), "0", _met(kill.run.wrong == 0)),
        ("", "to a new worker serving", f"{kill.serving_after_s * 1e3:.0f} ms",
         f"< {RECOVERY_LIMIT_S} s", _met(kill.serving_after_s < RECOVERY_LIMIT_S)),
        ("SIGTERM to the master", "lost in flight", f"{len(term.lost_in_flight)} of {len(term.in_flight)}", "0",
         _met(not term.lost_in_flight)),
        ("", "exit after", f"{term.exit_after_s:.2f} s (status {term.exit_code})", f"< {STOP_BOUND_S:.0f} s",
         _met(term.exit_after_s < STOP_BOUND_S and term.exit_code == 0)),
        ("", "waiting for a worker, reset", f"{sum(a.outcome == 'reset' for a in waiting)} of {len(waiting)}",
         "0", _met(not any(a.outcome == "reset" for a in waiting))),
        ("", "connected after SIGTERM, reset", str(sum(a.outcome == "reset" for a in term.after_term)), "0",
         _met(not any(a.outcome == "reset" for a in term.after_term))),
        ("", "after exit: refused", f"{sum(a.outcome == 'refused' for a in term.after_exit)} "
         f"of {len(term.after_exit)}", "all", _met(all(a.outcome == "refused" for a in term.after_exit))),
        ("slow-client drill", "target missed", "; ".join(slow.misses()) or "nothing", "nothing",
         _met(not slow.misses())),
    ]
    for number, (fault, refusal) in enumerate(refusals.items()):
        one_line = (refusal.exit_code == 1 and len(refusal.output_lines) == 1
                    and refusal.output_lines[0].startswith("Error: ") and refusal.expected in refusal.output)
        rows.append(("model refused at start" if number == 0 else "", fault,
                     f"exit {refusal.exit_code}, {len(refusal.output_lines)} line, {refusal.seconds:.1f} s",
                     "exit 1, one line", _met(one_line)))
    figures = {"load": load, "kill": kill, "sigterm": term, "slow_clients": slow, "refusals": refusals}
    return figures, rows


def _compare(model_dir: Path, corpus, corpus_table, load_seconds: int):
    """Loads interleaved across the settings (a burst of other work on the machine then spoils
    one setting's figure, not a whole comparison), then kill -9 and the slow clients per setting."""
    figures = {name: {} for name in WORKER_SETTINGS}
    for close in (True, False):
        for name, flags in WORKER_SETTINGS.items():
            print(f"\n=== {name}: {' '.join(flags) or '(no flags)'}", flush=True)
            figures[name]["load_close" if close else "load_keepalive"] = _shown(
                load_run(model_dir, corpus_table, seconds=load_seconds, gunicorn_args=flags, close=close))
    for name, flags in WORKER_SETTINGS.items():
        print(f"\n=== {name}: {' '.join(flags) or '(no flags)'}", flush=True)
        figures[name]["kill"] = _shown(kill_worker_run(model_dir, corpus_table, gunicorn_args=flags))
        figures[name]["slow_clients"] = _shown(slow_drill_run(model_dir, corpus, gunicorn_args=flags))
    rows = []
    for name, runs in figures.items():
        close, keepalive, kill, slow = (runs[key] for key in ("load_close", "load_keepalive", "kill", "slow_clients"))
        errors = close.run.errors + keepalive.run.errors
        wrong = close.run.wrong + close.run.not_200 + keepalive.run.wrong + keepalive.run.not_200
        rows += [
            (name, "req/s, p99 (Connection: close)", f"{close.run.requests_per_s:,.0f}/s, {close.run.p99_ms:.1f} ms "
             f"(load {close.load_before[0]:.1f})", "", ""),
            ("", "req/s, p99 (keep-alive)", f"{keepalive.run.requests_per_s:,.0f}/s, {keepalive.run.p99_ms:.1f} ms "
             f"(load {keepalive.load_before[0]:.1f})", "", ""),
            ("", "errors, wrong", f"{errors}, {wrong}", "0, 0", _met(errors + wrong == 0)),
            ("", "worker RSS/PSS at end", "; ".join(f"{m['rss_mib']}/{m['pss_mib']}"
                                                    for m in close.memory_end.values()) + " MiB", "", ""),
            ("", "kill -9: failed, recovery", f"{kill.run.errors} (held {kill.held_at_kill}), "
             f"{kill.serving_after_s * 1e3:.0f} ms", "", ""),
            ("", "slow-client drill: missed", "; ".join(slow.misses()) or "nothing", "nothing",
             _met(not slow.misses())),
        ]
    return figures, rows


def _shown(figures):
    print("\n".join(figures.lines()), flush=True)
    return figures


def _met(ok: bool) -> str:
    return "yes" if ok else "NO"


def _table(rows) -> str:
    header = ("run", "figure", "value", "target", "met")
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]
    lines = [header, tuple("-" * width for width in widths), *rows]
    return "\n".join("  ".join(str(cell).ljust(width) for cell, width in zip(line, widths)).rstrip()
                     for line in lines)


def _plain(value):
    if is_dataclass(value):
        return asdict(value)
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def _train(out: Path) -> Path:
    print(f"training the default model into {out}", flush=True)
    subprocess.run([sys.executable, "-m", "training", "--out", str(out)], check=True, stdout=subprocess.DEVNULL)
    return out


if __name__ == "__main__":
    sys.exit(main())
