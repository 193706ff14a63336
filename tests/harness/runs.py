"""The load and fault runs, each returning its figures, and the targets they are judged by.

``tests/reliability/`` checks the figures against the targets; ``python -m
bench.reliability`` prints them. Each run starts its own server
(``running_server``: the production command on loopback, 2 workers) and
stops it by PID, but for the slow-client drill (``slow_drill``), which takes
a port: the test starts the server around it, ``python -m
tests.harness.slow_clients`` drills one already running (a container).
"""

import http.client
import json
import math
import os
import shutil
import signal
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from contract.model_directory import MANIFEST_FILENAME, MODEL_FILENAME
from tests.harness.clients import Attempt, ClientThreads, SlowClient, attempt, kept_alive_attempt
from tests.harness.corpus import Exchange
from tests.harness.proc import (accepted_connections, holders, load_average, server_memory, socket_inodes,
                                worker_memory)
from tests.harness.raw_http import http_exchange, request_bytes
from tests.harness.server import HOST, WORKERS, RefusedStart, healthy_within, refused_start, running_server
from tests.harness.slow_clients import KindFigures, SlowHorde
from tests.harness.wrk import WrkRun, corpus_args, run_wrk, start_wrk, wrk_result
from wsgi_service.operations.draining import stop_bound_seconds
from wsgi_service.operations.front import BODY_SECONDS, HEADERS_SECONDS, SEND_SECONDS
from wsgi_service.operations.logs import ACCESS_LOGGER
from wsgi_service.operations.settings import ServerSettings

STOP_BOUND_S = stop_bound_seconds(ServerSettings().drain_seconds)  # SIGTERM to exit, at most
POLL_S = 0.002
# Targets. Each worker serves 40,000 to 70,000 requests in a 60 s load here:
# a leak of about 40 bytes a request or more grows its RSS past MEMORY_FLAT_MIB.
MEMORY_FLAT_MIB = 1.5
RECOVERY_LIMIT_S = 5  # a killed worker's replacement serving


def single_row(corpus: list[Exchange]) -> Exchange:
    """The corpus's smallest body: a single row."""
    return min(corpus, key=lambda exchange: len(exchange.body))


# --- A. load --------------------------------------------------------------------

@dataclass
class LoadFigures:
    connections: int
    seconds: int
    warmup: WrkRun
    run: WrkRun
    workers_before: list[int]
    workers_after: list[int]
    memory_idle: dict  # worker PID -> {"rss_mib", "pss_mib"}, before any request
    memory_start: dict  # after the warm-up
    memory_samples: list  # (seconds into the run, memory) every ``sample_every_s``
    memory_end: dict
    load_before: tuple
    load_after: tuple

    def growth_mib(self, key: str) -> dict[int, float]:
        """Per worker, end minus start (after the warm-up)."""
        return {pid: round(self.memory_end[pid][key] - self.memory_start[pid][key], 1)
                for pid in self.memory_start if pid in self.memory_end}

    def lines(self) -> list[str]:
        run = self.run
        lines = [
            f"load: {self.connections} connections for {run.seconds:.1f} s (after {self.warmup.seconds:.0f} s "
            f"of warm-up), {WORKERS} workers; load average {_load(self.load_before)} before, "
            f"{_load(self.load_after)} after",
            f"  requests {run.requests:,} ({run.requests_per_s:,.0f}/s), checked {run.checked:,}; "
            f"errors {run.errors} (socket {run.socket_errors}, timeouts {run.timeouts}, non-2xx {run.non_2xx}); "
            f"wrong answers {run.wrong}",
            f"  latency p50 {run.p50_ms:.1f} ms, p99 {run.p99_ms:.1f} ms, max {run.max_ms:.1f} ms; "
            f"workers {self.workers_before} before, {self.workers_after} after",
        ]
        for pid in self.memory_start:
            idle, start, end = (self.memory_idle.get(pid, {}), self.memory_start[pid],
                                self.memory_end.get(pid, {}))
            lines.append(
                f"  worker {pid}: RSS {idle.get('rss_mib')} idle, {start['rss_mib']} start, "
                f"{end.get('rss_mib')} end MiB; PSS {idle.get('pss_mib')} idle, {start['pss_mib']} start, "
                f"{end.get('pss_mib')} end MiB")
        samples = ", ".join(f"{at:.0f} s: " + "/".join(str(figures["rss_mib"]) for figures in memory.values())
                            for at, memory in self.memory_samples)
        lines.append(f"  RSS per worker during the run (MiB): {samples}")
        return lines


def load_run(model_dir: Path, corpus_table: Path, connections: int = 64, seconds: int = 60, warmup_s: int = 5,
             sample_every_s: int = 10, gunicorn_args: tuple = (), close: bool = False) -> LoadFigures:
    """wrk at ``connections`` for ``seconds`` after a warm-up; ``close`` sends ``Connection: close``
    (no keep-alive, as the sync worker forces anyway)."""
    with running_server(*gunicorn_args, model_dir=model_dir) as server:
        workers_before = server.workers()
        load_before = load_average()
        memory_idle = worker_memory(server.pid)
        warmup = run_wrk(server.base_url, corpus_args(corpus_table, close), connections, warmup_s)
        memory_start = worker_memory(server.pid)
        started = time.monotonic()
        process = start_wrk(server.base_url, corpus_args(corpus_table, close), connections, seconds)
        samples = []
        while process.poll() is None:
            time.sleep(0.2)
            elapsed = time.monotonic() - started
            if elapsed >= (len(samples) + 1) * sample_every_s and elapsed < seconds:
                samples.append((elapsed, worker_memory(server.pid)))
        run = wrk_result(process)
        memory_end = worker_memory(server.pid)
        return LoadFigures(connections, seconds, warmup, run, workers_before, server.workers(),
                           memory_idle, memory_start, samples, memory_end, load_before, load_average())


# --- B. kill -9 one worker under load ------------------------------------------

@dataclass
class KillFigures:
    run: WrkRun
    victim: int
    replacement: int
    # Client connections the victim held just before SIGKILL: a request in
    # flight, or one answered whose client has not closed yet.
    held_at_kill: int
    new_pid_after_s: float  # from SIGKILL until the master had forked a replacement
    serving_after_s: float  # ... until the replacement held a client connection
    workers_after: list[int]
    master_log: list[str]
    load_before: tuple
    load_after: tuple

    def lines(self) -> list[str]:
        run = self.run
        return [
            f"kill -9 one worker under load: {run.requests:,} requests in {run.seconds:.1f} s; "
            f"load average {_load(self.load_before)} before, {_load(self.load_after)} after",
            f"  victim {self.victim} held {self.held_at_kill} client connection(s) just before SIGKILL",
            f"  failed requests {run.errors} (socket {run.socket_errors}, timeouts {run.timeouts}, "
            f"non-2xx {run.non_2xx}); wrong answers {run.wrong}",
            f"  replacement {self.replacement} forked {self.new_pid_after_s * 1e3:.0f} ms after SIGKILL, "
            f"serving {self.serving_after_s * 1e3:.0f} ms after; workers now {self.workers_after}",
            *(f"  master: {line}" for line in self.master_log),
        ]


def kill_worker_run(model_dir: Path, corpus_table: Path, connections: int = 64, seconds: int = 8,
                    kill_after_s: float = 3, gunicorn_args: tuple = ()) -> KillFigures:
    with running_server(*gunicorn_args, model_dir=model_dir) as server:
        workers = server.workers()
        listeners = socket_inodes(server.pid)
        load_before = load_average()
        process = start_wrk(server.base_url, corpus_args(corpus_table), connections, seconds)
        try:
            time.sleep(kill_after_s)
            victim = workers[0]
            in_flight = accepted_connections(victim, listeners)
            killed = time.monotonic()
            os.kill(victim, signal.SIGKILL)
            replacement = _wait_for(lambda: next(iter(set(server.workers()) - set(workers)), None), 10,
                                    "no replacement worker")
            forked = time.monotonic()
            _wait_for(lambda: accepted_connections(replacement, listeners) > 0, 10,
                      f"replacement {replacement} never accepted a connection")
            serving = time.monotonic()
        finally:
            run = wrk_result(process)
        # gunicorn's lines about the two workers, not the victim's JSON access lines.
        log = [line for line in server.log().splitlines()
               if (str(victim) in line or f"pid: {replacement}" in line) and ACCESS_LOGGER not in line]
        return KillFigures(run, victim, replacement, in_flight, forked - killed, serving - killed,
                           server.workers(), log, load_before, load_average())


def _wait_for(probe, timeout_s: float, failure: str, poll_s: float = POLL_S):
    deadline = time.monotonic() + timeout_s
    while not (value := probe()):
        if time.monotonic() > deadline:
            raise RuntimeError(failure)
        time.sleep(poll_s)
    return value


# --- B. SIGTERM to the master under load -----------------------------------------

@dataclass
class TermFigures:
    exit_code: int
    exit_after_s: float  # from SIGTERM until the master exited
    slow_request: Attempt  # accepted by a worker before SIGTERM, its body finished after
    slow_request_term_to_answer_s: float
    in_flight: list[Attempt]  # held by a worker when SIGTERM was sent, the slow request among them
    queued: list[Attempt]  # connected, waiting in the listen backlog when SIGTERM was sent
    connecting: list[Attempt]  # begun before SIGTERM, not connected yet when the snapshot was taken
    after_term: list[Attempt]  # started after SIGTERM, before the master exited
    after_exit: list[Attempt]  # started after the master exited
    before_term: list[Attempt]  # finished before SIGTERM
    master_log: list[str]
    load_before: tuple
    load_after: tuple
    threads: int

    @property
    def lost_in_flight(self) -> list[Attempt]:
        return [a for a in self.in_flight if a.outcome != "ok"]

    def lines(self) -> list[str]:
        def outcomes(attempts: list[Attempt]) -> str:
            return ", ".join(f"{count} {outcome}" for outcome, count in
                             Counter(a.outcome for a in attempts).most_common()) or "none"
        return [
            f"SIGTERM to the master under load ({self.threads} client threads + 1 slow request); "
            f"load average {_load(self.load_before)} before, {_load(self.load_after)} after",
            f"  master exited with {self.exit_code} {self.exit_after_s:.2f} s after SIGTERM "
            f"(bound {STOP_BOUND_S:.0f} s)",
            f"  slow request (accepted before SIGTERM, body finished after): {self.slow_request.outcome}, "
            f"answered {self.slow_request_term_to_answer_s:.2f} s after SIGTERM",
            f"  in flight on a worker at SIGTERM: {len(self.in_flight)}: {outcomes(self.in_flight)}; "
            f"lost {len(self.lost_in_flight)}",
            f"  waiting for a worker at SIGTERM: {len(self.queued) + len(self.connecting)} ({len(self.queued)} "
            f"in the listen backlog, {len(self.connecting)} not yet connected): "
            f"{outcomes(self.queued + self.connecting)}",
            f"  started between SIGTERM and exit: {len(self.after_term)}: {outcomes(self.after_term)}",
            f"  started after exit: {len(self.after_exit)}: {outcomes(self.after_exit)}",
            f"  before SIGTERM: {len(self.before_term)}: {outcomes(self.before_term)}",
            *(f"  master: {line}" for line in self.master_log),
        ]


def sigterm_run(model_dir: Path, corpus: list[Exchange], threads: int = 63, load_s: float = 2,
                slow_body_after_term_s: float = 1.5, gunicorn_args: tuple = ()) -> TermFigures:
    slow_exchange = single_row(corpus)
    head = len(slow_exchange.body) // 2
    interval = slow_body_after_term_s / (len(slow_exchange.body) - head)
    with running_server(*gunicorn_args, model_dir=model_dir) as server:
        workers = server.workers()
        load_before = load_average()
        with ClientThreads(server.port, corpus, threads) as clients:
            time.sleep(load_s)
            release = threading.Event()  # the rest of the slow body goes once SIGTERM is sent
            slow = SlowClient(server.port, slow_exchange, interval, "slow-in-flight").start(head, release)
            _wait_for(lambda: holders(server.port, workers).get(slow.client_port), 10,
                      "no worker accepted the slow request", poll_s=0.02)  # parsing holds the GIL
            held = holders(server.port, workers)
            term = time.monotonic()
            os.kill(server.pid, signal.SIGTERM)
            release.set()
            exit_code = server.process.wait(timeout=STOP_BOUND_S + 10)
            exited = time.monotonic()
            time.sleep(0.5)  # time for refusals to be seen
        slow.join(5)
        attempts = clients.attempts
        in_flight_ports = {port for port, pid in held.items() if pid is not None}
        queued_ports = {port for port, pid in held.items() if pid is None}

        spanning = [a for a in attempts if a.started <= term <= a.ended]

        log = [line for line in server.log().splitlines()
               if any(word in line for word in ("Handling signal", "Worker exiting", "was sent", "Shutting down",
                                                "WORKER TIMEOUT", "Error"))]
        return TermFigures(
            exit_code=exit_code, exit_after_s=exited - term, slow_request=slow.attempt,
            slow_request_term_to_answer_s=slow.attempt.ended - term,
            in_flight=[slow.attempt] + [a for a in spanning if a.client_port in in_flight_ports],
            queued=[a for a in spanning if a.client_port in queued_ports],
            connecting=[a for a in spanning if a.client_port not in in_flight_ports | queued_ports],
            after_term=[a for a in attempts if term < a.started <= exited],
            after_exit=[a for a in attempts if a.started > exited],
            before_term=[a for a in attempts if a.ended < term],
            master_log=log, load_before=load_before, load_after=load_average(), threads=threads)


# --- the slow-client drill: a horde of slow clients against a normal one --------------

DRILL_PER_KIND = 100
DRILL_HOLD_S = 20.0
DRILL_BASELINE_S = 5.0
# A hold long enough to see the front's every deadline end a connection of each kind.
DRILL_EVERY_DEADLINE_S = max(HEADERS_SECONDS, BODY_SECONDS, SEND_SECONDS) + 5
DRILL_FULL_TIMEOUT_S = 15.0  # for the horde to have every kind's count open at once
DRILL_HEALTHY_TIMEOUT_S = 5.0
NORMAL_TIMEOUT_S = 5.0  # the normal client's per request: a longer wait is a failure
# Target: the normal client's p99 with the horde at most P99_RATIO_LIMIT times its p99 without it
# in the same run, or P99_FLOOR_S, whichever is larger; no failure at all.
P99_RATIO_LIMIT = 5
P99_FLOOR_S = 0.1


@dataclass
class ClientWindow:
    """The normal client's requests in one window: single rows, one after another, alternately on
    a connection of their own and on one kept alive."""

    name: str
    seconds: float
    fresh: list[Attempt]
    kept_alive: list[Attempt]

    def styles(self) -> dict[str, list[Attempt]]:
        return {"new connection each": self.fresh, "kept alive": self.kept_alive}


def _failures(attempts: list[Attempt]) -> list[Attempt]:
    return [a for a in attempts if a.outcome != "ok"]


def _percentile_s(attempts: list[Attempt], fraction: float) -> float:
    """Nearest rank, failures included: a request that failed slowly counts its wait."""
    durations = sorted(a.ended - a.started for a in attempts)
    return durations[max(0, math.ceil(fraction * len(durations)) - 1)] if durations else math.inf


@dataclass
class SlowDrillFigures:
    what: str  # the server drilled, as the caller names it
    per_kind: int
    interval_s: tuple[float, float]
    baseline: ClientWindow
    hold: ClientWindow
    full_after_s: float | None  # None: the horde never had every kind's count open at once
    horde: dict[str, KindFigures]
    memory: dict[str, dict]  # "before" the horde, "held" at the hold's end, "after" it: PID -> MiB
    worker_timeouts: int | None  # None without the server's log
    healthy_after: bool

    def p99_limit_s(self, style: str) -> float:
        return max(P99_RATIO_LIMIT * _percentile_s(self.baseline.styles()[style], 0.99), P99_FLOOR_S)

    def misses(self) -> list[str]:
        """The target's clauses missed; empty when it is met."""
        missed = [f"{kind}: at most {figures.most_open} open at once, not {self.per_kind}"
                  for kind, figures in self.horde.items() if figures.most_open < self.per_kind]
        if self.full_after_s is None:
            missed.append(f"the horde never had {self.per_kind} of every kind open at once")
        for window in (self.baseline, self.hold):
            for style, attempts in window.styles().items():
                if failed := _failures(attempts):
                    missed.append(f"{style}, {window.name}: {len(failed)} failed "
                                  f"({_outcomes(failed)})")
        for style, attempts in self.hold.styles().items():
            if (p99 := _percentile_s(attempts, 0.99)) > self.p99_limit_s(style):
                missed.append(f"{style}: p99 {p99 * 1e3:.1f} ms with the horde, over "
                              f"{self.p99_limit_s(style) * 1e3:.1f} ms")
        if self.worker_timeouts:
            missed.append(f"{self.worker_timeouts} WORKER TIMEOUT line(s)")
        if not self.healthy_after:
            missed.append(f"/health did not answer 200 within {DRILL_HEALTHY_TIMEOUT_S:g} s after the drill")
        return missed

    def lines(self) -> list[str]:
        low, high = self.interval_s
        lines = [f"slow-client drill against {self.what}: {self.per_kind} per kind, a byte every "
                 f"{low:g}-{high:g} s; the horde full "
                 + (f"{self.full_after_s:.1f} s after its start" if self.full_after_s is not None else "NEVER")]
        for style in self.baseline.styles():
            lines.append(f"  normal client, {style}:")
            for window in (self.baseline, self.hold):
                attempts = window.styles()[style]
                lines.append(f"    {window.name:15s} {window.seconds:4.1f} s: {len(attempts)} requests, "
                             f"{len(_failures(attempts))} failed, p50 {_percentile_s(attempts, 0.5) * 1e3:.1f} ms, "
                             f"p99 {_percentile_s(attempts, 0.99) * 1e3:.1f} ms")
            ratio = (_percentile_s(self.hold.styles()[style], 0.99)
                     / _percentile_s(self.baseline.styles()[style], 0.99))
            lines.append(f"    p99 ratio {ratio:.2f} (limit: p99 at most {self.p99_limit_s(style) * 1e3:.1f} ms)")
        lines += [f"  {figures.line()}" for figures in self.horde.values()]
        for pid in self.memory.get("before", {}):
            rss = "/".join(str(self.memory[when].get(pid, {}).get("rss_mib", "gone"))
                           for when in ("before", "held", "after"))
            lines.append(f"  RSS of {pid} before/held/after the horde: {rss} MiB")
        for pid in set(self.memory.get("after", {})) - set(self.memory.get("before", {})):
            lines.append(f"  RSS of {pid} (forked during the drill) after: {self.memory['after'][pid]['rss_mib']} MiB")
        timeouts = "unknown (no log)" if self.worker_timeouts is None else self.worker_timeouts
        lines.append(f"  WORKER TIMEOUT lines: {timeouts}; /health after: "
                     f"{'200' if self.healthy_after else 'NOT 200'}")
        missed = self.misses()
        lines.append("  target met" if not missed else "  target MISSED: " + "; ".join(missed))
        return lines


def served_exchange(port: int, body: bytes) -> Exchange:
    """``body`` with the answer the server gives it now: the reference for a server whose model
    is not at hand."""
    answer = http_exchange(port, request_bytes(Exchange("drill-reference", body, b"")))
    if answer.status != 200:
        raise RuntimeError(f"the server answers the drill's body {answer.status}: {answer.body[:300]!r}")
    return Exchange("drill", body, answer.body)


def slow_drill(port: int, exchange: Exchange, per_kind: int = DRILL_PER_KIND, hold_s: float = DRILL_HOLD_S,
               baseline_s: float = DRILL_BASELINE_S, interval_s: tuple[float, float] = (0.5, 1.0),
               master_pid: int | None = None, log: Callable[[], str] | None = None,
               what: str = "") -> SlowDrillFigures:
    """The normal client alone for ``baseline_s``, then with the horde (``per_kind`` slow connections
    of each kind, kept up) for ``hold_s`` once it is full, against 127.0.0.1:``port``.
    ``master_pid`` adds RSS per process, ``log`` (the server's output) its WORKER TIMEOUT lines."""
    def memory() -> dict:
        return server_memory(master_pid) if master_pid is not None else {}

    baseline = _normal_client(port, exchange, baseline_s, "without horde")
    before = memory()
    with SlowHorde(port, per_kind, interval_s, exchange.body) as horde:
        started = time.monotonic()
        full_after = time.monotonic() - started if horde.wait_full(DRILL_FULL_TIMEOUT_S) else None
        hold = _normal_client(port, exchange, hold_s, "with horde")
        held = memory()
        horde_figures = horde.figures()
    healthy = healthy_within(port, DRILL_HEALTHY_TIMEOUT_S)
    return SlowDrillFigures(what or f"{HOST}:{port}", per_kind, interval_s, baseline, hold, full_after,
                            horde_figures, {"before": before, "held": held, "after": memory()},
                            log().count("WORKER TIMEOUT") if log else None, healthy)


def _normal_client(port: int, exchange: Exchange, seconds: float, name: str) -> ClientWindow:
    fresh, kept_alive = [], []
    connection = http.client.HTTPConnection(HOST, port, timeout=NORMAL_TIMEOUT_S)
    started = time.monotonic()
    try:
        while time.monotonic() - started < seconds:
            request_id = f"drill-{name.replace(' ', '-')}-{len(fresh)}"
            fresh.append(attempt(port, exchange, request_id, NORMAL_TIMEOUT_S))
            kept_alive.append(kept_alive_attempt(connection, exchange, request_id + "-kept"))
    finally:
        connection.close()
    return ClientWindow(name, time.monotonic() - started, fresh, kept_alive)


def _outcomes(attempts: list[Attempt]) -> str:
    return ", ".join(f"{count} {outcome}" for outcome, count in Counter(a.outcome for a in attempts).most_common())


# --- the model refused at start ------------------------------------------------------

def _missing(model: Path) -> None:
    (model / MODEL_FILENAME).unlink()


def _truncated(model: Path) -> None:
    path = model / MODEL_FILENAME
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def _tampered(model: Path) -> None:
    path = model / MODEL_FILENAME
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))


def _other_sklearn(model: Path) -> None:
    path = model / MANIFEST_FILENAME
    manifest = json.loads(path.read_text())
    manifest["versions"]["scikit-learn"] = "1.4.2"
    path.write_text(json.dumps(manifest))


# fault -> (how to break a copy of the model directory, what the one line must say)
REFUSALS = {
    "model file missing": (_missing, "cannot read"),
    "model file truncated": (_truncated, "refusing to unpickle"),
    "model file tampered": (_tampered, "refusing to unpickle"),
    "manifest names another scikit-learn": (_other_sklearn, "the manifest says 1.4.2: re-import it"),
}


@dataclass
class Refusal:
    fault: str
    start: RefusedStart
    expected: str  # what the one line must say

    @property
    def exit_code(self) -> int:
        return self.start.exit_code

    @property
    def seconds(self) -> float:
        return self.start.seconds

    @property
    def output(self) -> str:
        return self.start.output

    @property
    def output_lines(self) -> list[str]:
        return self.start.output_lines

    def lines(self) -> list[str]:
        return [f"{self.fault}: exit {self.exit_code} after {self.seconds:.1f} s; "
                f"{len(self.output_lines)} line(s): {' | '.join(self.output_lines)[:300]}"]


def refusal_runs(model_dir: Path, scratch: Path, faults=tuple(REFUSALS)) -> dict[str, Refusal]:
    """The production command on a broken copy of the model per fault, all at once; each must exit at start."""
    def run(fault: str) -> Refusal:
        broken = scratch / fault.replace(" ", "-")
        shutil.copytree(model_dir, broken)
        REFUSALS[fault][0](broken)
        return Refusal(fault, refused_start(model_dir=broken, timeout_s=60), REFUSALS[fault][1])

    with ThreadPoolExecutor(len(faults)) as pool:
        return dict(zip(faults, pool.map(run, faults)))


def _load(average: tuple) -> str:
    return " ".join(f"{value:.2f}" for value in average)


def slow_drill_run(model_dir: Path, corpus: list[Exchange], gunicorn_args: tuple = (),
                   hold_s: float = DRILL_EVERY_DEADLINE_S) -> SlowDrillFigures:
    """The slow-client drill against a server of its own (``gunicorn_args`` over the config)."""
    with running_server(*gunicorn_args, model_dir=model_dir) as server:
        return slow_drill(server.port, single_row(corpus), hold_s=hold_s, master_pid=server.pid, log=server.log,
                          what=server.worker_class())
