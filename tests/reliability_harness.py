"""Machinery for load and fault runs against a real gunicorn on loopback.

Shared by ``tests/test_reliability.py`` (which checks the targets) and
``python -m bench.reliability`` (which prints the figures). Every server is
started as production starts it, ``python -m wsgi_service`` (so gunicorn
reads ``wsgi_service.gunicorn_config``), with ``--bind 127.0.0.1:PORT``
added, and stopped by PID.

Answers are checked byte for byte against the in-process answer to the same
body: a corpus of varied bodies (both request forms, 1 to 64 rows, values in
and beyond the training ranges) is answered once in process, by the same
``create_app`` over the same model directory, and those labels are checked
against scikit-learn's own ``predict``. wrk then sends the corpus under load
and a Lua ``response()`` compares every answer, found by its
``X-Request-ID``, with the expected bytes; the Python clients here do the
same, one request at a time, and also say how a request failed (refused,
reset, timed out).
"""

import json
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import sklearn
from sklearn.datasets import load_iris
from werkzeug.test import Client

from bench.load import ensure_wrk
from bench.memory import rollup_mib, worker_pids
from bench.servers import free_port, wait_healthy
from wsgi_service import Settings, create_app

REPO_ROOT = Path(__file__).resolve().parent.parent
WORKERS = 2  # WEB_CONCURRENCY for every run: the figures compare across machines
STOP_TIMEOUT_S = 40  # gunicorn_config's graceful_timeout is 30 s
HOST = "127.0.0.1"


# --- the corpus: varied bodies and their in-process answers -------------------

@dataclass(frozen=True)
class Exchange:
    request_id: str
    body: bytes
    expected: bytes  # the in-process answer, byte for byte


def build_corpus(model_dir: Path, size: int = 600, seed: int = 6) -> list[Exchange]:
    """``size`` bodies from a fixed seed, each with the in-process answer.

    Rows are iris rows with noise, draws across and beyond the training
    ranges, and a few extremes; bodies take the seed form, the rich form
    with arrays, or the rich form with named rows. The in-process labels and
    probabilities are checked against scikit-learn's own ``predict`` and
    ``predict_proba`` (not the compiled forest) before anything is sent.
    """
    app = create_app(Settings(model_dir=model_dir))
    client = Client(app)
    estimator = app.predictor._model.estimator
    features = app.predictor._model.feature_names
    iris = load_iris().data
    generator = random.Random(seed)
    corpus, all_rows, all_labels, rich_rows, rich_probabilities = [], [], [], [], []
    for index in range(size):
        rows = [_row(generator, iris) for _ in range(_row_count(generator))]
        form = generator.choice(("seed", "rich arrays", "rich named"))
        if form == "seed":
            document = rows
        elif form == "rich arrays":
            document = {"instances": rows}
        else:
            document = {"instances": [dict(zip(features, row)) for row in rows]}
        body = json.dumps(document, separators=(",", ":")).encode()
        response = client.post("/predict", data=body, content_type="application/json")
        if response.status_code != 200:
            raise RuntimeError(f"in process, corpus body {index} answered {response.status_code}: "
                               f"{response.get_data()[:300]!r}")
        answer = json.loads(response.get_data())
        all_labels += answer if form == "seed" else [p["label"] for p in answer["predictions"]]
        all_rows += rows
        if form != "seed":
            rich_rows += rows
            rich_probabilities += [list(p["probabilities"].values()) for p in answer["predictions"]]
        corpus.append(Exchange(f"rel-{index}", body, response.get_data()))
    # Values near float32's limits would overflow scikit-learn's finiteness
    # check (a sum); the contract already guarantees they are finite.
    with sklearn.config_context(assume_finite=True):
        by_sklearn = estimator.predict(np.array(all_rows, dtype=np.float64)).tolist()
        probabilities = estimator.predict_proba(np.array(rich_rows, dtype=np.float64)).tolist()
    if all_labels != by_sklearn:
        wrong = next(i for i, (a, b) in enumerate(zip(all_labels, by_sklearn)) if a != b)
        raise RuntimeError(f"in process, row {all_rows[wrong]} is labelled {all_labels[wrong]}, "
                           f"scikit-learn says {by_sklearn[wrong]}")
    if rich_probabilities != probabilities:  # JSON keeps a float's every bit (repr round-trips)
        raise RuntimeError("in process, probabilities differ from scikit-learn's predict_proba")
    return corpus


def _row_count(generator: random.Random) -> int:
    draw = generator.random()
    if draw < 0.7:
        return 1
    if draw < 0.95:
        return generator.randint(2, 16)
    return generator.randint(17, 64)


def _row(generator: random.Random, iris: np.ndarray) -> list[float | int]:
    draw = generator.random()
    if draw < 0.6:  # a real flower, measured a little differently
        return [round(float(value) + generator.gauss(0, 0.3), generator.choice((1, 2, 3)))
                for value in iris[generator.randrange(len(iris))]]
    if draw < 0.9:  # anywhere in and around the training ranges
        return [round(generator.uniform(0, 9), 2) for _ in range(iris.shape[1])]
    return [generator.choice((0, -1, 100, 1e-7, 3.4e38, -3.4e38, 7, 2.5)) for _ in range(iris.shape[1])]


# --- servers ------------------------------------------------------------------

@dataclass
class LiveServer:
    process: subprocess.Popen
    port: int
    log_path: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def base_url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def workers(self) -> list[int]:
        return worker_pids(self.pid)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def worker_class(self) -> str:
        for line in self.log().splitlines():
            if "Using worker: " in line:
                return line.rsplit("Using worker: ", 1)[1].strip()
        return "unknown"

    def wait_for_workers(self, count: int = WORKERS, timeout_s: float = 10) -> list[int]:
        deadline = time.monotonic() + timeout_s
        while len(pids := self.workers()) < count:
            if time.monotonic() > deadline:
                raise RuntimeError(f"gunicorn {self.pid} has {len(pids)} workers, not {count}, "
                                   f"after {timeout_s} s:\n{self.log()[-3000:]}")
            time.sleep(0.01)
        return pids


@contextmanager
def live_server(model_dir: Path, *gunicorn_args: str, env: Mapping[str, str] = (),
                workers: int = WORKERS) -> Iterator[LiveServer]:
    """The production command on a free loopback port, healthy; stopped by PID at exit.

    ``gunicorn_args`` come after ``--bind``: flags that override the config
    (``--worker-class gthread``) or an app URI that replaces its ``wsgi_app``.
    """
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="reliability-server-") as scratch:
        log_path = Path(scratch) / "server.log"
        with open(log_path, "w") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "wsgi_service", "--bind", f"{HOST}:{port}", *gunicorn_args],
                cwd=REPO_ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                env={**os.environ, "MODEL_DIR": str(model_dir), "WEB_CONCURRENCY": str(workers), **dict(env)})
        server = LiveServer(process, port, log_path)
        try:
            with open(log_path) as output:
                wait_healthy(process, port, output)
            server.wait_for_workers(workers)
            yield server
        finally:
            stop(server)


def stop(server: LiveServer) -> None:
    """SIGTERM to the master; SIGKILL to whatever outlives it (by PID only)."""
    workers = server.workers() if server.process.poll() is None else []
    if server.process.poll() is None:
        server.process.terminate()
    try:
        server.process.wait(timeout=STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        server.process.kill()
        server.process.wait()
    for pid in workers:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def load_average() -> tuple[float, float, float]:
    return tuple(round(value, 2) for value in os.getloadavg())


def worker_memory(master_pid: int) -> dict[int, dict[str, float]]:
    """RSS and PSS (MiB) of each worker, by PID."""
    memory = {}
    for pid in worker_pids(master_pid):
        figures = rollup_mib(pid)
        memory[pid] = {"rss_mib": round(figures["rss_mib"], 1), "pss_mib": round(figures["pss_mib"], 1)}
    return memory


# --- who holds which connection: /proc ------------------------------------------

def socket_inodes(pid: int) -> set[int]:
    inodes = set()
    try:
        for fd in os.listdir(f"/proc/{pid}/fd"):
            try:
                target = os.readlink(f"/proc/{pid}/fd/{fd}")
            except OSError:
                continue  # closed meanwhile
            if target.startswith("socket:["):
                inodes.add(int(target[8:-1]))
    except OSError:
        pass  # the process is gone
    return inodes


def server_connections(port: int) -> dict[int, int]:
    """Client port -> inode of the server's end of each loopback connection to ``port``.

    An inode of 0 is a connection the kernel completed but no process has
    accepted yet: it waits in the listen backlog.
    """
    connections = {}
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local, remote, state, inode = fields[1], fields[2], fields[3], int(fields[9])
        if int(local.split(":")[1], 16) == port and state != "0A":  # 0A: LISTEN
            connections[int(remote.split(":")[1], 16)] = inode
    return connections


def holders(port: int, pids: Sequence[int]) -> dict[int, int | None]:
    """Client port -> the PID (of ``pids``) that accepted it, or None while it waits in the backlog."""
    owner = {inode: pid for pid in pids for inode in socket_inodes(pid)}
    return {client: owner.get(inode) if inode else None
            for client, inode in server_connections(port).items()}


def accepted_connections(pid: int, listener_inodes: set[int]) -> int:
    """Client connections ``pid`` holds: its sockets other than the inherited listener(s)."""
    return len(socket_inodes(pid) - listener_inodes)


# --- one request over a raw socket, and how it ended ----------------------------

@dataclass(frozen=True)
class HttpAnswer:
    status: int
    headers: dict[str, str]
    body: bytes


def request_bytes(exchange: Exchange, request_id: str | None = None) -> bytes:
    return (f"POST /predict HTTP/1.1\r\nHost: {HOST}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(exchange.body)}\r\nX-Request-ID: {request_id or exchange.request_id}\r\n"
            "Connection: close\r\n\r\n").encode() + exchange.body


def read_answer(sock: socket.socket) -> HttpAnswer:
    """Read to EOF (every request here says ``Connection: close``) and parse."""
    chunks = []
    while chunk := sock.recv(65536):
        chunks.append(chunk)
    data = b"".join(chunks)
    if not data:
        raise ConnectionResetError("closed without an answer")
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length", len(body)))
    if len(body) < length:
        raise ConnectionResetError(f"answer cut short: {len(body)} of {length} bytes")
    return HttpAnswer(int(lines[0].split()[1]), headers, body[:length])


def http_exchange(port: int, data: bytes, timeout: float = 10) -> HttpAnswer:
    with socket.create_connection((HOST, port), timeout=timeout) as sock:
        sock.sendall(data)
        return read_answer(sock)


@dataclass
class Attempt:
    """One request from a client thread: when, from which port, and how it ended."""

    started: float
    ended: float = 0.0
    client_port: int | None = None  # set once the TCP handshake completed
    outcome: str = ""  # ok | wrong | status NNN | refused | reset | timeout | error: ...

    @property
    def connected(self) -> bool:
        return self.client_port is not None


def attempt(port: int, exchange: Exchange, request_id: str, timeout: float = 10) -> Attempt:
    record = Attempt(time.monotonic())
    try:
        with socket.socket() as sock:
            sock.settimeout(timeout)
            sock.connect((HOST, port))
            record.client_port = sock.getsockname()[1]
            sock.sendall(request_bytes(exchange, request_id))
            answer = read_answer(sock)
        if answer.status != 200:
            record.outcome = f"status {answer.status}"
        else:
            record.outcome = "ok" if answer.body == exchange.expected else "wrong"
    except ConnectionRefusedError:
        record.outcome = "refused"
    except (ConnectionResetError, BrokenPipeError, ConnectionAbortedError):
        record.outcome = "reset"
    except TimeoutError:
        record.outcome = "timeout"
    except OSError as error:
        record.outcome = f"error: {error}"
    record.ended = time.monotonic()
    return record


class ClientThreads:
    """``count`` threads, each sending corpus bodies one after another until stopped.

    Every request carries a unique X-Request-ID; every attempt is kept. A
    thread whose request was refused waits ``refused_pause_s`` before the
    next, so a stopped server is not hammered by a busy loop.
    """

    def __init__(self, port: int, corpus: Sequence[Exchange], count: int, timeout: float = 10,
                 refused_pause_s: float = 0.05):
        self.port, self.corpus, self.timeout = port, corpus, timeout
        self.refused_pause_s = refused_pause_s
        self.attempts: list[Attempt] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run, args=(number,), daemon=True)
                         for number in range(count)]

    def __enter__(self) -> "ClientThreads":
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.stop()

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(self.timeout + 5)

    def _run(self, number: int) -> None:
        sequence = 0
        while not self._stop.is_set():
            exchange = self.corpus[(number * 7919 + sequence) % len(self.corpus)]
            record = attempt(self.port, exchange, f"{exchange.request_id}.t{number}.{sequence}", self.timeout)
            with self._lock:
                self.attempts.append(record)
            sequence += 1
            if record.outcome == "refused":
                self._stop.wait(self.refused_pause_s)


class SlowClient:
    """Sends the headers at once, then the body one byte every ``interval_s``; reads the answer."""

    def __init__(self, port: int, exchange: Exchange, interval_s: float, request_id: str = "slow"):
        self.port, self.exchange, self.interval_s, self.request_id = port, exchange, interval_s, request_id
        self.attempt = Attempt(0.0)
        self._sock: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._abandon = threading.Event()

    @property
    def client_port(self) -> int | None:
        return self.attempt.client_port

    def start(self, head_bytes: int = 0, release: threading.Event | None = None) -> "SlowClient":
        """Connect, send the headers and the body's first ``head_bytes``; dribble the rest from a
        thread, once ``release`` is set when one is given."""
        self.attempt = Attempt(time.monotonic())
        self._sock = socket.create_connection((HOST, self.port), timeout=120)
        self.attempt.client_port = self._sock.getsockname()[1]
        data = request_bytes(self.exchange, self.request_id)
        head = len(data) - len(self.exchange.body) + head_bytes
        self._sock.sendall(data[:head])
        self._thread = threading.Thread(target=self._dribble, args=(data[head:], release), daemon=True)
        self._thread.start()
        return self

    def _dribble(self, rest: bytes, release: threading.Event | None) -> None:
        try:
            while release is not None and not release.wait(0.05):
                if self._abandon.is_set():
                    return
            for offset in range(len(rest)):
                if self._abandon.wait(self.interval_s):
                    return
                self._sock.sendall(rest[offset:offset + 1])
            answer = read_answer(self._sock)
            if answer.status != 200:
                self.attempt.outcome = f"status {answer.status}"
            else:
                self.attempt.outcome = "ok" if answer.body == self.exchange.expected else "wrong"
        except (ConnectionResetError, BrokenPipeError, ConnectionAbortedError):
            self.attempt.outcome = "reset"
        except TimeoutError:
            self.attempt.outcome = "timeout"
        except OSError as error:
            self.attempt.outcome = f"error: {error}"
        finally:
            self.attempt.ended = time.monotonic()
            if not self._abandon.is_set():
                self._sock.close()  # as a client does once answered: gunicorn lingers until it does

    def join(self, timeout: float | None = None) -> Attempt:
        if self._thread:
            self._thread.join(timeout)
        return self.attempt

    def abandon(self) -> None:
        """Close the connection mid-body, as a client that gives up."""
        self._abandon.set()
        if self._thread:
            self._thread.join(5)
        if self._sock:
            self._sock.close()
        if not self.attempt.outcome:
            self.attempt.outcome = "abandoned"
            self.attempt.ended = time.monotonic()


# --- wrk, checking every answer -------------------------------------------------

_WRK_MARK = "RELIABILITY_JSON "
_WRK_FIRST_WRONG = "RELIABILITY_FIRST_WRONG "
# wrk's Lua: each thread cycles through the corpus; response() finds the
# expected bytes by the X-Request-ID the service echoes and compares them;
# done() adds the threads' counts up and prints them as one JSON line.
WRK_CHECKING_SCRIPT = r"""
local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  local corpus = dofile(args[1])
  prepared, expected = {}, {}
  for index, entry in ipairs(corpus) do
    local headers = {["Content-Type"] = "application/json", ["X-Request-ID"] = entry[1]}
    if args[2] == "close" then
      headers["Connection"] = "close"
    end
    prepared[index] = wrk.format("POST", "/predict", headers, entry[2])
    expected[entry[1]] = entry[3]
  end
  cursor = 0
  checked, not_ok, wrong, first_wrong = 0, 0, 0, ""
end

function request()
  cursor = cursor % #prepared + 1
  return prepared[cursor]
end

function response(status, headers, body)
  checked = checked + 1
  if status ~= 200 then
    not_ok = not_ok + 1
  elseif expected[headers["X-Request-ID"]] ~= body then
    wrong = wrong + 1
  else
    return
  end
  if first_wrong == "" then
    first_wrong = status .. " " .. tostring(headers["X-Request-ID"]) .. " " .. string.sub(body, 1, 300)
  end
end

function done(summary, latency, requests)
  local checked, not_ok, wrong, first = 0, 0, 0, ""
  for _, thread in ipairs(threads) do
    checked = checked + thread:get("checked")
    not_ok = not_ok + thread:get("not_ok")
    wrong = wrong + thread:get("wrong")
    if first == "" then first = thread:get("first_wrong") end
  end
  local errors = summary.errors
  io.write(string.format(
    'RELIABILITY_JSON {"requests":%d,"duration_us":%d,"connect_errors":%d,"read_errors":%d,' ..
    '"write_errors":%d,"timeouts":%d,"bad_status":%d,"checked":%d,"not_ok":%d,"wrong":%d,' ..
    '"p50_us":%d,"p99_us":%d,"max_us":%d}\n',
    summary.requests, summary.duration, errors.connect, errors.read, errors.write,
    errors.timeout, errors.status, checked, not_ok, wrong,
    latency:percentile(50), latency:percentile(99), latency.max))
  io.write("RELIABILITY_FIRST_WRONG " .. first .. "\n")
end
"""


@dataclass(frozen=True)
class WrkRun:
    requests: int
    seconds: float
    socket_errors: int  # connect, read and write errors
    timeouts: int
    non_2xx: int  # wrk's count of answers >= 400
    checked: int  # answers compared with the in-process ones
    not_200: int
    wrong: int
    p50_ms: float
    p99_ms: float
    max_ms: float
    first_wrong: str
    detail: dict

    @property
    def errors(self) -> int:
        return self.socket_errors + self.timeouts + self.non_2xx

    @property
    def requests_per_s(self) -> float:
        return self.requests / self.seconds


def write_wrk_files(corpus: Sequence[Exchange], directory: Path) -> tuple[Path, Path]:
    """The Lua script and the corpus as a Lua table (long strings: JSON never holds ``]==]``)."""
    script = directory / "check.lua"
    script.write_text(WRK_CHECKING_SCRIPT)
    table = directory / "corpus.lua"
    with open(table, "w") as out:
        out.write("return {\n")
        for exchange in corpus:
            fields = (exchange.request_id, exchange.body.decode(), exchange.expected.decode())
            if any("]==]" in text for text in fields):
                raise ValueError(f"{exchange.request_id} cannot be written as a Lua long string")
            out.write("{" + ", ".join(f"[==[{text}]==]" for text in fields) + "},\n")
        out.write("}\n")
    return script, table


def start_wrk(port: int, files: tuple[Path, Path], connections: int, seconds: int,
              timeout_s: int = 10, close: bool = False) -> subprocess.Popen:
    """wrk with one thread (the cores are the workers'), checking every answer; collect with ``wrk_result``.

    ``close`` asks for ``Connection: close``: a new connection per request, as
    the sync worker forces anyway; without it, workers that keep connections
    alive (gthread) are spared the reconnections.
    """
    script, table = files
    return subprocess.Popen(
        [ensure_wrk(), "--threads", "1", "--connections", str(connections), "--duration", f"{seconds}s",
         "--timeout", f"{timeout_s}s", "--latency", "--script", str(script),
         f"http://{HOST}:{port}/predict", "--", str(table), *(["close"] if close else [])],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def wrk_result(process: subprocess.Popen) -> WrkRun:
    output, _ = process.communicate()
    summary, first_wrong = None, ""
    for line in output.splitlines():
        if line.startswith(_WRK_MARK):
            summary = json.loads(line[len(_WRK_MARK):])
        elif line.startswith(_WRK_FIRST_WRONG):
            first_wrong = line[len(_WRK_FIRST_WRONG):]
    if process.returncode != 0 or summary is None:
        raise RuntimeError(f"wrk failed ({process.returncode}):\n{output}")
    return WrkRun(
        requests=summary["requests"], seconds=summary["duration_us"] / 1e6,
        socket_errors=summary["connect_errors"] + summary["read_errors"] + summary["write_errors"],
        timeouts=summary["timeouts"], non_2xx=summary["bad_status"], checked=summary["checked"],
        not_200=summary["not_ok"], wrong=summary["wrong"], p50_ms=summary["p50_us"] / 1e3,
        p99_ms=summary["p99_us"] / 1e3, max_ms=summary["max_us"] / 1e3, first_wrong=first_wrong,
        detail=summary)


def run_wrk(port: int, files: tuple[Path, Path], connections: int, seconds: int, close: bool = False) -> WrkRun:
    return wrk_result(start_wrk(port, files, connections, seconds, close=close))
