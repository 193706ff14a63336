"""The soak: a long mixed load with slow clients beside it, and the memory of every server process over time.

A few client threads (``ClientThreads``) walk the mixed requests
(``mixed.mixed_requests``: single rows, batches, V2 JSON and binary, bad
requests), each answer judged by the status it must get and, for good
ones, the in-process answer; a slow-client horde holds idle and dribbling
connections meanwhile. Every ``sample_s`` the RSS and PSS of the master and
of each worker are read from /proc with the counts so far.

Memory is judged per process after a warm-up (allocator arenas, caches and
the first large batches settle there): growth is the median of the last 3
samples against the median of the first 3 after the warm-up, in percent;
medians, so one sample taken mid-batch moves neither end. What is judged is
RSS and the anonymous PSS (heap and stacks, shared only by fork, so only
within this server): a leak grows both. PSS as a whole is read and shown but
not judged, because its file pages (libraries) are shared with every other
process mapping the same files: a master's PSS read 112 MiB, fell to 85 MiB
while another server from the same virtualenv ran, and rose back when it
stopped, on a server whose RSS did not move. A server whose processes change
during the run (a worker died and was replaced) fails: its memory cannot be
followed.
"""

import statistics
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field

from tests.harness.clients import Attempt, ClientThreads
from tests.harness.corpus import Exchange
from tests.harness.proc import listener_pids, load_average, parent_pid, rollup_mib, worker_pids
from tests.harness.slow_clients import SlowHorde

GROWTH_LIMIT_PCT = 5.0
CLIENT_THREADS = 5
SLOW_PER_KIND = 25
SLOW_INTERVAL_S = (0.5, 1.0)  # a byte every so often, drawn per connection
ENDS = 3  # samples whose median stands for each end of the judged span
MEMORY_KEYS = ("rss_mib", "pss_mib", "pss_anon_mib")
JUDGED_KEYS = ("rss_mib", "pss_anon_mib")
LABELS = {"rss_mib": "RSS", "pss_mib": "PSS", "pss_anon_mib": "anonymous PSS"}
KEEP_UNEXPECTED = 20  # unexpected outcomes described in full; the rest are counted


@dataclass(frozen=True)
class ServerProcesses:
    """A gunicorn master and how it was found; its workers are read from /proc when asked."""

    master: int
    found_by: str

    def pids(self) -> dict[str, int]:
        return {"master": self.master, **{f"worker {pid}": pid for pid in worker_pids(self.master)}}

    @classmethod
    def by_port(cls, port: int) -> "ServerProcesses":
        """The one process among those holding ``port``'s listening socket whose parent is not among them."""
        holders = listener_pids(port)
        masters = [pid for pid in holders if parent_pid(pid) not in holders]
        if len(masters) != 1:
            raise RuntimeError(f"port {port}: processes holding its listener {holders}, masters among them "
                               f"{masters}: expected one (another user's processes need that user or root)")
        return cls(masters[0], f"by the listening port {port} (/proc/net/tcp inode -> /proc/*/fd)")


@dataclass
class Sample:
    at_s: float
    memory: dict[str, dict[str, float]]  # "master", "worker PID" -> MEMORY_KEYS, in MiB
    requests: int
    unexpected: int


class Tally:
    """Requests counted by kind and outcome, from every client thread; the first unexpected described."""

    def __init__(self):
        self.counts: Counter[tuple[str, str]] = Counter()
        self.first_unexpected: list[str] = []
        self._lock = threading.Lock()

    def __call__(self, exchange: Exchange, attempt: Attempt) -> None:
        with self._lock:
            self.counts[exchange.kind, attempt.outcome] += 1
            if attempt.outcome != "ok" and len(self.first_unexpected) < KEEP_UNEXPECTED:
                self.first_unexpected.append(f"{exchange.request_id} ({exchange.kind}, must get "
                                             f"{exchange.status}): {attempt.outcome}")

    def so_far(self) -> tuple[int, int]:
        with self._lock:
            return sum(self.counts.values()), sum(n for (_, outcome), n in self.counts.items() if outcome != "ok")


@dataclass
class SoakFigures:
    seconds: float
    warmup_s: float
    sample_s: float
    found_by: str
    samples: list[Sample]
    counts: Counter
    first_unexpected: list[str]
    slow: dict
    load_before: tuple
    load_after: tuple
    limit_pct: float = GROWTH_LIMIT_PCT
    processes_changed: list[str] = field(default_factory=list)

    @property
    def requests(self) -> int:
        return sum(self.counts.values())

    @property
    def unexpected(self) -> int:
        return sum(n for (_, outcome), n in self.counts.items() if outcome != "ok")

    def judged(self) -> list[Sample]:
        return [sample for sample in self.samples if sample.at_s >= self.warmup_s]

    def growth(self) -> dict[str, dict[str, tuple[float, float, float]]]:
        """Process -> memory key -> (first, last, growth %): medians of ``ENDS`` samples after the warm-up."""
        judged = self.judged()
        if len(judged) < 2 * ENDS:
            raise RuntimeError(f"{len(judged)} samples after the warm-up: {2 * ENDS} are needed")
        growth = {}
        for name in judged[0].memory:
            growth[name] = {}
            for key in MEMORY_KEYS:
                first = statistics.median(s.memory[name][key] for s in judged[:ENDS])
                last = statistics.median(s.memory[name][key] for s in judged[-ENDS:])
                growth[name][key] = (first, last, (last - first) / first * 100)
        return growth

    @property
    def worst_growth_pct(self) -> float:
        return max(keys[key][2] for keys in self.growth().values() for key in JUDGED_KEYS)

    @property
    def passed(self) -> bool:
        return (self.unexpected == 0 and not self.processes_changed
                and self.worst_growth_pct < self.limit_pct)

    def lines(self) -> list[str]:
        by_kind = Counter()
        for (kind, _), count in self.counts.items():
            by_kind[kind] += count
        lines = [
            f"soak: {self.seconds:.0f} s of mixed load, warm-up {self.warmup_s:.0f} s, a sample every "
            f"{self.sample_s:.0f} s; server processes found {self.found_by}; load average "
            f"{_load(self.load_before)} before, {_load(self.load_after)} after",
            f"  requests {self.requests:,} ({self.requests / self.seconds:,.0f}/s); unexpected {self.unexpected}",
            "  by kind: " + ", ".join(f"{kind} {count:,}" for kind, count in by_kind.most_common()),
        ]
        lines += [f"  unexpected: {kind}: {outcome} x{count}"
                  for (kind, outcome), count in self.counts.most_common() if outcome != "ok"]
        lines += [f"  first unexpected: {what}" for what in self.first_unexpected]
        lines += [f"  processes changed: {what}" for what in self.processes_changed]
        for name, keys in self.growth().items():
            lines.append(f"  {name}: " + "; ".join(
                f"{LABELS[key]} {first:.1f} -> {last:.1f} MiB ({pct:+.2f}%{'' if key in JUDGED_KEYS else ', not judged'})"
                for key, (first, last, pct) in keys.items()))
        lines.append("  slow clients: " + "; ".join(
            f"{kind} opened {figures.opened}, ended by the server "
            + (", ".join(f"{count} {how}" for how, count in figures.ended.most_common()) or "none")
            for kind, figures in sorted(self.slow.items())))
        lines.append(f"  {'PASSED' if self.passed else 'FAILED'}: worst growth {self.worst_growth_pct:+.2f}% "
                     f"(RSS, anonymous PSS; limit {self.limit_pct}%), unexpected statuses {self.unexpected}")
        return lines


def soak_run(port: int, processes: ServerProcesses, requests: Sequence[Exchange], seconds: float,
             sample_s: float = 10, warmup_s: float | None = None, threads: int = CLIENT_THREADS,
             slow_clients: Callable[[int], AbstractContextManager] | None = None,
             limit_pct: float = GROWTH_LIMIT_PCT, on_sample: Callable[[Sample], None] | None = None) -> SoakFigures:
    """``seconds`` of ``requests`` from ``threads`` client threads beside ``slow_clients(port)``
    (by default a ``SlowHorde``); the warm-up is by default 10% of the run, at most 2 minutes."""
    warmup_s = min(120.0, seconds / 10) if warmup_s is None else warmup_s
    slow_clients = slow_clients or (lambda port: SlowHorde(port, SLOW_PER_KIND, SLOW_INTERVAL_S))
    tally, samples, changed = Tally(), [], []
    pids = processes.pids()
    load_before = load_average()
    with slow_clients(port) as horde, ClientThreads(port, requests, threads, timeout=30, tally=tally):
        started = time.monotonic()
        while (elapsed := time.monotonic() - started) < seconds:
            time.sleep(max(0.0, (len(samples) + 1) * sample_s - elapsed))
            now_pids = processes.pids()
            if now_pids != pids:
                changed.append(f"at {time.monotonic() - started:.0f} s: {sorted(pids)} -> {sorted(now_pids)}")
                pids = now_pids
            samples.append(Sample(time.monotonic() - started, _memory(pids), *tally.so_far()))
            if on_sample:
                on_sample(samples[-1])
        seconds = time.monotonic() - started
    return SoakFigures(seconds, warmup_s, sample_s, processes.found_by, samples, tally.counts,
                       tally.first_unexpected, horde.figures(), load_before, load_average(), limit_pct, changed)


def _memory(pids: dict[str, int]) -> dict[str, dict[str, float]]:
    memory = {}
    for name, pid in pids.items():
        figures = rollup_mib(pid)
        memory[name] = {key: round(figures[key], 2) for key in MEMORY_KEYS}
    return memory


def _load(average: tuple) -> str:
    return " ".join(f"{value:.2f}" for value in average)
