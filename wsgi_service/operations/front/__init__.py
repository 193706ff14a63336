"""The server's front: a gunicorn worker that reads every request whole before the app sees it.

One worker per core, each an event loop over its connections, as nginx is in
front of a server: the network's waits are the loop's, the CPU's work (the
forest) is the app's. A connection costs a socket and a few buffers while its
client is slow; the app is called only with a complete request (headers and
body in memory), and its answer is handed to the kernel without waiting for
the client to read it. So clients that send their headers a byte at a time,
dribble a body, open a connection and say nothing, or never read what they
asked for hold no worker: the other clients are answered meanwhile.

Why not gunicorn's own workers (measured in ``bench/README.md``): a sync worker
reads the request itself, so two slow clients hold both workers of a
two-core machine until gunicorn's ``timeout``; gthread hands each new
connection to a thread that blocks on its headers; the gevent worker has no
deadline for a first request's body or for an answer never read, and patches
the whole process.

Every connection has deadlines, after which it is closed (with a 408 problem
when the client was sending a body): ``HEADERS_SECONDS`` from being
accepted, or from a later request's first byte, to the end of its headers;
``BODY_SECONDS`` from the headers to the end of the body; ``SEND_SECONDS``
for the kernel to take an answer; gunicorn's ``keepalive`` for an idle
connection between requests. HTTP itself is h11's (framing, chunked bodies,
keep-alive, pipelining, ``Expect: 100-continue``, header size): a protocol
library with no I/O of its own, so the deadlines and buffering stay here.

The stop answers what was accepted, with no privilege (see ``draining`` for
the master's part): once draining, every answer says ``Connection: close``
and idle kept-alive connections are closed; on SIGTERM the worker accepts
until the listening socket's queue is empty, closes the socket at once, and
answers the connections it holds before it exits. A client that connects
later is refused.

The package, one concept a module:

- ``worker``: ``BufferingWorker``, gunicorn's process around the loop (heartbeat, ticks, signals);
- ``intake``: accepting, the connection limit and eviction, the stop's last accepts;
- ``exchange``: one connection's requests and answers (h11's events, deadlines, pipelining);
- ``connection``: a connection's state and phase, and the front's limits;
- ``gateway``: a whole request as a WSGI environ, the app's answer whole;
- ``framing``: an answer as HTTP/1.1 bytes, the front's own problem answers.

gunicorn's internals it needs go through ``operations.private_gunicorn``.
"""

from wsgi_service.operations.front.connection import (
    BODY_SECONDS, HEADERS_SECONDS, LAST_REQUEST_SECONDS, LINGER_SECONDS, MAX_HEADER_BYTES, PIPELINE_TURN,
    REBALANCE_SECONDS, SEND_BUFFER_BYTES, SEND_SECONDS,
)
from wsgi_service.operations.front.worker import BufferingWorker

# What gunicorn's ``worker_class`` names to run this front.
WORKER_CLASS = "wsgi_service.operations.front.BufferingWorker"

__all__ = [
    "BODY_SECONDS", "HEADERS_SECONDS", "LAST_REQUEST_SECONDS", "LINGER_SECONDS", "MAX_HEADER_BYTES",
    "PIPELINE_TURN", "REBALANCE_SECONDS", "SEND_BUFFER_BYTES", "SEND_SECONDS", "WORKER_CLASS",
    "BufferingWorker",
]
