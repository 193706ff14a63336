"""The benchmark's HTTP load: one fixed JSON body posted with wrk for a fixed time, after a warm-up.

wrk itself is driven by the shared harness (``tests.harness.wrk``); here a
run becomes the benchmark's figures: rates in requests and rows, latency
percentiles, and errors, any of which spoils the figure.
"""

from dataclasses import asdict, dataclass
from pathlib import Path

from tests.harness.wrk import body_args, run_wrk


@dataclass(frozen=True)
class LoadResult:
    requests: int
    seconds: float
    requests_per_s: float
    rows_per_s: float
    p50_ms: float
    p99_ms: float
    max_ms: float
    errors: int  # socket errors, timeouts and non-2xx/3xx answers: any of them spoils the figure

    def to_dict(self) -> dict:
        return asdict(self)


def run_load(url: str, body_path: Path, rows: int, connections: int, seconds: int, warmup_s: int) -> LoadResult:
    """``seconds`` of wrk posting ``body_path`` (``rows`` rows) to ``url``, after ``warmup_s`` discarded."""
    if warmup_s > 0:
        run_wrk(url, body_args(body_path), connections, warmup_s)
    run = run_wrk(url, body_args(body_path), connections, seconds)
    return LoadResult(requests=run.requests, seconds=run.seconds, requests_per_s=run.requests_per_s,
                      rows_per_s=run.requests_per_s * rows, p50_ms=run.p50_ms, p99_ms=run.p99_ms,
                      max_ms=run.max_ms, errors=run.errors)
