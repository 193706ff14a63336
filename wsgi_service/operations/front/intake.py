"""Connections in and out of one worker: accepting, the connection limit, eviction, the stop's last accepts.

Every connection the worker holds is registered here with the selector;
``close`` is the one way out, and the one place accepting resumes after the
limit paused it."""

import errno
import selectors
import socket
import time

from wsgi_service.operations.front.connection import (
    IDLE, HEADERS, LAST_REQUEST_SECONDS, SEND_BUFFER_BYTES, Connection,
)


class Intake:
    """The worker's listening sockets and connections, on its selector."""

    def __init__(self, worker, selector: selectors.BaseSelector):
        self.worker, self.log, self.selector = worker, worker.log, selector
        self.limit = worker.setting("worker_connections")
        self.connections: dict[int, Connection] = {}
        self.ready: set[Connection] = set()  # connections with pipelined requests still to answer
        self.listening = []
        self.accepting = True
        self.closing = False

    def listen(self, listeners: list) -> None:
        for listener in listeners:
            listener.setblocking(False)
            self.selector.register(listener, selectors.EVENT_READ, listener)
            self.listening.append(listener)

    def accept(self, listener) -> bool:
        """Take one waiting connection (one per wake-up: the worker that is free takes the next);
        False once the queue is empty."""
        if len(self.connections) >= self.limit and not self.evict_idle():
            self.pause()
            return False
        try:
            sock, peer = listener.accept()
        except (BlockingIOError, InterruptedError, ConnectionAbortedError):
            return False
        except OSError as error:
            if error.errno in (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM):
                self.log.warning("accept: %s; accepting again once a connection closes", error.strerror)
                self.pause()
            else:  # EPROTO, ENETDOWN, EPERM (a firewall), ...: accept(2) says to treat them as EAGAIN
                self.log.info("accept: %s", error.strerror)
            return False
        sock.setblocking(False)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SEND_BUFFER_BYTES)
        if sock.family in (socket.AF_INET, socket.AF_INET6):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        conn = Connection(sock, peer, time.monotonic())
        if self.worker.stopping:
            conn.deadline = time.monotonic() + LAST_REQUEST_SECONDS
        self.connections[sock.fileno()] = conn
        self.selector.register(sock, selectors.EVENT_READ, conn)
        return True

    def pause(self) -> None:
        """At the connection limit (or the process's file limit): the queue waits in the kernel, and
        the other workers take from it, until one of this worker's connections closes."""
        if self.accepting and not self.closing:
            self.accepting = False
            for listener in self.listening:
                self.selector.unregister(listener)

    def resume(self) -> None:
        if not self.accepting and not self.closing:
            self.accepting = True
            for listener in self.listening:
                self.selector.register(listener, selectors.EVENT_READ, listener)

    def evict_idle(self) -> bool:
        """At the connection limit, make room by closing the longest-idle kept-alive connection."""
        idle = [conn for conn in self.connections.values() if conn.phase == IDLE and conn.served]
        if not idle:
            return False
        self.close(min(idle, key=lambda conn: conn.deadline))
        return True

    def close_listeners(self) -> None:
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
            while self.accept(listener):
                pass
            listener.close()
        self.listening = []
        # Every connection's deadline within gunicorn's graceful_timeout, so the worker exits itself:
        # a silent one gets LAST_REQUEST_SECONDS, one mid-request or mid-answer what time is left.
        now = time.monotonic()
        last = now + max(self.worker.setting("graceful_timeout") - 0.5, LAST_REQUEST_SECONDS)
        for conn in self.connections.values():
            limit = now + LAST_REQUEST_SECONDS if conn.phase in (IDLE, HEADERS) else last
            conn.deadline = min(conn.deadline, limit)

    def close(self, conn: Connection) -> None:
        sock = conn.sock
        if sock.fileno() == -1:
            return
        self.connections.pop(sock.fileno(), None)
        self.ready.discard(conn)
        self.selector.unregister(sock)
        sock.close()
        self.resume()
