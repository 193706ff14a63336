"""A stand-in for ``tests.harness.slow_clients.SlowHorde``, with its interface: REPLACE AT MERGE.

The soak (``tests/harness/soak.py``) runs slow clients beside its load
through this interface: ``SlowHorde(port, per_kind, interval_s)``, a context
manager that keeps ``per_kind`` connections of each kind open from one
thread, and ``.figures()``. This minimal one opens the four kinds (idle,
headers dribbled, body dribbled, answer never read), sends each dribbling
one a byte every ``interval_s``, and opens a new connection for each one the
server closes (its deadlines do, by design), so the count stays up. Once
``slow_clients.py`` is merged, the soak imports ``SlowHorde`` from there and
this file goes.
"""

import selectors
import socket
import threading
import time
from collections import Counter

from tests.harness.server import HOST

KINDS = ("idle", "headers dribbled", "body dribbled", "answer never read")
# An unread answer's connection is closed by the server's send deadline, unseen by a client that
# never reads: it is replaced after this long.
UNREAD_RENEW_S = 40.0
_BODY = b"[[5.1,3.5,1.4,0.2]]"


def _request(kind: str, port: int) -> bytes:
    if kind == "answer never read":  # a large answer, asked for on a kept-alive connection, many times
        return f"GET /openapi.json HTTP/1.1\r\nHost: {HOST}:{port}\r\n\r\n".encode() * 50
    return (f"POST /predict HTTP/1.1\r\nHost: {HOST}:{port}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(_BODY)}\r\n\r\n").encode() + _BODY


class _Slow:
    __slots__ = ("kind", "sock", "rest", "opened")

    def __init__(self, kind: str, port: int):
        self.kind, self.opened = kind, time.monotonic()
        self.sock = socket.create_connection((HOST, port), timeout=5)
        data = _request(kind, port)
        head = {"idle": 0, "headers dribbled": 1, "body dribbled": data.index(b"\r\n\r\n") + 4}.get(kind, len(data))
        self.sock.sendall(data[:head])
        self.sock.setblocking(False)
        self.rest = b"" if kind == "idle" else data[head:]


class SlowHorde:
    """``per_kind`` slow connections of each kind against 127.0.0.1:``port``, kept open from one thread."""

    def __init__(self, port: int, per_kind: int = 100, interval_s: float = 1.0):
        self.port, self.per_kind, self.interval_s = port, per_kind, interval_s
        self._counts = Counter()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> "SlowHorde":
        self._thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._stop.set()
        self._thread.join(self.interval_s + 10)

    def figures(self) -> dict[str, int]:
        """Connections opened, closed by the server, and failed to open, per kind (stand-in's keys)."""
        return dict(self._counts)

    def _open(self, kind: str, selector: selectors.BaseSelector) -> None:
        try:
            slow = _Slow(kind, self.port)
        except OSError:
            self._counts[f"{kind}: not opened"] += 1
            return
        self._counts[f"{kind}: opened"] += 1
        if kind != "answer never read":
            selector.register(slow.sock, selectors.EVENT_READ, slow)
        self._held.append(slow)

    def _run(self) -> None:
        self._held: list[_Slow] = []
        with selectors.DefaultSelector() as selector:
            for kind in KINDS:
                for _ in range(self.per_kind):
                    self._open(kind, selector)
            while not self._stop.wait(self.interval_s):
                answered = {key.data for key, _ in selector.select(0)}  # the server spoke: it closes
                now = time.monotonic()
                for slow in list(self._held):
                    expired = slow.kind == "answer never read" and now - slow.opened > UNREAD_RENEW_S
                    if slow in answered or expired:
                        self._close(slow, selector, "closed by the server" if slow in answered else "renewed")
                        self._open(slow.kind, selector)
                    elif slow.rest:
                        try:
                            slow.sock.send(slow.rest[:1])
                            slow.rest = slow.rest[1:]
                        except OSError:
                            self._close(slow, selector, "closed by the server")
                            self._open(slow.kind, selector)
            for slow in list(self._held):
                self._close(slow, selector, "closed at the end")

    def _close(self, slow: _Slow, selector: selectors.BaseSelector, why: str) -> None:
        self._counts[f"{slow.kind}: {why}"] += 1
        if slow.kind != "answer never read":
            selector.unregister(slow.sock)
        slow.sock.close()
        self._held.remove(slow)
