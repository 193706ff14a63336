"""The drain's shared flag, as a forked worker sees it (the stop itself is proven under load:
tests/reliability and the drain drill)."""

import os
import time

from wsgi_service.operations.draining import DrainState


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
