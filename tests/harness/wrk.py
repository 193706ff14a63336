"""HTTP load with wrk, from one thread: a fixed body (the benchmark), or a corpus checked byte for byte.

wrk drives the server from one thread over loopback: the machine's cores
are better left to the gunicorn workers under test, and one wrk thread sends
far more requests than two Python workers answer. Its Lua script
(``lua/load.lua``) reports every run as one JSON line, parsed here.
"""

import json
import os
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from tests.harness.corpus import Exchange

LOAD_SCRIPT = Path(__file__).with_name("lua") / "load.lua"
INSTALL_COMMAND = "apt-get install -y wrk"
_SUMMARY = "WRK_JSON "
_FIRST_WRONG = "WRK_FIRST_WRONG "


@dataclass(frozen=True)
class WrkRun:
    requests: int
    seconds: float
    socket_errors: int  # connect, read and write errors
    timeouts: int
    non_2xx: int  # wrk's count of answers >= 400
    checked: int  # answers compared with the corpus's (0 for a fixed body)
    not_200: int
    wrong: int
    p50_ms: float
    p99_ms: float
    max_ms: float
    first_wrong: str
    detail: dict

    @property
    def errors(self) -> int:
        """Socket errors, timeouts and error statuses: any of them spoils a figure."""
        return self.socket_errors + self.timeouts + self.non_2xx

    @property
    def requests_per_s(self) -> float:
        return self.requests / self.seconds


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


def body_args(body_path: Path) -> list[str]:
    """The script's arguments to POST one fixed body."""
    return ["body", str(body_path)]


def corpus_args(table: Path, close: bool = False) -> list[str]:
    """The script's arguments to cycle through a corpus (``write_corpus_table``) and check every answer.

    ``close`` asks for ``Connection: close``: a new connection per request, as
    the sync worker forces anyway; without it, workers that keep connections
    alive (gthread) are spared the reconnections.
    """
    return ["corpus", str(table), *(["close"] if close else [])]


def write_corpus_table(corpus: Sequence[Exchange], directory: Path) -> Path:
    """The corpus as a Lua table, in long strings (JSON never holds ``]==]``)."""
    table = directory / "corpus.lua"
    with open(table, "w") as out:
        out.write("return {\n")
        for exchange in corpus:
            fields = (exchange.request_id, exchange.body.decode(), exchange.expected.decode())
            if any("]==]" in text for text in fields):
                raise ValueError(f"{exchange.request_id} cannot be written as a Lua long string")
            out.write("{" + ", ".join(f"[==[{text}]==]" for text in fields) + "},\n")
        out.write("}\n")
    return table


def start_wrk(url: str, script_args: list[str], connections: int, seconds: int,
              timeout_s: int = 10, headers: Sequence[str] = ()) -> subprocess.Popen:
    """wrk posting to ``url`` for whole ``seconds`` (wrk reads no fractions), each ``headers``
    line (``Name: value``) sent too; collect with ``wrk_result``."""
    return subprocess.Popen(
        [ensure_wrk(), "--threads", "1", "--connections", str(connections), "--duration", f"{seconds}s",
         "--timeout", f"{timeout_s}s", "--latency", *(f"--header={line}" for line in headers),
         "--script", str(LOAD_SCRIPT), url, "--", *script_args],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def wrk_result(process: subprocess.Popen) -> WrkRun:
    output, _ = process.communicate()
    summary, first_wrong = None, ""
    for line in output.splitlines():
        if line.startswith(_SUMMARY):
            summary = json.loads(line[len(_SUMMARY):])
        elif line.startswith(_FIRST_WRONG):
            first_wrong = line[len(_FIRST_WRONG):]
    if process.returncode != 0 or summary is None:
        raise RuntimeError(f"wrk failed ({process.returncode}):\n{output}")
    return WrkRun(
        requests=summary["requests"], seconds=summary["duration_us"] / 1e6,
        socket_errors=summary["connect_errors"] + summary["read_errors"] + summary["write_errors"],
        timeouts=summary["timeouts"], non_2xx=summary["bad_status"], checked=summary["checked"],
        not_200=summary["not_ok"], wrong=summary["wrong"], p50_ms=summary["p50_us"] / 1e3,
        p99_ms=summary["p99_us"] / 1e3, max_ms=summary["max_us"] / 1e3, first_wrong=first_wrong,
        detail=summary)


def run_wrk(url: str, script_args: list[str], connections: int, seconds: int,
            headers: Sequence[str] = ()) -> WrkRun:
    return wrk_result(start_wrk(url, script_args, connections, seconds, headers=headers))
