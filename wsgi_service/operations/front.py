"""The server's front: a gunicorn worker that reads every request whole before the app sees it.

One worker per core, each an event loop over its connections, as nginx is in
front of a server: the network's waits are the loop's, the CPU's work (the
forest) is the app's. A connection costs a socket and a few buffers while its
client is slow; the app is called only with a complete request (headers and
body in memory), and its answer is handed to the kernel without waiting for
the client to read it. So clients that send their headers a byte at a time,
dribble a body, open a connection and say nothing, or never read what they
asked for hold no worker: the other clients are answered meanwhile.

Why not gunicorn's own workers (measured in ``bench/README.md``): a sync worker
reads the request itself, so two slow clients hold both workers of a
two-core machine until gunicorn's ``timeout``; gthread hands each new
connection to a thread that blocks on its headers; the gevent worker has no
deadline for a first request's body or for an answer never read, and patches
the whole process.

Every connection has deadlines, after which it is closed (with a 408 problem
when the client was sending a body): ``HEADERS_SECONDS`` from being
accepted, or from a later request's first byte, to the end of its headers;
``BODY_SECONDS`` from the headers to the end of the body; ``SEND_SECONDS``
for the kernel to take an answer; gunicorn's ``keepalive`` for an idle
connection between requests. HTTP itself is h11's (framing, chunked bodies,
keep-alive, pipelining, ``Expect: 100-continue``, header size): a protocol
library with no I/O of its own, so the deadlines and buffering stay here.

The stop answers what was accepted, with no privilege (see ``draining`` for
the master's part): once draining, every answer says ``Connection: close``
and idle kept-alive connections are closed; on SIGTERM the worker accepts
until the listening socket's queue is empty, closes the socket at once, and
answers the connections it holds before it exits. A client that connects
later is refused.
"""

import errno
import functools
import io
import json
import os
import secrets
import selectors
import socket
import sys
import time
from email.utils import formatdate
from urllib.parse import unquote_to_bytes

import h11
from gunicorn.workers.base import Worker

from wsgi_service.errors import Problem
from wsgi_service.operations.draining import STATE
from wsgi_service.operations.settings import ServerSettings

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
_RECV_BYTES = 256 * 1024
# The kernel's send buffer per connection, fixed rather than grown to 4 MiB for a client that does
# not read: what it does not take waits in the front, under SEND_SECONDS.
SEND_BUFFER_BYTES = 256 * 1024
_TICK_SECONDS = 0.25
# Requests a connection may have answered in one turn of the loop (pipelined ones wait their next).
PIPELINE_TURN = 16
_HOP_BY_HOP = frozenset((b"connection", b"keep-alive", b"transfer-encoding"))

# What gunicorn's ``worker_class`` names to run this front.
WORKER_CLASS = "wsgi_service.operations.front.BufferingWorker"

# A connection's phases: what it waits for, and so which deadline holds.
IDLE, HEADERS, BODY, SENDING, LINGERING = "idle", "headers", "body", "sending", "lingering"


class _Connection:
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


class BufferingWorker(Worker):
    """gunicorn's worker contract (heartbeat, signals, the loaded app) around one event loop."""

    def init_process(self):
        # One byte over the app's limit is what the app needs to refuse a body as too large.
        self.buffer_limit = ServerSettings.from_env().max_body_bytes + 1
        self.selector = selectors.DefaultSelector()
        self.connections: dict[int, _Connection] = {}
        self.ready: set[_Connection] = set()  # connections with pipelined requests still to answer
        self.listening = []
        self.accepting = True
        self.closing = False
        super().init_process()

    # --- the loop ---------------------------------------------------------------------

    def run(self):
        host, port = self.sockets[0].getsockname()[:2] if self.sockets else ("", 0)
        self.server_address = (str(host), str(port))
        for listener in self.sockets:
            listener.setblocking(False)
            self.selector.register(listener, selectors.EVENT_READ, listener)
            self.listening.append(listener)
        self.selector.register(self.PIPE[0], selectors.EVENT_READ, None)
        next_tick = 0.0
        while self.alive or self.connections or self.listening:
            if not self.alive and not self.closing:
                self._close_listeners()
            for key, events in self.selector.select(0 if self.ready else _TICK_SECONDS):
                target = key.data
                if target is None:
                    self._drain_wakeup_pipe()
                elif not isinstance(target, _Connection):
                    if self.alive:
                        self._accept(target)
                elif target.sock.fileno() != -1:
                    self._guarded(self._flush if events & selectors.EVENT_WRITE else self._receive, target)
            for conn in list(self.ready):
                self.ready.discard(conn)
                if conn.sock.fileno() != -1:
                    self._guarded(self._advance, conn)
            now = time.monotonic()
            if now >= next_tick:
                next_tick = now + _TICK_SECONDS
                self._tick(now)

    def _guarded(self, step, conn: _Connection) -> None:
        try:
            step(conn)
        except Exception:  # the server's own bug: it costs this connection, not the others
            self.log.exception("closing %s after an error in the front", conn.peer)
            self._close(conn)

    def _tick(self, now: float) -> None:
        """The heartbeat gunicorn's master watches, the deadlines, and the drain's idle closes."""
        self.notify()
        if self.alive and self.ppid != os.getppid():
            self.log.info("Parent changed, shutting down: %s", self)
            self.alive = False
        if not self.accepting and len(self.connections) < self.cfg.worker_connections:
            self._resume_accepting()  # after a file limit, with no connection of its own to close
        for conn in list(self.connections.values()):
            # Draining, a kept-alive connection stays open for the proxy's next request (its answer
            # says Connection: close); stopping, one idle between requests is closed.
            if conn.phase == IDLE and conn.served and not self.alive:
                self._close(conn)
            elif now >= conn.deadline:
                self._expire(conn)

    def _drain_wakeup_pipe(self) -> None:
        try:
            while os.read(self.PIPE[0], 4096):
                pass
        except BlockingIOError:
            pass

    # --- connections in -----------------------------------------------------------

    def _accept(self, listener) -> bool:
        """Take one waiting connection (one per wake-up: the worker that is free takes the next);
        False once the queue is empty."""
        if len(self.connections) >= self.cfg.worker_connections and not self._evict_idle():
            self._pause_accepting()
            return False
        try:
            sock, peer = listener.accept()
        except (BlockingIOError, InterruptedError, ConnectionAbortedError):
            return False
        except OSError as error:
            if error.errno in (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM):
                self.log.warning("accept: %s; accepting again once a connection closes", error.strerror)
                self._pause_accepting()
            else:  # EPROTO, ENETDOWN, EPERM (a firewall), ...: accept(2) says to treat them as EAGAIN
                self.log.info("accept: %s", error.strerror)
            return False
        sock.setblocking(False)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SEND_BUFFER_BYTES)
        if sock.family in (socket.AF_INET, socket.AF_INET6):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        conn = _Connection(sock, peer, time.monotonic())
        if not self.alive:
            conn.deadline = time.monotonic() + LAST_REQUEST_SECONDS
        self.connections[sock.fileno()] = conn
        self.selector.register(sock, selectors.EVENT_READ, conn)
        return True

    def _pause_accepting(self) -> None:
        """At the connection limit (or the process's file limit): the queue waits in the kernel, and
        the other workers take from it, until one of this worker's connections closes."""
        if self.accepting and not self.closing:
            self.accepting = False
            for listener in self.listening:
                self.selector.unregister(listener)

    def _resume_accepting(self) -> None:
        if not self.accepting and not self.closing:
            self.accepting = True
            for listener in self.listening:
                self.selector.register(listener, selectors.EVENT_READ, listener)

    def _evict_idle(self) -> bool:
        """At the connection limit, make room by closing the longest-idle kept-alive connection."""
        idle = [conn for conn in self.connections.values() if conn.phase == IDLE and conn.served]
        if not idle:
            return False
        self._close(min(idle, key=lambda conn: conn.deadline))
        return True

    def _close_listeners(self) -> None:
        """SIGTERM: every connection already queued taken, then the socket closed at once.

        Closing a listening socket resets the connections still in its queue, so the close follows
        the accept that found the queue empty with nothing in between. (A shorter queue, ``listen(0)``,
        would make it worse: the kernel then answers handshakes with SYN cookies and drops their last
        ACK, and clients that believe they are connected are reset at the close.)
        """
        for listener in self.listening:
            if self.accepting:
                self.selector.unregister(listener)
        self.closing = True
        for listener in self.listening:
            while self._accept(listener):
                pass
            listener.close()
        self.listening = []
        # Every connection's deadline within gunicorn's graceful_timeout, so the worker exits itself:
        # a silent one gets LAST_REQUEST_SECONDS, one mid-request or mid-answer what time is left.
        now = time.monotonic()
        last = now + max(self.cfg.graceful_timeout - 0.5, LAST_REQUEST_SECONDS)
        for conn in self.connections.values():
            limit = now + LAST_REQUEST_SECONDS if conn.phase in (IDLE, HEADERS) else last
            conn.deadline = min(conn.deadline, limit)

    def _receive(self, conn: _Connection) -> None:
        try:
            data = conn.sock.recv(_RECV_BYTES)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            self._close(conn)
            return
        if conn.phase == LINGERING:
            if not data:
                self._close(conn)
            return
        if conn.phase == IDLE and data:
            # A first request's headers are due HEADERS_SECONDS after the accept, a later one's
            # after its first byte.
            conn.phase = HEADERS
            if conn.served:
                conn.deadline = time.monotonic() + HEADERS_SECONDS
        conn.http.receive_data(data)
        self._advance(conn)

    def _advance(self, conn: _Connection) -> None:
        """Read h11's events until it needs more bytes; answer each request once it is whole.

        An answer given before its request was whole (a body too large) ends the connection: what
        the client still sends is not read as HTTP. After PIPELINE_TURN answers the connection
        waits for the loop's next turn, so pipelined requests do not hold the worker."""
        answered = conn.served
        while not conn.pending and conn.phase != LINGERING and conn.sock.fileno() != -1:
            if conn.served - answered >= PIPELINE_TURN:
                self.ready.add(conn)
                return
            try:
                event = conn.http.next_event()
            except h11.RemoteProtocolError as error:
                # h11 hints 501 for a transfer coding it does not know: the fault is still the
                # client's, and a 5xx would count against the deployment's health.
                self._refuse(conn, min(error.error_status_hint, 400) if error.error_status_hint >= 500
                             else error.error_status_hint, str(error))
                return
            if event is h11.NEED_DATA or event is h11.PAUSED:
                return
            kind = type(event)
            if kind is h11.Request:
                if _framed_twice(event):
                    self._refuse(conn, 400, "A request carries Content-Length or Transfer-Encoding, not both.")
                    return
                conn.request, conn.body = event, bytearray()
                conn.wait(BODY, BODY_SECONDS)
                if _declared_length(event) > self.buffer_limit:
                    self._answer(conn)  # refused by its length: the app never waits for the body
                elif conn.http.they_are_waiting_for_100_continue:
                    self._send(conn, conn.http.send(h11.InformationalResponse(status_code=100, headers=[])),
                               then_answered=False)
            elif kind is h11.Data:
                conn.body += event.data
                if len(conn.body) >= self.buffer_limit:
                    self._answer(conn)  # enough for the app to refuse it
            elif kind is h11.EndOfMessage:
                self._answer(conn)
            elif kind is h11.ConnectionClosed:
                self._close(conn)
                return

    # --- answers out ---------------------------------------------------------------

    def _answer(self, conn: _Connection) -> None:
        started = time.perf_counter()
        status, headers, body = self._call_app(self._environ(conn))
        long = time.perf_counter() - started >= REBALANCE_SECONDS
        if conn.request.method == b"HEAD":
            body = b""  # h11 frames a HEAD answer as empty; its Content-Length stays the app's
        conn.served += 1
        conn.request, conn.body = None, bytearray()
        self._respond(conn, status, headers, body, ending=long)

    def _respond(self, conn: _Connection, status: str, headers: list, body: bytes, ending: bool = False) -> None:
        """Frame the answer with h11 (the connection's fate in its headers) and hand it to the kernel."""
        ending = ending or not self.alive or STATE.draining or conn.http.their_state is not h11.DONE
        fields = [(name, value) for name, value in headers if name.lower() not in _HOP_BY_HOP]
        if body and not any(name.lower() == b"content-length" for name, _ in fields):
            fields.append((b"Content-Length", str(len(body)).encode()))
        fields.append((b"Date", _http_date(int(time.time()))))
        if ending:
            fields.append((b"Connection", b"close"))
        code, _, reason = status.partition(" ")
        try:
            data = conn.http.send(h11.Response(status_code=int(code), reason=reason.encode("latin-1"),
                                               headers=fields))
            if body and conn.http.our_state is h11.SEND_BODY:
                data += conn.http.send(h11.Data(data=body))
            data += conn.http.send(h11.EndOfMessage())
        except (h11.LocalProtocolError, ValueError, UnicodeEncodeError):
            self.log.exception("the app's answer cannot be sent as HTTP/1.1 (status %r)", status)
            self._close(conn)
            return
        self._send(conn, data, then_answered=True)

    def _send(self, conn: _Connection, data: bytes, then_answered: bool) -> None:
        try:
            sent = conn.sock.send(data)
        except (BlockingIOError, InterruptedError):
            sent = 0
        except OSError:
            self._close(conn)
            return
        if sent < len(data):
            conn.pending = memoryview(data)[sent:]
            if then_answered:
                conn.wait(SENDING, SEND_SECONDS)
            self.selector.modify(conn.sock, selectors.EVENT_WRITE, conn)
        elif then_answered:
            self._answered(conn)

    def _flush(self, conn: _Connection) -> None:
        try:
            sent = conn.sock.send(conn.pending)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            self._close(conn)
            return
        conn.pending = conn.pending[sent:]
        if conn.pending:
            return
        self.selector.modify(conn.sock, selectors.EVENT_READ, conn)
        if conn.phase == SENDING:
            self._answered(conn)
        self._advance(conn)  # the next request pipelined, or the body after a 100 Continue

    def _answered(self, conn: _Connection) -> None:
        """The answer is with the kernel: wait for the next request, or end the connection."""
        if conn.http.our_state is h11.DONE and conn.http.their_state is h11.DONE:
            conn.http.start_next_cycle()  # the caller's loop reads a request pipelined behind it
            conn.wait(IDLE, self.cfg.keepalive if self.alive else LAST_REQUEST_SECONDS)
        else:
            self._linger(conn)

    def _linger(self, conn: _Connection) -> None:
        """Send FIN, then read and drop what the client still sends until it closes too."""
        try:
            conn.sock.shutdown(socket.SHUT_WR)
        except OSError:
            self._close(conn)
            return
        conn.wait(LINGERING, LINGER_SECONDS)

    def _expire(self, conn: _Connection) -> None:
        """A deadline passed: a body too slow is answered 408 (h11 can answer once it has the
        request line), anything else closed, as nginx closes a connection whose headers are late."""
        if conn.phase == BODY and conn.http.our_state is h11.SEND_RESPONSE:
            self._refuse(conn, 408, f"The body did not arrive within {BODY_SECONDS:g} s of the headers.")
        else:
            self._close(conn)

    def _refuse(self, conn: _Connection, status: int, detail: str) -> None:
        """The front's own problem answer (bad framing, headers too large, too slow), then the end."""
        if conn.http.our_state not in (h11.IDLE, h11.SEND_RESPONSE):
            self._close(conn)
            return
        problem = Problem.for_status(status, detail)
        self._respond(conn, f"{status} {problem.title}", [(b"Content-Type", b"application/problem+json")],
                      _encode_problem(problem))

    def _close(self, conn: _Connection) -> None:
        sock = conn.sock
        if sock.fileno() == -1:
            return
        self.connections.pop(sock.fileno(), None)
        self.ready.discard(conn)
        self.selector.unregister(sock)
        sock.close()
        self._resume_accepting()

    # --- the app -------------------------------------------------------------------

    def _environ(self, conn: _Connection) -> dict:
        request = conn.request
        path, _, query = request.target.partition(b"?")
        if not path.startswith(b"/"):  # absolute form (http://host/path) or "*"
            path = b"/" + path.split(b"://", 1)[-1].partition(b"/")[2] if b"://" in path else path
        host, port = self.server_address
        environ = {
            "REQUEST_METHOD": request.method.decode("ascii"),
            "SCRIPT_NAME": "",
            "PATH_INFO": unquote_to_bytes(path).decode("latin-1"),
            "QUERY_STRING": query.decode("latin-1"),
            "SERVER_NAME": host, "SERVER_PORT": port,
            "SERVER_PROTOCOL": f"HTTP/{request.http_version.decode('ascii')}",
            "REMOTE_ADDR": str(conn.peer[0]) if isinstance(conn.peer, tuple) else "",
            "REMOTE_PORT": str(conn.peer[1]) if isinstance(conn.peer, tuple) else "",
            "wsgi.version": (1, 0), "wsgi.url_scheme": "http",
            "wsgi.input": io.BytesIO(bytes(conn.body)), "wsgi.input_terminated": True,
            "wsgi.errors": sys.stderr,
            "wsgi.multithread": False, "wsgi.multiprocess": True, "wsgi.run_once": False,
        }
        for name, value in request.headers:
            if b"_" in name:  # X_Forwarded_For would pose as X-Forwarded-For: dropped, as gunicorn does
                continue
            key = name.decode("latin-1").upper().replace("-", "_")
            if key not in ("CONTENT_TYPE", "CONTENT_LENGTH"):
                key = "HTTP_" + key
            text = value.decode("latin-1")
            environ[key] = f"{environ[key]},{text}" if key in environ else text
        environ.setdefault("CONTENT_LENGTH", str(len(conn.body)))  # a chunked body, now whole
        return environ

    def _call_app(self, environ: dict) -> tuple[str, list, bytes]:
        started: list = []
        chunks: list[bytes] = []

        def start_response(status, headers, exc_info=None):
            # Nothing is sent before the app returns, so a second call (with exc_info) replaces the first.
            started[:] = [status, headers]
            return chunks.append

        try:
            result = self.wsgi(environ, start_response)
            try:
                chunks.extend(result)
            finally:
                if hasattr(result, "close"):
                    result.close()
            status, headers = started
            return status, [(name.encode("latin-1"), value.encode("latin-1")) for name, value in headers], \
                b"".join(chunks)
        except Exception:
            self.log.exception("the app failed on %s %s", environ["REQUEST_METHOD"], environ["PATH_INFO"])
            problem = Problem.for_status(500, "The server failed to answer this request.")
            return "500 Internal Server Error", [(b"Content-Type", b"application/problem+json")], \
                _encode_problem(problem)


def _declared_length(request: h11.Request) -> int:
    for name, value in request.headers:
        if name == b"content-length":
            return int(value)
    return 0


def _framed_twice(request: h11.Request) -> bool:
    """Both lengths: RFC 9112 lets a server refuse it, the way to stay out of request smuggling
    between a proxy that reads one and a server that reads the other."""
    names = {name for name, _ in request.headers}
    return b"content-length" in names and b"transfer-encoding" in names


def _encode_problem(problem: Problem) -> bytes:
    return json.dumps(problem.to_dict(secrets.token_hex(16))).encode()


@functools.lru_cache(maxsize=1)
def _http_date(second: int) -> bytes:
    """The Date header, formatted once a second."""
    return formatdate(second, usegmt=True).encode("ascii")
