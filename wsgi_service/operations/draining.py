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
2. **closing the door** (``door``): the kernel stops answering new
   handshakes on the port, with no privilege, while those under way finish
   into the listening socket's queue, where the workers take them;
   ``DOOR_SECONDS`` for the last of them to arrive;
3. gunicorn's own graceful stop: the master closes its copy of the listening
   socket and tells each worker to stop; each accepts what is still queued,
   closes the socket (nothing is reset: nothing new can arrive), answers the
   connections it holds and exits; after ``FINISH_SECONDS`` (gunicorn's
   graceful_timeout) one that has not is killed. Clients refused at the door
   retry their SYN and are refused once the process is gone.

The whole stop is bounded (``stop_bound_seconds``): with the default drain
it takes at most 7.5 s, inside ``docker stop``'s 10 s.
"""

import mmap
import struct
import time

from wsgi_service.operations import private_gunicorn
from wsgi_service.operations.door import close_the_door

# A drain ends early once no request has started for this long.
QUIET_SECONDS = 0.5
# For the handshakes under way when the door closed to end (a round trip, and a margin).
DOOR_SECONDS = 0.5
# Then gunicorn's graceful stop (its graceful_timeout): this long for each worker to finish the
# request in hand before it is killed.
FINISH_SECONDS = 3
_POLL_SECONDS = 0.01

_LAST_REQUEST = struct.Struct("d")
# The warning's start when the door cannot be closed (the drain drill looks for it).
DOOR_LEFT_OPEN = "the door stays open on"


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
    """The longest a SIGTERM'd server takes to exit: the drain, the door, the last requests."""
    return drain_seconds + DOOR_SECONDS + FINISH_SECONDS


def drain_then_stop(server, drain_seconds: float, state: DrainState = STATE) -> None:
    """gunicorn's SIGTERM handling, drained first (the steps above); raises StopIteration, as
    gunicorn's own handler does, for its main loop to stop gracefully."""
    started = time.monotonic()
    state.begin()
    server.log.info("SIGTERM: draining (/health answers 503) for up to %.1f s", drain_seconds)
    while time.monotonic() - started < drain_seconds and state.idle_seconds() < QUIET_SECONDS:
        time.sleep(_POLL_SECONDS)
    # The doors live on the arbiter, which outlives the listening sockets, until the process exits.
    server.closed_doors = []
    # After a re-exec (USR2) another master serves the same socket: a door would shut it out too.
    shared = private_gunicorn.shares_its_sockets(server)
    for name, listener in [] if shared else private_gunicorn.listening_sockets(server):
        door, why = close_the_door(listener)
        if door is None:
            server.log.warning("%s %s (%s): connections still queued when it closes are reset",
                               DOOR_LEFT_OPEN, name, why)
        else:
            server.closed_doors.append(door)
    if shared:
        server.log.warning("%s: the socket is shared with another master (a re-exec)", DOOR_LEFT_OPEN)
    time.sleep(DOOR_SECONDS if server.closed_doors else 0)
    server.log.info("drained in %.1f s, %d door(s) closed: stopping", time.monotonic() - started,
                    len(server.closed_doors))
    raise StopIteration
