"""Requests one at a time (a connection each, or kept alive), client threads that keep sending corpus
bodies, and slow clients; each attempt says how it ended.

Each request is checked against the corpus's in-process answer, and a
failure is told apart: refused, reset, timed out, wrong bytes, another status.
"""

import http.client
import socket
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from tests.harness.corpus import Exchange
from tests.harness.raw_http import HttpAnswer, read_answer, request_bytes
from tests.harness.server import HOST


@dataclass
class Attempt:
    """One request from a client thread: when, from which port, and how it ended."""

    started: float
    ended: float = 0.0
    client_port: int | None = None  # set once the TCP handshake completed
    outcome: str = ""  # ok | wrong | status NNN | refused | reset | timeout | error: ... (or the judge's word)
    model: str = ""  # the answer's X-Model header: which model version answered, behind a balancer

    @property
    def connected(self) -> bool:
        return self.client_port is not None


Judge = Callable[[HttpAnswer, Exchange], str]
MODEL_HEADER = "x-model"  # the service's X-Model, as raw_http and http.client's answers key it here


def judged(answer: HttpAnswer, exchange: Exchange) -> str:
    """``ok`` for the status the exchange must get (and its body, when it names one), else why not."""
    if answer.status != exchange.status:
        return f"status {answer.status}"
    return "ok" if exchange.expected is None or answer.body == exchange.expected else "wrong"


def attempt(port: int, exchange: Exchange, request_id: str, timeout: float = 10, judge: Judge = judged) -> Attempt:
    """One request on a connection of its own (``Connection: close``)."""
    record = Attempt(time.monotonic())

    def ask() -> HttpAnswer:
        with socket.socket() as sock:
            sock.settimeout(timeout)
            sock.connect((HOST, port))
            record.client_port = sock.getsockname()[1]
            sock.sendall(request_bytes(exchange, request_id))
            return read_answer(sock)

    return _judged(record, exchange, ask, judge)


def kept_alive_attempt(connection: http.client.HTTPConnection, exchange: Exchange, request_id: str,
                       judge: Judge = judged) -> Attempt:
    """One request on ``connection``, kept alive for the next; a failed one is closed (http.client
    connects again on the next request)."""
    record = Attempt(time.monotonic())

    def ask() -> HttpAnswer:
        connection.request("POST", "/predict", exchange.body,
                           {"Content-Type": "application/json", "X-Request-ID": request_id})
        record.client_port = connection.sock.getsockname()[1]
        response = connection.getresponse()
        return HttpAnswer(response.status, {k.lower(): v for k, v in response.getheaders()}, response.read())

    _judged(record, exchange, ask, judge)
    if record.outcome != "ok":
        connection.close()
    return record


def _judged(record: Attempt, exchange: Exchange, ask, judge: Judge) -> Attempt:
    """``record`` with the outcome of ``ask()``: the answer as ``judge`` finds it, or the failure."""
    try:
        answer = ask()
        record.model = answer.headers.get(MODEL_HEADER, "")
        record.outcome = judge(answer, exchange)
    except ConnectionRefusedError:
        record.outcome = "refused"
    except (ConnectionResetError, BrokenPipeError, ConnectionAbortedError):
        record.outcome = "reset"  # http.client's RemoteDisconnected among them
    except TimeoutError:
        record.outcome = "timeout"
    except (OSError, http.client.HTTPException) as error:
        record.outcome = f"error: {error}"
    record.ended = time.monotonic()
    return record


class ClientThreads:
    """``count`` threads, each sending corpus bodies one after another until stopped.

    Every request carries a unique X-Request-ID; every attempt is kept, or,
    when ``tally`` is given, handed to it with its exchange instead (a long
    run counts what it needs rather than keeping millions). A thread whose
    request was refused waits ``refused_pause_s`` before the next, so a
    stopped server is not hammered by a busy loop. With ``keep_alive`` each
    thread keeps its connection between requests (a client of a load
    balancer), connecting again after a failed one; ``judge`` says whether
    an answer is right (by default: the exchange's status and body).
    """

    def __init__(self, port: int, corpus: Sequence[Exchange], count: int, timeout: float = 10,
                 refused_pause_s: float = 0.05, tally: Callable[[Exchange, Attempt], None] | None = None,
                 keep_alive: bool = False, judge: Judge = judged):
        self.port, self.corpus, self.timeout = port, corpus, timeout
        self.refused_pause_s = refused_pause_s
        self.keep_alive, self.judge = keep_alive, judge
        self._tally = tally
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

    def since(self, moment: float) -> list[Attempt]:
        """The attempts kept that started at ``moment`` or later."""
        with self._lock:
            return [record for record in self.attempts if record.started >= moment]

    def _run(self, number: int) -> None:
        sequence = 0
        connection = http.client.HTTPConnection(HOST, self.port, timeout=self.timeout) if self.keep_alive else None
        while not self._stop.is_set():
            exchange = self.corpus[(number * 7919 + sequence) % len(self.corpus)]
            request_id = f"{exchange.request_id}.t{number}.{sequence}"
            if connection is not None:
                record = kept_alive_attempt(connection, exchange, request_id, self.judge)
            else:
                record = attempt(self.port, exchange, request_id, self.timeout, self.judge)
            with self._lock:
                if self._tally is None:
                    self.attempts.append(record)
                else:
                    self._tally(exchange, record)
            sequence += 1
            if record.outcome == "refused":
                self._stop.wait(self.refused_pause_s)
        if connection is not None:
            connection.close()


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
            self.attempt.outcome = judged(read_answer(self._sock), self.exchange)
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
