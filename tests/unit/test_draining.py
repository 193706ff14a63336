"""The drain's parts on real sockets and real processes: the shared flag a fork sees, the
socket filter that closes the door without touching the connections already made, and the
accept queue's length as the kernel reports it."""

import os
import socket
import time

from wsgi_service.operations.draining import DrainState, _close_the_door, _queued


def test_a_forked_process_sees_the_drain_begin_and_the_requests_it_starts():
    state = DrainState()
    child = os.fork()
    if child == 0:  # the worker: waits for the master's flag, then starts a request
        deadline = time.monotonic() + 5
        while not state.draining and time.monotonic() < deadline:
            time.sleep(0.001)
        state.request_started()
        os._exit(0 if state.draining else 1)
    time.sleep(0.2)
    state.begin()
    _, status = os.waitpid(child, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert state.idle_seconds() < 0.2  # the child's request, seen from here


def test_closing_the_door_refuses_newcomers_and_keeps_the_queue():
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        address = listener.getsockname()
        queued = [socket.create_connection(address) for _ in range(3)]
        assert _queued(listener) == 3
        assert _close_the_door(listener) == ""
        late = socket.socket()
        late.settimeout(0.3)
        try:
            late.connect(address)
            connected = True
        except TimeoutError:  # its SYN went unanswered
            connected = False
        assert not connected and _queued(listener) == 3
        accepted = [listener.accept()[0] for _ in queued]
        queued[0].sendall(b"still served")
        assert accepted[0].recv(100) == b"still served" and _queued(listener) == 0
        for sock in (*queued, *accepted, late):
            sock.close()
