"""One client connection: its socket, its h11 state, its phase and the deadline that phase has.

The deadlines and sizes are the front's limits, named here and re-exported by
the package (the tests and drills read them)."""

import socket
import time

import h11

HEADERS_SECONDS = 10.0
BODY_SECONDS = 30.0
SEND_SECONDS = 30.0
# After an answer that ends the connection, how long its client may go on sending before the
# socket closes (closing with unread bytes would reset it, and the answer could be lost).
LINGER_SECONDS = 2.0
# An answer that held the worker this long ends its connection (``Connection: close``): a kept-alive
# connection stays with the worker that accepted it, which a long request may keep busy while another
# worker idles; a new connection goes to whichever worker is free. A reconnection costs about 0.1 ms,
# 2% of this; single rows (well under it) keep their connections.
REBALANCE_SECONDS = 0.005
# On SIGTERM, how long a connection accepted but still silent may take to send its request.
LAST_REQUEST_SECONDS = 1.0
# Request line and headers; more is answered 431 (h11's limit, named here).
MAX_HEADER_BYTES = 16 * 1024
RECV_BYTES = 256 * 1024
# The kernel's send buffer per connection, fixed rather than grown to 4 MiB for a client that does
# not read: what it does not take waits in the front, under SEND_SECONDS.
SEND_BUFFER_BYTES = 256 * 1024
# Requests a connection may have answered in one turn of the loop (pipelined ones wait their next).
PIPELINE_TURN = 16

# A connection's phases: what it waits for, and so which deadline holds.
IDLE, HEADERS, BODY, SENDING, LINGERING = "idle", "headers", "body", "sending", "lingering"


class Connection:
    __slots__ = ("sock", "peer", "http", "phase", "deadline", "served", "request", "body", "pending")

    def __init__(self, sock: socket.socket, peer, now: float):
        self.sock, self.peer = sock, peer
        self.http = h11.Connection(h11.SERVER, max_incomplete_event_size=MAX_HEADER_BYTES)
        self.phase, self.deadline = IDLE, now + HEADERS_SECONDS
        self.served = 0
        self.request: h11.Request | None = None
        self.body = bytearray()
        self.pending = b""

    def wait(self, phase: str, seconds: float) -> None:
        self.phase, self.deadline = phase, time.monotonic() + seconds

    def receive(self, data: bytes) -> None:
        """The client's bytes to h11 (b"" when it has closed its side)."""
        if self.phase == IDLE and data:
            # A first request's headers are due HEADERS_SECONDS after the accept, a later one's
            # after its first byte.
            self.phase = HEADERS
            if self.served:
                self.deadline = time.monotonic() + HEADERS_SECONDS
        self.http.receive_data(data)


def declared_length(request: h11.Request) -> int:
    for name, value in request.headers:
        if name == b"content-length":
            return int(value)
    return 0


def framed_twice(request: h11.Request) -> bool:
    """Both lengths: RFC 9112 lets a server refuse it, the way to stay out of request smuggling
    between a proxy that reads one and a server that reads the other."""
    names = {name for name, _ in request.headers}
    return b"content-length" in names and b"transfer-encoding" in names
