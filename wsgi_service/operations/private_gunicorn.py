"""The gunicorn internals the service relies on, each named once.

gunicorn documents its settings, its server hooks and that a ``worker_class``
subclasses ``gunicorn.workers.base.Worker``; what a worker or the arbiter
holds inside is not its API. The front and the drain need some of it (the
listening sockets, the wake-up pipe, the heartbeat, the loaded app, the
SIGTERM handler), so every such use goes through this module, and
``tests/unit/test_private_gunicorn.py`` checks each one against the installed
gunicorn: a change there fails that test with the name of the API and the
version, not a server that misbehaves. ``log`` (on the worker and the arbiter)
is the logger gunicorn's own example config uses in hooks, so it is read as is.
"""

import os
import socket

import gunicorn
from gunicorn import sock as _sockets
from gunicorn.workers.base import Worker as _Worker

VERSION = gunicorn.__version__


class GunicornWorker(_Worker):
    """gunicorn's worker contract, seen through the few names an event loop needs.

    gunicorn calls ``init_process`` in the forked worker (signals, the app loaded), which ends by
    calling ``run``: a subclass overrides ``run`` and keeps ``init_process``'s last call."""

    @property
    def listeners(self) -> list:
        """The listening sockets the master handed this worker."""
        return self.sockets

    @property
    def wakeup_fd(self) -> int:
        """The pipe's read end that a signal writes to (``signal.set_wakeup_fd``), to end a wait."""
        return self.PIPE[0]

    @property
    def stopping(self) -> bool:
        """True once told to stop (SIGTERM's handler clears gunicorn's ``alive``)."""
        return not self.alive

    def stop(self) -> None:
        self.alive = False

    def heartbeat(self) -> None:
        """What the master watches: a worker silent for ``timeout`` is killed."""
        self.notify()

    def orphaned(self) -> bool:
        """The master that forked this worker is gone."""
        return self.ppid != os.getppid()

    @property
    def wsgi_app(self):
        """The WSGI callable gunicorn loaded (in the master, with ``preload_app``)."""
        return self.wsgi

    def setting(self, name: str):
        """A gunicorn setting by its documented name (``keepalive``, ``worker_connections``...)."""
        return getattr(self.cfg, name)


def listening_sockets(arbiter) -> list[tuple[str, socket.socket]]:
    """The arbiter's listening sockets: each as gunicorn names it in its log, and the socket."""
    return [(str(listener), listener.sock) for listener in arbiter.LISTENERS]


def has_listeners(arbiter) -> bool:
    return bool(arbiter.LISTENERS)


def bind_settings(arbiter) -> tuple[list, int]:
    """The addresses to listen on and the listen backlog, as gunicorn parsed them."""
    return arbiter.cfg.address, arbiter.cfg.backlog


def adopt_listeners(arbiter, fds: list[int]) -> None:
    """Hand gunicorn listening sockets bound elsewhere (as it adopts a re-exec's or systemd's)."""
    arbiter.LISTENERS = _sockets.create_sockets(arbiter.cfg, arbiter.log, fds)


def replace_term_handler(arbiter, handler) -> None:
    """Run ``handler`` on SIGTERM instead of gunicorn's: the arbiter looks its signal handlers up
    on itself by name (``handle_term``), and raising StopIteration stops it gracefully."""
    arbiter.handle_term = handler


def shares_its_sockets(arbiter) -> bool:
    """After a re-exec (USR2), two masters serve the same listening sockets."""
    return bool(arbiter.reexec_pid or arbiter.master_pid)
