"""Stopping without dropping what was accepted: the drain that SIGTERM starts.

gunicorn, told to stop, closes its listening socket at once, and the
connections the kernel had already accepted for it but no worker had taken
yet (the listen backlog) are reset: clients that had connected and sent
their request get nothing. ``drain_then_stop`` runs in gunicorn's master
instead of its SIGTERM handler (``gunicorn_config.when_ready``):

1. **draining**: ``/health`` answers 503 at once (every worker reads the flag
   in ``STATE``, memory the master shares with the workers it forks), so
   nginx and the load balancer stop sending; whatever still arrives is
   answered, each answer with ``Connection: close``, until no request has
   started for ``QUIET_SECONDS`` or the drain has lasted ``DRAIN_SECONDS``;
2. gunicorn's own graceful stop: the master closes its copy of the listening
   socket and tells each worker to stop. The socket lives on in the workers,
   which close the door themselves (``front``): the queue shrunk to one, every
   connection already queued taken and answered, then the socket closed, so no
   connection is reset after its handshake and none is made after the close
   (a client whose handshake the kernel dropped is refused on its retry). No
   kernel privilege is needed, and no kernel structure is read;
3. each worker answers the connections it holds and exits; after
   ``FINISH_SECONDS`` (gunicorn's graceful_timeout) one that has not is killed.

The whole stop is bounded (``stop_bound_seconds``): with the default drain
it takes at most 7 s, inside ``docker stop``'s 10 s.
"""

import mmap
import struct
import time

# A drain ends early once no request has started for this long.
QUIET_SECONDS = 0.5
# Then gunicorn's graceful stop (its graceful_timeout): this long for each worker to finish the
# request in hand before it is killed.
FINISH_SECONDS = 3
_POLL_SECONDS = 0.01

_LAST_REQUEST = struct.Struct("d")


class DrainState:
    """Whether the service is draining, and when its last request started: one page of memory
    shared by the master and every worker it forks (an anonymous shared mapping)."""

    def __init__(self):
        self._memory = mmap.mmap(-1, 16)
        self.request_started()

    @property
    def draining(self) -> bool:
        return self._memory[0] == 1

    def begin(self) -> None:
        self._memory[0] = 1

    def request_started(self) -> None:
        _LAST_REQUEST.pack_into(self._memory, 8, time.monotonic())

    def idle_seconds(self) -> float:
        return time.monotonic() - _LAST_REQUEST.unpack_from(self._memory, 8)[0]


# Created at import, in the master (the gunicorn config imports this module before any fork).
STATE = DrainState()


def stop_bound_seconds(drain_seconds: float) -> float:
    """The longest a SIGTERM'd server takes to exit: the drain, then the last requests."""
    return drain_seconds + FINISH_SECONDS


def drain_then_stop(server, drain_seconds: float, state: DrainState = STATE) -> None:
    """gunicorn's SIGTERM handling, drained first (the steps above); raises StopIteration, as
    gunicorn's own handler does, for its main loop to stop gracefully."""
    started = time.monotonic()
    state.begin()
    server.log.info("SIGTERM: draining (/health answers 503) for up to %.1f s", drain_seconds)
    while time.monotonic() - started < drain_seconds and state.idle_seconds() < QUIET_SECONDS:
        time.sleep(_POLL_SECONDS)
    server.log.info("drained in %.1f s: stopping", time.monotonic() - started)
    raise StopIteration
