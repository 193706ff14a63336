"""The door on real sockets: new connections go unanswered, queued ones are still taken, the
port is refused once both are gone, and a port another server listens on is not shared."""

import socket

import pytest

from wsgi_service.operations.door import bind_with_a_door, close_the_door


@pytest.fixture
def listener():
    with socket.socket() as spare:  # a free port
        spare.bind(("127.0.0.1", 0))
        port = spare.getsockname()[1]
    (fd,) = bind_with_a_door([("127.0.0.1", port)], 16)
    with socket.socket(fileno=fd) as sock:
        yield sock


def _connects(address, timeout=0.3) -> str:
    with socket.socket() as client:
        client.settimeout(timeout)
        try:
            client.connect(address)
        except TimeoutError:
            return "unanswered"
        except ConnectionRefusedError:
            return "refused"
        return "connected"


def test_the_door_keeps_the_queue_and_refuses_newcomers(listener):
    address = listener.getsockname()
    queued = [socket.create_connection(address) for _ in range(3)]
    door, why = close_the_door(listener)
    assert door is not None, why
    assert _connects(address) == "unanswered"  # its SYN dropped: it will retry, not be reset
    accepted = [listener.accept()[0] for _ in queued]
    queued[0].sendall(b"still served")
    assert accepted[0].recv(100) == b"still served"
    listener.close()
    assert _connects(address) == "unanswered"  # the door holds the port while the process lives
    for sock in door.sockets:
        sock.close()
    assert _connects(address) == "refused"
    for sock in (*queued, *accepted):
        sock.close()


def test_a_listener_without_reuseport_has_no_door():
    with socket.socket() as plain:
        plain.bind(("127.0.0.1", 0))
        plain.listen(1)
        door, why = close_the_door(plain)
    assert door is None and "SO_REUSEPORT" in why


def test_a_port_in_use_is_refused(listener):
    with pytest.raises(OSError, match="is taken"):
        bind_with_a_door([listener.getsockname()], 16)
