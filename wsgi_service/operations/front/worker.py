"""The worker: gunicorn's process (heartbeat, signals, the loaded app) around one selectors loop.

Each turn of the loop waits for the sockets (or the signal pipe), hands what is
ready to the intake (new connections) or the exchange (a connection's bytes
in or out), gives pipelined requests their turn, and, every tick, beats the
heart the master watches and ends the connections whose deadline has passed."""

import os
import selectors
import time

from wsgi_service.operations.front.connection import IDLE, Connection
from wsgi_service.operations.front.exchange import Exchange
from wsgi_service.operations.front.intake import Intake
from wsgi_service.operations.private_gunicorn import GunicornWorker
from wsgi_service.operations.settings import ServerSettings

_TICK_SECONDS = 0.25


class BufferingWorker(GunicornWorker):
    """gunicorn's worker contract around one event loop (see the package's docstring)."""

    def init_process(self):
        # One byte over the app's limit is what the app needs to refuse a body as too large.
        self.buffer_limit = ServerSettings.from_env().max_body_bytes + 1
        self.selector = selectors.DefaultSelector()
        super().init_process()

    def run(self):
        listeners = self.listeners
        host, port = listeners[0].getsockname()[:2] if listeners else ("", 0)
        intake = self.intake = Intake(self, self.selector)
        exchange = self.exchange = Exchange(self, intake, self.buffer_limit, (str(host), str(port)))
        intake.listen(listeners)
        self.selector.register(self.wakeup_fd, selectors.EVENT_READ, None)
        next_tick = 0.0
        while not self.stopping or intake.connections or intake.listening:
            if self.stopping and not intake.closing:
                intake.close_listeners()
            for key, events in self.selector.select(0 if intake.ready else _TICK_SECONDS):
                target = key.data
                if target is None:
                    self._drain_wakeup_pipe()
                elif not isinstance(target, Connection):
                    if not self.stopping:
                        intake.accept(target)
                elif target.sock.fileno() != -1:
                    self._guarded(exchange.flush if events & selectors.EVENT_WRITE else exchange.receive, target)
            for conn in list(intake.ready):
                intake.ready.discard(conn)
                if conn.sock.fileno() != -1:
                    self._guarded(exchange.advance, conn)
            now = time.monotonic()
            if now >= next_tick:
                next_tick = now + _TICK_SECONDS
                self._tick(now)

    def _guarded(self, step, conn: Connection) -> None:
        try:
            step(conn)
        except Exception:  # the server's own bug: it costs this connection, not the others
            self.log.exception("closing %s after an error in the front", conn.peer)
            self.intake.close(conn)

    def _tick(self, now: float) -> None:
        """The heartbeat gunicorn's master watches, the deadlines, and the drain's idle closes."""
        self.heartbeat()
        if not self.stopping and self.orphaned():
            self.log.info("Parent changed, shutting down: %s", self)
            self.stop()
        intake = self.intake
        if not intake.accepting and len(intake.connections) < intake.limit:
            intake.resume()  # after a file limit, with no connection of its own to close
        for conn in list(intake.connections.values()):
            # Draining, a kept-alive connection stays open for the proxy's next request (its answer
            # says Connection: close); stopping, one idle between requests is closed.
            if conn.phase == IDLE and conn.served and self.stopping:
                intake.close(conn)
            elif now >= conn.deadline:
                self.exchange.expire(conn)

    def _drain_wakeup_pipe(self) -> None:
        try:
            while os.read(self.wakeup_fd, 4096):
                pass
        except BlockingIOError:
            pass
