"""Closing the door: new connections refused, the ones the kernel has already made still answered.

Closing a listening socket resets every connection in its queue, and every
handshake in flight (a client that has had its SYN-ACK believes it is
connected). So before the listening socket closes, the kernel must stop
answering new handshakes while the ones under way finish. Without privilege
(a socket filter on a TCP socket needs CAP_NET_ADMIN on current kernels) this
is done with a second socket on the same port:

1. the listening socket is bound with SO_REUSEPORT (``bind_with_a_door``, from
   ``gunicorn_config``), so a second socket of the same user may join its group;
2. a classic BPF program, attached to the group (SO_ATTACH_REUSEPORT_CBPF,
   open to any user), chooses which socket of the group takes each new
   connection: first only a *plug*, a connection from a port of our own,
   goes to the second socket, the *door*; then every new connection does;
3. the door listens with a queue of one, which the plug fills: the kernel
   drops every further SYN without an answer (the client retries, and is
   refused once the port is closed), while handshakes already answered by the
   listening socket complete into its queue, to be accepted and answered;
4. the door and the plug stay open until the process exits, after the
   listening socket is gone.

The program reads a TCP segment's source port from the IPv4 header's end (a
SYN carries no IP options), so the door closes for IPv4 listeners; for
another family, or where the kernel refuses a step, ``close_the_door`` says
why and the stop goes on without it.
"""

import ctypes
import select
import socket
import struct

# Linux's SO_ATTACH_REUSEPORT_CBPF (asm-generic/socket.h) and classic BPF's opcodes and its
# "relative to the network header" offset (linux/filter.h): the kernel's public interface.
SO_ATTACH_REUSEPORT_CBPF = 51
_LD_H_ABS, _JEQ_K, _RET_K = 0x28, 0x15, 0x06
_NET_OFFSET = -0x100000
_IPV4_HEADER_BYTES = 20
# How long the plug may take to reach the door (loopback: microseconds).
PLUG_SECONDS = 0.5


def _attach(listener: socket.socket, *instructions: tuple[int, int, int, int]) -> None:
    """Attach a classic BPF program to ``listener``'s group (the kernel copies it)."""
    code = b"".join(struct.pack("HBBI", *instruction) for instruction in instructions)
    buffer = ctypes.create_string_buffer(code, len(code))
    listener.setsockopt(socket.SOL_SOCKET, SO_ATTACH_REUSEPORT_CBPF,
                        struct.pack("HL", len(instructions), ctypes.addressof(buffer)))


def _steer_port_to_the_door(listener: socket.socket, port: int) -> None:
    """Segments from ``port`` to the door (index 1 in the group), the rest to the listening socket."""
    _attach(listener, (_LD_H_ABS, 0, 0, (_NET_OFFSET + _IPV4_HEADER_BYTES) & 0xFFFFFFFF),
            (_JEQ_K, 0, 1, port), (_RET_K, 0, 0, 1), (_RET_K, 0, 0, 0))


def _steer_everything_to_the_door(listener: socket.socket) -> None:
    _attach(listener, (_RET_K, 0, 0, 1))


def bind_with_a_door(addresses: list, backlog: int) -> list[int] | None:
    """Listening sockets for ``addresses`` (host, port) with SO_REUSEPORT, as file descriptors;
    None when one is not IPv4 (the stop then has no door). A port something already listens on
    is refused (OSError): with SO_REUSEPORT a second server would share it without a word."""
    if not all(isinstance(address, tuple) and ":" not in address[0] for address in addresses):
        return None
    fds = []
    for host, port in (address[:2] for address in addresses):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # a TIME_WAIT is no listener
            try:
                probe.bind((host, port))
            except OSError as error:
                raise OSError(f"{host}:{port} is taken ({error.strerror}): is another server running there?") from None
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        listener.bind((host, port))
        listener.listen(backlog)
        fds.append(listener.detach())
    return fds


class ClosedDoor:
    """The door and its plug: the port stays refused to newcomers for as long as this lives."""

    def __init__(self, door: socket.socket, plug: socket.socket):
        self.sockets = (door, plug)


def close_the_door(listener: socket.socket) -> tuple[ClosedDoor | None, str]:
    """Steer ``listener``'s new connections to a full door of its own; why not, where it cannot."""
    if listener.family != socket.AF_INET or listener.type != socket.SOCK_STREAM:
        return None, f"no door for a {listener.family.name} listener"
    if not listener.getsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT):
        return None, "the listening socket was bound without SO_REUSEPORT"
    host, port = listener.getsockname()[:2]
    door = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    plug = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        plug.bind((host if host != "0.0.0.0" else "127.0.0.1", 0))
        _steer_port_to_the_door(listener, plug.getsockname()[1])
        door.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        door.bind((host, port))
        door.listen(0)
        plug.settimeout(PLUG_SECONDS)
        plug.connect((plug.getsockname()[0], port))
        if not select.select([door], [], [], PLUG_SECONDS)[0]:
            raise OSError("the plug did not reach the door")
        _steer_everything_to_the_door(listener)
    except OSError as error:
        door.close()  # leaves the group: the listening socket takes every connection again
        plug.close()
        return None, f"{error.strerror or error}"
    return ClosedDoor(door, plug), ""
