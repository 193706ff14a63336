"""HTTP load with wrk: POST a fixed JSON body for a fixed time, report rate and latency.

wrk drives the servers from one thread over loopback: the machine's cores
are better left to the gunicorn workers under test, and one wrk thread
sends far more requests than two Python workers answer. Each measurement is
preceded by a short, discarded warm-up at the same concurrency.
"""

import json
import os
import shutil
import subprocess
from dataclasses import asdict, dataclass
from pathlib import Path

POST_SCRIPT = Path(__file__).with_name("post.lua")
INSTALL_COMMAND = "apt-get install -y wrk"
_MARK = "BENCH_JSON "


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


def ensure_wrk() -> str:
    """wrk's path; installs Debian's package when run as root, else says how."""
    found = shutil.which("wrk")
    if found:
        return found
    if os.geteuid() != 0:
        raise SystemExit(f"wrk is not installed: run `sudo apt-get update && sudo {INSTALL_COMMAND}`")
    print(f"wrk is not installed; running `{INSTALL_COMMAND}`", flush=True)
    if subprocess.run(INSTALL_COMMAND.split(), stdout=subprocess.DEVNULL).returncode != 0:
        subprocess.run(["apt-get", "update"], stdout=subprocess.DEVNULL, check=True)
        subprocess.run(INSTALL_COMMAND.split(), stdout=subprocess.DEVNULL, check=True)
    return shutil.which("wrk") or "wrk"


def run_wrk(url: str, body_path: Path, rows: int, connections: int, seconds: int,
            warmup_s: int, wrk: str = "wrk") -> LoadResult:
    if warmup_s > 0:
        _wrk(wrk, url, body_path, connections, warmup_s)
    summary = _wrk(wrk, url, body_path, connections, seconds)
    elapsed = summary["duration_us"] / 1e6
    rate = summary["requests"] / elapsed
    errors = sum(summary[key] for key in ("connect_errors", "read_errors", "write_errors",
                                          "timeouts", "bad_status"))
    return LoadResult(requests=summary["requests"], seconds=elapsed, requests_per_s=rate,
                      rows_per_s=rate * rows, p50_ms=summary["latency_p50_us"] / 1e3,
                      p99_ms=summary["latency_p99_us"] / 1e3, max_ms=summary["latency_max_us"] / 1e3,
                      errors=errors)


def _wrk(wrk: str, url: str, body_path: Path, connections: int, seconds: int) -> dict:
    # Whole seconds: wrk's --duration reads no fractions.
    command = [wrk, "--threads", "1", "--connections", str(connections), "--duration", f"{seconds}s",
               "--timeout", "10s", "--latency", "--script", str(POST_SCRIPT), url, "--", str(body_path)]
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    for line in output.splitlines():
        if line.startswith(_MARK):
            return json.loads(line[len(_MARK):])
    raise RuntimeError(f"wrk printed no summary:\n{output}")
