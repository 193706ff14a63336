"""Reliability: bounded load and fault runs against the production gunicorn, figures printed.

Runs marked ``reliability`` take about two minutes in all and are left out
of the default run (``setup.cfg``); CI runs them with ``pytest -m
reliability``:

- load: 64 connections for 60 s, every answer compared with the in-process
  one; no errors, no wrong answers, worker memory flat;
- kill -9 of one worker under load: only its request in flight fails, and a
  new worker serves within seconds;
- SIGTERM to the master under load (a deploy): requests in flight on a
  worker complete, the master exits well within ``graceful_timeout``, and
  then connections are refused (those still waiting for a worker are reset,
  which the figures show);
- three slow clients (headers, then the body a byte at a time) must not
  starve a fast one (an expected failure with sync workers, which they do).

Unmarked, so in every run: the model refused at start (missing, truncated,
tampered, other scikit-learn version) with one line and exit status 1, and a
real unexpected exception answered as a logged 500 by a worker that keeps
serving.
"""

import json
import re

import pytest

from tests.problems import assert_problem
from tests.reliability_apps import HEALTHY_ROW, POISONED_ROW
from tests.reliability_harness import (
    WORKERS,
    Exchange,
    build_corpus,
    http_exchange,
    live_server,
    request_bytes,
    run_wrk,
    write_wrk_files,
)
from tests.reliability_scenarios import (
    GRACEFUL_TIMEOUT_S,
    REFUSALS,
    kill_worker_run,
    load_run,
    refusal_runs,
    sigterm_run,
    slow_clients_run,
)
from tests.server_logs import json_lines

LOAD_CONNECTIONS = 64
LOAD_SECONDS = 60
# Each worker serves 40,000 to 70,000 requests in 60 s here: a leak of about
# 40 bytes a request or more fails this.
MEMORY_FLAT_MIB = 1.5
RECOVERY_LIMIT_S = 5
FAST_CLIENT_LIMIT_S = 2


@pytest.fixture(scope="module")
def corpus(model_dir):
    return build_corpus(model_dir)


@pytest.fixture(scope="module")
def wrk_files(corpus, tmp_path_factory):
    return write_wrk_files(corpus, tmp_path_factory.mktemp("wrk"))


def report(capsys, figures) -> None:
    """Figures go to the terminal even under capture: they are the point of these runs."""
    with capsys.disabled():
        print("\n" + "\n".join(figures.lines()))


# --- A. load -----------------------------------------------------------------------

@pytest.mark.reliability
def test_load_at_64_connections_for_60_s(model_dir, wrk_files, capsys):
    figures = load_run(model_dir, wrk_files, LOAD_CONNECTIONS, LOAD_SECONDS)
    report(capsys, figures)
    for run in (figures.warmup, figures.run):
        assert run.errors == 0, run
        assert run.not_200 == 0 and run.wrong == 0, run.first_wrong
        assert run.checked == run.requests > 0
    assert figures.workers_after == figures.workers_before, "a worker died or was replaced under load"
    growth = figures.growth_mib("rss_mib")
    assert all(mib <= MEMORY_FLAT_MIB for mib in growth.values()), f"RSS growth per worker: {growth} MiB"


# --- B. faults under load --------------------------------------------------------------

@pytest.mark.reliability
def test_kill_9_of_a_worker_fails_only_its_request_in_flight(model_dir, wrk_files, capsys):
    figures = kill_worker_run(model_dir, wrk_files)
    report(capsys, figures)
    run = figures.run
    # Only the connections the victim held may fail: one, for a sync worker.
    assert run.errors <= max(1, figures.held_at_kill), run
    assert run.non_2xx == 0 and run.not_200 == 0 and run.wrong == 0, run.first_wrong
    assert figures.serving_after_s < RECOVERY_LIMIT_S
    assert figures.victim not in figures.workers_after and figures.replacement in figures.workers_after
    assert len(figures.workers_after) == WORKERS


@pytest.mark.reliability
def test_sigterm_completes_requests_in_flight_and_exits_in_time(model_dir, corpus, capsys):
    figures = sigterm_run(model_dir, corpus)
    report(capsys, figures)
    assert figures.exit_code == 0
    assert figures.exit_after_s < GRACEFUL_TIMEOUT_S
    assert figures.slow_request.outcome == "ok"
    assert figures.lost_in_flight == []
    assert {a.outcome for a in figures.before_term} == {"ok"}
    # Connections the kernel had queued for a worker are reset when the last
    # worker closes the listener; nothing hangs, nothing is answered wrongly.
    waiting = figures.queued + figures.connecting + figures.after_term
    assert {a.outcome for a in waiting} <= {"ok", "reset", "refused"}
    assert {a.outcome for a in figures.after_exit} <= {"refused"}
    assert not any("SIGKILL" in line or "TIMEOUT" in line for line in figures.master_log), figures.master_log


@pytest.mark.reliability
def test_slow_clients_do_not_starve_a_fast_one(model_dir, corpus, capsys):
    figures = slow_clients_run(model_dir, corpus, dribble_s=10, observe_s=3, fast_timeout_s=3)
    report(capsys, figures)
    first = figures.first_fast_latency_s
    served = first is not None and first < FAST_CLIENT_LIMIT_S
    if not served and figures.worker_class == "sync":
        pytest.xfail("sync workers: two slow clients hold both workers for up to gunicorn's timeout (30 s); "
                     "the fix proposed is gthread workers")
    assert served, figures.lines()


# --- B. faults at start and inside a request -----------------------------------------------

@pytest.fixture(scope="module")
def refusals(model_dir, tmp_path_factory):
    return refusal_runs(model_dir, tmp_path_factory.mktemp("refusals"))


@pytest.mark.parametrize("fault", REFUSALS)
def test_broken_model_refused_at_start_with_one_line(refusals, fault, capsys):
    refusal = refusals[fault]
    report(capsys, refusal)
    assert refusal.exit_code == 1
    assert len(refusal.output_lines) == 1, refusal.output
    assert refusal.output_lines[0].startswith("Error: ")
    assert refusal.expected in refusal.output_lines[0]
    assert "Traceback" not in refusal.output


def test_unexpected_exception_is_a_logged_500_and_the_workers_keep_serving(model_dir, client, tmp_path):
    poisoned = Exchange("boom", json.dumps([POISONED_ROW]).encode(), b"")
    healthy_body = json.dumps([HEALTHY_ROW]).encode()
    healthy = Exchange("fine", healthy_body,
                       client.post("/predict", data=healthy_body, content_type="application/json").get_data())
    with live_server(model_dir, "tests.reliability_apps:make_app()") as server:
        workers = server.workers()
        for number in range(10):
            answer = http_exchange(server.port, request_bytes(poisoned, f"boom-{number}"))
            body = assert_problem(answer.status, answer.headers["content-type"], json.loads(answer.body), 500)
            assert body["request_id"] == answer.headers["x-request-id"] == f"boom-{number}"
            assert "IndexError" not in answer.body.decode()
            answer = http_exchange(server.port, request_bytes(healthy, f"fine-{number}"))
            assert (answer.status, answer.body) == (200, healthy.expected)
        assert server.workers() == workers, "a worker died or was replaced"

        # The checks of the load runs can fail: a 500 and a wrong answer are both counted.
        wrong = Exchange("fine-but-expected-otherwise", healthy.body, healthy.expected.replace(b"[", b"[9,"))
        run = run_wrk(server.port, write_wrk_files([poisoned, wrong], tmp_path), connections=2, seconds=1)
        assert run.non_2xx > 0 and run.not_200 > 0 and run.wrong > 0, run

        log = server.log()
    errors = {line["request_id"]: line for line in json_lines(log) if line["level"] == "ERROR"}
    for number in range(10):
        logged = errors.get(f"boom-{number}")
        assert logged and (logged["method"], logged["path"]) == ("POST", "/predict"), \
            f"no error logged for boom-{number}:\n{log[-3000:]}"
        assert re.fullmatch(r"Traceback \(most recent call last\):\n(?:  .*\n)+IndexError: .*", logged["traceback"])
    assert log.count("Booting worker") == WORKERS
