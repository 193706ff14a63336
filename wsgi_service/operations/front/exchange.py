"""One connection's requests and answers: h11's events read, the app called on a whole request,
the answer handed to the kernel, and the connection's next phase.

An answer given before its request was whole (a body too large) ends the
connection: what the client still sends is not read as HTTP. An answer that
held the worker ``REBALANCE_SECONDS`` ends it too, so the client's next
connection goes to whichever worker is free."""

import selectors
import socket
import time

import h11

from wsgi_service.operations.draining import STATE
from wsgi_service.operations.front.connection import (
    BODY, BODY_SECONDS, IDLE, LAST_REQUEST_SECONDS, LINGER_SECONDS, LINGERING,
    PIPELINE_TURN, REBALANCE_SECONDS, RECV_BYTES, SEND_SECONDS, SENDING, Connection, declared_length,
    framed_twice,
)
from wsgi_service.operations.front.framing import frame_answer, problem_answer
from wsgi_service.operations.front.gateway import call_app, environ
from wsgi_service.operations.front.intake import Intake


class Exchange:
    """The request/answer steps of every connection of one worker."""

    def __init__(self, worker, intake: Intake, buffer_limit: int, server_address: tuple[str, str]):
        self.worker, self.log, self.intake, self.close = worker, worker.log, intake, intake.close
        self.app, self.keepalive = worker.wsgi_app, worker.setting("keepalive")
        self.buffer_limit, self.server_address = buffer_limit, server_address

    def receive(self, conn: Connection) -> None:
        try:
            data = conn.sock.recv(RECV_BYTES)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            self.close(conn)
            return
        if conn.phase == LINGERING:
            if not data:
                self.close(conn)
            return
        conn.receive(data)
        self.advance(conn)

    def advance(self, conn: Connection) -> None:
        """Read h11's events until it needs more bytes; answer each request once it is whole.
        After PIPELINE_TURN answers the connection waits for the loop's next turn, so pipelined
        requests do not hold the worker."""
        answered = conn.served
        while not conn.pending and conn.phase != LINGERING and conn.sock.fileno() != -1:
            if conn.served - answered >= PIPELINE_TURN:
                self.intake.ready.add(conn)
                return
            try:
                event = conn.http.next_event()
            except h11.RemoteProtocolError as error:
                # h11 hints 501 for a transfer coding it does not know: the fault is still the
                # client's, and a 5xx would count against the deployment's health.
                self.refuse(conn, min(error.error_status_hint, 400) if error.error_status_hint >= 500
                            else error.error_status_hint, str(error))
                return
            if event is h11.NEED_DATA or event is h11.PAUSED:
                return
            kind = type(event)
            if kind is h11.Request:
                if framed_twice(event):
                    self.refuse(conn, 400, "A request carries Content-Length or Transfer-Encoding, not both.")
                    return
                conn.request, conn.body = event, bytearray()
                conn.wait(BODY, BODY_SECONDS)
                if declared_length(event) > self.buffer_limit:
                    self.answer(conn)  # refused by its length: the app never waits for the body
                elif conn.http.they_are_waiting_for_100_continue:
                    self.send(conn, conn.http.send(h11.InformationalResponse(status_code=100, headers=[])),
                              then_answered=False)
            elif kind is h11.Data:
                conn.body += event.data
                if len(conn.body) >= self.buffer_limit:
                    self.answer(conn)  # enough for the app to refuse it
            elif kind is h11.EndOfMessage:
                self.answer(conn)
            elif kind is h11.ConnectionClosed:
                self.close(conn)
                return

    def answer(self, conn: Connection) -> None:
        started = time.perf_counter()
        status, headers, body = call_app(self.app, environ(conn.request, conn.body, conn.peer, self.server_address),
                                         self.log)
        long = time.perf_counter() - started >= REBALANCE_SECONDS
        if conn.request.method == b"HEAD":
            body = b""  # h11 frames a HEAD answer as empty; its Content-Length stays the app's
        conn.served += 1
        conn.request, conn.body = None, bytearray()
        self.respond(conn, status, headers, body, ending=long)

    def respond(self, conn: Connection, status: str, headers: list, body: bytes, ending: bool = False) -> None:
        """Frame the answer (the connection's fate in its headers) and hand it to the kernel."""
        ending = ending or self.worker.stopping or STATE.draining or conn.http.their_state is not h11.DONE
        try:
            data = frame_answer(conn.http, status, headers, body, ending)
        except (h11.LocalProtocolError, ValueError, UnicodeEncodeError):
            self.log.exception("the app's answer cannot be sent as HTTP/1.1 (status %r)", status)
            self.close(conn)
            return
        self.send(conn, data, then_answered=True)

    def send(self, conn: Connection, data: bytes, then_answered: bool) -> None:
        try:
            sent = conn.sock.send(data)
        except (BlockingIOError, InterruptedError):
            sent = 0
        except OSError:
            self.close(conn)
            return
        if sent < len(data):
            conn.pending = memoryview(data)[sent:]
            if then_answered:
                conn.wait(SENDING, SEND_SECONDS)
            self.intake.selector.modify(conn.sock, selectors.EVENT_WRITE, conn)
        elif then_answered:
            self.answered(conn)

    def flush(self, conn: Connection) -> None:
        try:
            sent = conn.sock.send(conn.pending)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            self.close(conn)
            return
        conn.pending = conn.pending[sent:]
        if conn.pending:
            return
        self.intake.selector.modify(conn.sock, selectors.EVENT_READ, conn)
        if conn.phase == SENDING:
            self.answered(conn)
        self.advance(conn)  # the next request pipelined, or the body after a 100 Continue

    def answered(self, conn: Connection) -> None:
        """The answer is with the kernel: wait for the next request, or end the connection."""
        if conn.http.our_state is h11.DONE and conn.http.their_state is h11.DONE:
            conn.http.start_next_cycle()  # the caller's loop reads a request pipelined behind it
            conn.wait(IDLE, LAST_REQUEST_SECONDS if self.worker.stopping else self.keepalive)
        else:
            self.linger(conn)

    def linger(self, conn: Connection) -> None:
        """Send FIN, then read and drop what the client still sends until it closes too."""
        try:
            conn.sock.shutdown(socket.SHUT_WR)
        except OSError:
            self.close(conn)
            return
        conn.wait(LINGERING, LINGER_SECONDS)

    def expire(self, conn: Connection) -> None:
        """A deadline passed: a body too slow is answered 408 (h11 can answer once it has the
        request line), anything else closed, as nginx closes a connection whose headers are late."""
        if conn.phase == BODY and conn.http.our_state is h11.SEND_RESPONSE:
            self.refuse(conn, 408, f"The body did not arrive within {BODY_SECONDS:g} s of the headers.")
        else:
            self.close(conn)

    def refuse(self, conn: Connection, status: int, detail: str) -> None:
        """The front's own problem answer (bad framing, headers too large, too slow), then the end."""
        if conn.http.our_state not in (h11.IDLE, h11.SEND_RESPONSE):
            self.close(conn)
            return
        self.respond(conn, *problem_answer(status, detail))
