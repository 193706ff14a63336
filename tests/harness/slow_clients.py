"""A horde of slow clients, ``per_kind`` of each kind held open at once, all driven by one thread.

The kinds are the clients a bare server meets once no proxy buffers for it:

- ``headers``: the request line and headers a byte at a time (slowloris): a
  client on a bad link, or one that means to hold a worker for free;
- ``body``: whole headers, then the body a byte at a time (a slow POST). The
  body is a valid one-row ``/predict`` body led by JSON whitespace, so that at
  this pace it outlasts the front's ``BODY_SECONDS`` and meets its 408;
- ``idle``: connects and says nothing: a browser's preconnect, a client that
  died after its handshake, a port scanner;
- ``unread``: pipelines ``GET /openapi.json`` (tens of KB each) with a small
  receive buffer and never reads: a client stalled mid-download. The kernel
  grows the server's send buffer up to ``tcp_wmem``'s maximum (4 MiB here), so
  the horde asks for more answers than that holds: the rest waits in the
  front, whose ``SEND_SECONDS`` then ends the connection.

The horde keeps the counts up: a connection the server ends is replaced at
once by one of the same kind, and each kind's figures say how many it
opened, how the server ended them (an answer's status, EOF, reset) and after
how long, and the most open at once.

One thread, one ``selectors`` loop, and a heap of the next byte due: four
hundred clients that each send a byte a second are a timer's work, not four
hundred threads', and the thread that measures the normal client keeps the
interpreter nearly to itself.

A client that never reads cannot see the server close on it (the FIN waits
behind the answer it does not read), so the horde looks at the server's end
of each ``unread`` connection in /proc/net/tcp; it talks to 127.0.0.1 only,
so the server's loopback is this one.

    python -m tests.harness.slow_clients --port PORT [--per-kind 100] [--hold 20]

runs the slow-client drill (``tests.harness.runs.slow_drill``) against a
server already listening on 127.0.0.1:PORT (a container with ``--network
host``), prints its figures and exits 1 when the target is missed.
"""

import argparse
import errno
import heapq
import json
import random
import selectors
import socket
import sys
import threading
import time
import urllib.request
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from tests.harness.proc import server_states
from tests.harness.server import HOST
from wsgi_service.operations.front import BODY_SECONDS

KINDS = ("headers", "body", "idle", "unread")
UNREAD_RECEIVE_BUFFER = 4096
UNREAD_PATH = "/openapi.json"
_SEND_BUFFER_MAX = Path("/proc/sys/net/ipv4/tcp_wmem")  # min, default, max: the kernel grows to max
_SELECT_S = 0.1
_UNREAD_CHECK_S = 0.5
_SAMPLE_S = 0.25  # how often the open counts are sampled for the fewest once full
_REFUSED_PAUSE_S = 0.1  # a kind whose connect failed waits this long before the next, not a busy loop
_SERVER_GONE = ("ESTABLISHED", "CLOSE_WAIT")  # the server's end in any other state has closed


@dataclass
class KindFigures:
    """One kind's connections: how many, how the server ended them and after how long."""

    kind: str
    opened: int = 0
    open: int = 0
    most_open: int = 0
    # Connections open or in their handshake, sampled every _SAMPLE_S once ``per_kind`` were open: the
    # replacements for connections that the server ends together (idle ones on the same tick) are
    # connecting for a moment, and a sample then would be noise.
    fewest_once_full: int | None = None
    ended: Counter = field(default_factory=Counter)  # how the server ended one: "status 408", "eof", "reset"
    shortest_held_s: float | None = None  # of those the server ended, from the handshake
    longest_held_s: float | None = None
    connect_failures: Counter = field(default_factory=Counter)

    def line(self) -> str:
        ended = ", ".join(f"{count} {how}" for how, count in self.ended.most_common()) or "none"
        held = (f", after {self.shortest_held_s:.1f}-{self.longest_held_s:.1f} s"
                if self.shortest_held_s is not None else "")
        failures = ", ".join(f"{count} {how}" for how, count in self.connect_failures.items())
        return (f"{self.kind:8s} opened {self.opened}, most open at once {self.most_open}, fewest once full "
                f"{self.fewest_once_full}; ended by the server: {ended}{held}"
                + (f"; connects failed: {failures}" if failures else ""))


class _Client:
    __slots__ = ("kind", "sock", "port", "connected_at", "script", "sent", "received", "ended")

    def __init__(self, kind: str, sock: socket.socket, script: bytes):
        self.kind, self.sock, self.script = kind, sock, script
        self.port: int | None = None
        self.connected_at = 0.0
        self.sent = 0
        self.received = bytearray()
        self.ended = False


class SlowHorde:
    """``per_kind`` connections of each kind in ``KINDS`` against 127.0.0.1:``port``, kept open until
    ``__exit__``; ``headers`` and ``body`` wait a random time within ``interval_s`` before each byte."""

    def __init__(self, port: int, per_kind: int = 100, interval_s: tuple[float, float] = (0.5, 1.0),
                 body: bytes = b"[[5.1,3.5,1.4,0.2]]", seed: int = 7):
        self.port, self.per_kind, self.interval_s = port, per_kind, interval_s
        self._body = body
        self._scripts: dict[str, bytes] = {}
        self._random = random.Random(seed)
        self._selector = selectors.DefaultSelector()
        self._due: list[tuple[float, int, _Client]] = []  # (when, tie-breaker, client): the next byte
        self._sequence = 0
        self._clients: dict[str, set[_Client]] = {kind: set() for kind in KINDS}
        self._paused_until = dict.fromkeys(KINDS, 0.0)
        self._figures = {kind: KindFigures(kind) for kind in KINDS}
        self._full = set()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="slow-horde", daemon=True)

    def __enter__(self) -> "SlowHorde":
        self._scripts = _scripts(self._body, self.interval_s[0], _overflowing_count(self.port))
        self._thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._stop.set()
        self._thread.join(10)

    def figures(self) -> dict[str, KindFigures]:
        """A copy of each kind's figures now."""
        with self._lock:
            return {kind: KindFigures(**{**vars(f), "ended": Counter(f.ended),
                                         "connect_failures": Counter(f.connect_failures)})
                    for kind, f in self._figures.items()}

    def wait_full(self, timeout_s: float) -> bool:
        """Whether every kind had ``per_kind`` open at once within ``timeout_s``."""
        deadline = time.monotonic() + timeout_s
        while len(self._full) < len(KINDS):
            if time.monotonic() > deadline or not self._thread.is_alive():
                return False
            time.sleep(0.05)
        return True

    # --- the loop -----------------------------------------------------------------

    def _run(self) -> None:
        next_unread_check = next_sample = 0.0
        self._fill(time.monotonic())
        try:
            while not self._stop.is_set():
                now = time.monotonic()
                timeout = min(_SELECT_S, max(0.0, self._due[0][0] - now)) if self._due else _SELECT_S
                for key, _ in self._selector.select(timeout):
                    client = key.data
                    if client.port is None:
                        self._connected(client)
                    else:
                        self._receive(client)
                now = time.monotonic()
                while self._due and self._due[0][0] <= now:
                    self._send_due(heapq.heappop(self._due)[2], now)
                if now >= next_unread_check:
                    next_unread_check = now + _UNREAD_CHECK_S
                    self._check_unread()
                self._fill(now)
                if now >= next_sample:
                    next_sample = now + _SAMPLE_S
                    self._sample()
        finally:
            for clients in self._clients.values():
                for client in clients:
                    client.sock.close()
            self._selector.close()

    def _fill(self, now: float) -> None:
        """Replace what the server ended: connect until each kind has ``per_kind`` connections."""
        for kind, clients in self._clients.items():
            while len(clients) < self.per_kind and now >= self._paused_until[kind]:
                sock = socket.socket()
                if kind == "unread":  # before the handshake, or the window is already announced
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, UNREAD_RECEIVE_BUFFER)
                sock.setblocking(False)
                result = sock.connect_ex((HOST, self.port))
                client = _Client(kind, sock, self._scripts[kind])
                if result not in (0, errno.EINPROGRESS):
                    self._connect_failed(client, result, now)
                    continue
                clients.add(client)
                self._selector.register(sock, selectors.EVENT_WRITE, client)

    def _connected(self, client: _Client) -> None:
        now = time.monotonic()
        result = client.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        if result:
            self._selector.unregister(client.sock)
            self._clients[client.kind].discard(client)
            self._connect_failed(client, result, now)
            return
        client.port, client.connected_at = client.sock.getsockname()[1], now
        with self._lock:
            figures = self._figures[client.kind]
            figures.opened += 1
            figures.open += 1
            figures.most_open = max(figures.most_open, figures.open)
            if figures.open >= self.per_kind:
                self._full.add(client.kind)
        if client.kind == "unread":  # it never reads: nothing to wait for on the socket
            self._selector.unregister(client.sock)
            self._send(client, client.script)
            return
        self._selector.modify(client.sock, selectors.EVENT_READ, client)
        if client.kind == "body":
            head = client.script.index(b"\r\n\r\n") + 4
            self._send(client, client.script[:head])
            client.sent = head
        if client.script:
            self._schedule(client, now)

    def _connect_failed(self, client: _Client, result: int, now: float) -> None:
        client.sock.close()
        self._paused_until[client.kind] = now + _REFUSED_PAUSE_S
        with self._lock:
            self._figures[client.kind].connect_failures[errno.errorcode.get(result, str(result))] += 1

    def _schedule(self, client: _Client, now: float) -> None:
        self._sequence += 1
        heapq.heappush(self._due, (now + self._random.uniform(*self.interval_s), self._sequence, client))

    def _send_due(self, client: _Client, now: float) -> None:
        if client.ended or client.received or client.sent >= len(client.script):
            return  # ended, or answered: nothing more to send
        if self._send(client, client.script[client.sent:client.sent + 1]):
            client.sent += 1
            self._schedule(client, now)

    def _send(self, client: _Client, data: bytes) -> bool:
        try:
            client.sock.send(data)  # a byte, or a few hundred into an empty buffer: never partial
            return True
        except (BrokenPipeError, ConnectionResetError):
            self._end(client, "reset")
            return False

    def _receive(self, client: _Client) -> None:
        try:
            data = client.sock.recv(65536)
        except BlockingIOError:
            return
        except (ConnectionResetError, BrokenPipeError):
            self._end(client, "reset")
            return
        if data:
            client.received += data  # an answer: read on to the server's close
        else:
            self._end(client, "eof")

    def _check_unread(self) -> None:
        """End the ``unread`` connections whose server end has closed (its state, not its FIN)."""
        states = server_states(self.port)
        for client in list(self._clients["unread"]):
            if client.port is not None and states.get(client.port, "gone") not in _SERVER_GONE:
                self._end(client, f"closed unread ({states.get(client.port, 'gone')})")

    def _end(self, client: _Client, how: str) -> None:
        """The server ended ``client``: count how (the answer's status if one came), close, forget."""
        if client.ended:
            return
        client.ended = True
        if client.received.startswith(b"HTTP/"):
            how = "status " + client.received.split(b" ", 2)[1].decode("latin-1")
        held = time.monotonic() - client.connected_at
        if client.kind != "unread":
            self._selector.unregister(client.sock)
        client.sock.close()
        self._clients[client.kind].discard(client)
        with self._lock:
            figures = self._figures[client.kind]
            figures.open -= 1
            figures.ended[how] += 1
            if figures.shortest_held_s is None:
                figures.shortest_held_s = figures.longest_held_s = held
            figures.shortest_held_s = min(held, figures.shortest_held_s)
            figures.longest_held_s = max(held, figures.longest_held_s)

    def _sample(self) -> None:
        with self._lock:
            for kind in self._full:
                figures, slots = self._figures[kind], len(self._clients[kind])
                figures.fewest_once_full = slots if figures.fewest_once_full is None else min(
                    figures.fewest_once_full, slots)


def _overflowing_count(port: int) -> int:
    """How many answers of ``UNREAD_PATH`` overflow the largest send buffer the kernel grows to."""
    try:
        send_buffer_max = int(_SEND_BUFFER_MAX.read_text().split()[2])
    except OSError:
        send_buffer_max = 4 * 1024 * 1024  # Linux's default
    with urllib.request.urlopen(f"http://{HOST}:{port}{UNREAD_PATH}", timeout=10) as response:
        answer_bytes = len(response.read())
    return send_buffer_max // answer_bytes + 2


def _scripts(body: bytes, shortest_interval_s: float, unread_requests: int) -> dict[str, bytes]:
    """What each kind sends: ``headers`` and ``body`` a byte at a time, ``unread`` at once."""
    # Enough leading whitespace that the body, at the fastest pace, outlasts BODY_SECONDS twice over.
    slow_body = b" " * int(2 * BODY_SECONDS / shortest_interval_s) + body
    endless_headers = "".join(f"X-Slow-{number}: {number}\r\n" for number in range(1000))
    get = f"GET {UNREAD_PATH} HTTP/1.1\r\nHost: {HOST}\r\n\r\n"
    return {
        "headers": f"POST /predict HTTP/1.1\r\nHost: {HOST}\r\n{endless_headers}".encode(),
        "body": (f"POST /predict HTTP/1.1\r\nHost: {HOST}\r\nContent-Type: application/json\r\n"
                 f"Content-Length: {len(slow_body)}\r\n\r\n").encode() + slow_body,
        "idle": b"",
        "unread": (get * unread_requests).encode(),
    }


# --- the command ---------------------------------------------------------------------

def one_row_body(port: int) -> bytes:
    """A valid one-row rich-form body for the model served: each feature's training midpoint
    (a categorical feature's first category), from ``GET /model``."""
    with urllib.request.urlopen(f"http://{HOST}:{port}/model", timeout=10) as response:
        features = json.load(response)["features"]
    row = {feature["name"]: feature["categories"][0] if "categories" in feature
           else round((feature["min"] + feature["max"]) / 2, 3) for feature in features}
    return json.dumps({"instances": [row]}, separators=(",", ":")).encode()


def main(argv: list[str] | None = None) -> int:
    from tests.harness import runs  # runs imports this module: here, not at the top

    parser = argparse.ArgumentParser(prog="python -m tests.harness.slow_clients",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, required=True, help=f"the server's port on {HOST}")
    parser.add_argument("--per-kind", type=int, default=runs.DRILL_PER_KIND, help="connections per kind (%(default)s)")
    parser.add_argument("--hold", type=float, default=runs.DRILL_HOLD_S, help="seconds held (%(default)s)")
    parser.add_argument("--baseline", type=float, default=runs.DRILL_BASELINE_S,
                        help="seconds measured without the horde first (%(default)s)")
    parser.add_argument("--server-pid", type=int, help="the master's PID, for RSS per process")
    parser.add_argument("--server-log", type=Path, help="the server's output, for WORKER TIMEOUT lines")
    args = parser.parse_args(argv)
    exchange = runs.served_exchange(args.port, one_row_body(args.port))
    figures = runs.slow_drill(args.port, exchange, per_kind=args.per_kind, hold_s=args.hold,
                              baseline_s=args.baseline, master_pid=args.server_pid,
                              log=args.server_log.read_text if args.server_log else None)
    print("\n".join(figures.lines()))
    return 1 if figures.misses() else 0


if __name__ == "__main__":
    sys.exit(main())
