"""Stopping without dropping what was accepted: the drain that SIGTERM starts.

gunicorn, told to stop, closes its listening socket at once, and the
connections the kernel had already accepted for it but no worker had taken
yet (the listen backlog) are reset: clients that had connected and sent
their request get nothing. ``drain_then_stop`` runs in gunicorn's master
instead of its SIGTERM handler (``gunicorn_config.when_ready``):

1. **draining**: ``/health`` answers 503 at once (every worker reads the flag
   in ``STATE``, memory the master shares with the workers it forks), so
   nginx and the load balancer stop sending; whatever still arrives is
   answered, until no request has started for ``QUIET_SECONDS`` or the drain
   has lasted ``DRAIN_SECONDS``;
2. **closing the door**: a socket filter that drops every packet is attached
   to the listening socket, so a new connection attempt goes unanswered (the
   client retries its SYN and is refused once the socket is closed) while the
   connections already queued are taken and answered; the master waits until
   the queue is empty (Linux reports its length in ``TCP_INFO``). Where the
   filter cannot be attached (some kernels require CAP_NET_ADMIN for it, which
   an unprivileged container lacks) a warning says so, and connections that
   are still queued when the socket closes are reset, as without a drain;
3. gunicorn's own graceful stop: listeners closed, each worker finishes the
   request in hand and exits, the master exits 0.

The whole stop is bounded (``stop_bound_seconds``): with the default drain
it takes at most 8 s, inside ``docker stop``'s 10 s.
"""

import ctypes
import mmap
import socket
import struct
import sys
import time

# A drain ends early once no request has started for this long.
QUIET_SECONDS = 0.5
# At most this long to answer the connections queued when the door closes.
DOOR_SECONDS = 1.0
# Then gunicorn's graceful stop (its graceful_timeout): this long for each worker to finish the
# request in hand before it is killed.
FINISH_SECONDS = 3
_POLL_SECONDS = 0.01

# Linux's SO_ATTACH_FILTER, and a classic BPF program of one instruction: return 0 (drop the packet).
_SO_ATTACH_FILTER = 26
_DROP_EVERYTHING = struct.pack("HBBI", 0x06, 0, 0, 0)  # BPF_RET | BPF_K, k = 0
# struct tcp_info: the accept queue's length sits in tcpi_unacked for a listening socket.
_TCP_INFO_BYTES, _UNACKED_OFFSET = 104, 24
_LAST_REQUEST = struct.Struct("d")
# The warning's start when the door cannot be closed (the drain drill looks for it).
DOOR_LEFT_OPEN = "the door stays open"


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
    sockets = [listener.sock for listener in server.LISTENERS
               if listener.sock.family in (socket.AF_INET, socket.AF_INET6)]
    closed = []
    for sock in sockets:
        refused = _close_the_door(sock)
        if refused:
            server.log.warning("%s %s: connections still queued when the socket closes are reset",
                               DOOR_LEFT_OPEN, refused)
        else:
            closed.append(sock)
    deadline = time.monotonic() + DOOR_SECONDS
    while any(_queued(sock) for sock in closed) and time.monotonic() < deadline:
        time.sleep(_POLL_SECONDS)
    left = sum(_queued(sock) for sock in closed)
    server.log.info("drained in %.1f s (%d connections left queued): stopping",
                    time.monotonic() - started, left)
    raise StopIteration


def _close_the_door(sock: socket.socket) -> str:
    """Drop every packet that reaches the listening socket from now on (not the connections it
    already made); why not, where it cannot be done. Linux only; some kernels also require
    CAP_NET_ADMIN for a filter on a TCP socket, which an unprivileged container lacks."""
    if not sys.platform.startswith("linux"):
        return "(no socket filters on this platform)"
    program = ctypes.create_string_buffer(_DROP_EVERYTHING, len(_DROP_EVERYTHING))
    try:
        sock.setsockopt(socket.SOL_SOCKET, _SO_ATTACH_FILTER, struct.pack("HL", 1, ctypes.addressof(program)))
    except OSError as error:
        return f"(SO_ATTACH_FILTER: {error.strerror})"
    return ""


def _queued(sock: socket.socket) -> int:
    """How many connections wait in the listening socket's accept queue."""
    info = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, _TCP_INFO_BYTES)
    return struct.unpack_from("I", info, _UNACKED_OFFSET)[0]
