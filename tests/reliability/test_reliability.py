"""Reliability: bounded load and fault runs against the production gunicorn, figures printed.

These runs take about five minutes in all and are left out of the default
run (every test here is marked ``reliability``; ``setup.cfg``); CI runs them
with ``pytest -m reliability``:

- load: 64 connections for 60 s, every answer compared with the in-process
  one; no errors, no wrong answers, worker memory flat;
- kill -9 of one worker under load: only its request in flight fails, and a
  new worker serves within seconds;
- SIGTERM to the master under load (a deploy): the drain answers every
  request it accepted, those in flight on a worker and those still waiting
  in the listen backlog; the master exits 0 within the drain's bound, and
  later connections are refused, never reset;
- the slow-client drill: 100 connections each of slow headers, slow bodies,
  idle ones and ones that never read, kept up while a normal client sends
  single rows; it must see no failure and a p99 at most 5 x its own without
  them (or 100 ms).
- a short soak: 75 s of mixed load (single rows, batches, V2 JSON and
  binary, bad requests) beside slow clients, every status as it must be and
  each process's memory flat after the warm-up (``python -m bench.soak`` runs
  the 20-minute one); and the same soak against a server with a deliberate
  leak fails its memory check.

The faults that need no load (a broken model refused at start, an unexpected
exception inside a request) run in every run: ``tests/live/test_faults.py``.
"""

import tempfile
from pathlib import Path

import pytest

from tests.harness.corpus import build_corpus
from tests.harness import drain_drill, runs
from tests.harness.mixed import mixed_requests
from tests.harness.server import WORKERS, free_port, running_server
from tests.harness.soak import ServerProcesses, soak_run
from tests.harness.wrk import write_corpus_table

pytestmark = pytest.mark.reliability

LOAD_CONNECTIONS = 64
LOAD_SECONDS = 60
SOAK_SECONDS = 75
SOAK_WARMUP_S = 15
SOAK_SAMPLE_S = 5
# The target's own bound, 5%, as the 20-minute soak (after its 2-minute warm-up).
# A worker answers about 20,000 requests in the judged 60 s here, and 5% of its
# ~61 MiB anonymous PSS is 3 MiB: about 150 bytes kept per request fails (the
# leaky app's 1 KiB per request reads +7.6% to +48%). A stricter bound fails a
# healthy server: after a 15 s warm-up the allocator still settles in steps
# (one worker's anonymous PSS rose 1.4 MiB, +2.3%, in a fresh-clone CI run on
# 2026-12-04; +0.5-0.8% in others), flat from the second minute on.
SOAK_SHORT_LIMIT_PCT = 5.0
LEAKY_APP = "tests.support.leaky_app:make_app()"


@pytest.fixture(scope="module")
def corpus(model_dir):
    return build_corpus(model_dir)


@pytest.fixture(scope="module")
def corpus_table(corpus, tmp_path_factory):
    return write_corpus_table(corpus, tmp_path_factory.mktemp("wrk"))


def report(capsys, figures) -> None:
    """Figures go to the terminal even under capture: they are the point of these runs."""
    with capsys.disabled():
        print("\n" + "\n".join(figures.lines()))


# --- A. load -----------------------------------------------------------------------

def test_load_at_64_connections_for_60_s(model_dir, corpus_table, capsys):
    figures = runs.load_run(model_dir, corpus_table, LOAD_CONNECTIONS, LOAD_SECONDS)
    report(capsys, figures)
    for run in (figures.warmup, figures.run):
        assert run.errors == 0, run
        assert run.not_200 == 0 and run.wrong == 0, run.first_wrong
        assert run.checked == run.requests > 0
    assert figures.workers_after == figures.workers_before, "a worker died or was replaced under load"
    growth = figures.growth_mib("rss_mib")
    assert all(mib <= runs.MEMORY_FLAT_MIB for mib in growth.values()), f"RSS growth per worker: {growth} MiB"


# --- B. faults under load --------------------------------------------------------------

def test_kill_9_of_a_worker_fails_only_its_request_in_flight(model_dir, corpus_table, capsys):
    figures = runs.kill_worker_run(model_dir, corpus_table)
    report(capsys, figures)
    run = figures.run
    # Only the connections the victim held may fail: one, for a sync worker.
    assert run.errors <= max(1, figures.held_at_kill), run
    assert run.non_2xx == 0 and run.not_200 == 0 and run.wrong == 0, run.first_wrong
    assert figures.serving_after_s < runs.RECOVERY_LIMIT_S
    assert figures.victim not in figures.workers_after and figures.replacement in figures.workers_after
    assert len(figures.workers_after) == WORKERS


def test_sigterm_completes_requests_in_flight_and_exits_in_time(model_dir, corpus, capsys):
    figures = runs.sigterm_run(model_dir, corpus)
    report(capsys, figures)
    assert figures.exit_code == 0
    assert figures.exit_after_s < runs.STOP_BOUND_S
    assert figures.slow_request.outcome == "ok"
    assert figures.lost_in_flight == []
    assert {a.outcome for a in figures.before_term} == {"ok"}
    # Connections the kernel had queued for a worker are answered (the drain); later ones may be
    # refused, never reset after connecting; nothing hangs, nothing is answered wrongly.
    assert {a.outcome for a in figures.queued} <= {"ok"}
    waiting = figures.connecting + figures.after_term
    assert {a.outcome for a in waiting} <= {"ok", "refused"}
    assert {a.outcome for a in figures.after_exit} <= {"refused"}
    assert not any("SIGKILL" in line or "TIMEOUT" in line for line in figures.master_log), figures.master_log


@pytest.mark.parametrize("how", ["python -m wsgi_service", "the Procfile's command as nobody"])
def test_the_drain_drill_loses_no_request(model_dir, how, capsys):
    """The deploy drill: 8 clients posting 2,000-row bodies, SIGTERM after 2 s (3 runs here;
    ``python -m tests.harness.drain_drill`` runs 20), as production runs the server and as EB's
    Python platform does, unprivileged."""
    exchanges = drain_drill.batch_exchanges(model_dir)
    if how == "python -m wsgi_service":
        drills = [drain_drill.process_run(model_dir, exchanges) for _ in range(3)]
    else:
        drills = []
        with tempfile.TemporaryDirectory(prefix="drain-drill-") as scratch:  # /tmp: any user may enter
            readable, env = drain_drill.unprivileged_copy(model_dir, Path(scratch))
            for _ in range(3):
                port = free_port()
                command = drain_drill.procfile_command("nobody", port)
                drills.append(drain_drill.process_run(readable, exchanges, command, port, env))
    with capsys.disabled():
        print(f"\ndrain drill, {how}:\n" + "\n".join(f"  {drill.line()}" for drill in drills))
    assert [len(drill.lost) for drill in drills] == [0, 0, 0]
    assert [drill.exit_code for drill in drills] == [0, 0, 0]
    assert all(drill.stop_seconds < runs.STOP_BOUND_S for drill in drills)


def test_a_horde_of_slow_clients_leaves_a_normal_one_its_latency(model_dir, corpus, capsys):
    """100 connections of each slow kind (headers, body, idle, unread: ``slow_clients``), kept up
    for as long as the front's longest deadline, while a normal client sends single rows."""
    figures = runs.slow_drill_run(model_dir, corpus)
    report(capsys, figures)
    assert figures.misses() == [], figures.lines()


# --- a short soak ------------------------------------------------------------------------

@pytest.fixture(scope="module")
def mixed(model_dir):
    return mixed_requests(model_dir)


def _short_soak(model_dir, mixed, *gunicorn_args):
    with running_server(*gunicorn_args, model_dir=model_dir) as server:
        return soak_run(server.port, ServerProcesses(server.pid, "as started here"), mixed, SOAK_SECONDS,
                        SOAK_SAMPLE_S, SOAK_WARMUP_S, limit_pct=SOAK_SHORT_LIMIT_PCT)


def test_a_short_soak_answers_every_kind_as_it_must_and_memory_stays_flat(model_dir, mixed, capsys):
    figures = _short_soak(model_dir, mixed)
    report(capsys, figures)
    assert figures.unexpected == 0, figures.first_unexpected
    assert not figures.processes_changed
    assert {kind for kind, _ in figures.counts} == {exchange.kind for exchange in mixed}
    assert figures.worst_growth_pct < SOAK_SHORT_LIMIT_PCT, figures.growth()
    assert figures.passed


def test_the_short_soak_fails_a_server_that_leaks(model_dir, mixed, capsys):
    """The memory check can fail: ``leaky_app`` keeps 1 KiB of every request."""
    figures = _short_soak(model_dir, mixed, LEAKY_APP)
    report(capsys, figures)
    assert figures.unexpected == 0, figures.first_unexpected
    workers = {name: keys for name, keys in figures.growth().items() if name.startswith("worker")}
    assert all(keys["pss_anon_mib"][2] > SOAK_SHORT_LIMIT_PCT for keys in workers.values()), workers
    assert not figures.passed
