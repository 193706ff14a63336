"""Each gunicorn internal that ``operations.private_gunicorn`` names, checked against the installed
gunicorn: a change there fails here, with the API's name and gunicorn's version.

The checks use gunicorn's real objects (a worker, an arbiter, its sockets), built from a
``BaseApplication``, its documented way to embed it; the worker's start (``init_process``: the
wake-up pipe, the signal handlers, the app loaded, then ``run``) runs in a fresh interpreter, since
it installs signal handlers in its process."""

import inspect
import json
import os
import signal
import socket
import subprocess
import sys
import warnings

import pytest
from gunicorn import sock as gunicorn_sockets
from gunicorn.app.base import BaseApplication
from gunicorn.arbiter import Arbiter
from gunicorn.glogging import Logger

from wsgi_service.operations import private_gunicorn
from wsgi_service.operations.private_gunicorn import VERSION, GunicornWorker

# The gunicorn settings the front and the drain read by name.
SETTINGS = ("worker_connections", "keepalive", "graceful_timeout", "address", "backlog")
CHILD_SECONDS = 30


def changed(api: str, expected: str) -> str:
    return (f"gunicorn {VERSION}: {api} no longer {expected}; "
            "wsgi_service/operations/private_gunicorn.py relies on it")


def relied_on(api: str, expected: str, call):
    """``call()``'s value; a clear failure where the API it reaches is gone."""
    try:
        return call()
    except (AttributeError, TypeError, KeyError) as error:
        pytest.fail(changed(api, f"{expected} ({type(error).__name__}: {error})"))


def hello(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"hello"]


class Embedded(BaseApplication):
    """gunicorn's documented custom application: settings in, a WSGI callable out."""

    def __init__(self, **settings):
        self.settings = settings
        super().__init__()

    def load_config(self):
        for name, value in self.settings.items():
            self.cfg.set(name, value)

    def load(self):
        return hello


@pytest.fixture
def listener():
    with socket.create_server(("127.0.0.1", 0)) as bound:
        yield bound


@pytest.fixture
def worker(listener):
    app = Embedded(bind="127.0.0.1:0")
    worker = relied_on("Worker(age, ppid, sockets, app, timeout, cfg, log)", "builds a worker",
                       lambda: GunicornWorker(0, os.getppid(), [listener], app, 30, app.cfg, Logger(app.cfg)))
    yield worker
    worker.tmp.close()


@pytest.fixture
def arbiter(monkeypatch):
    monkeypatch.setenv("SERVER_SOFTWARE", "")  # Arbiter() sets it; restored after the test
    arbiter = Arbiter(Embedded(bind="127.0.0.1:0", workers=1))
    yield arbiter
    for _, sock in private_gunicorn.listening_sockets(arbiter):
        sock.close()


def test_the_worker_names_the_front_reads(worker, listener):
    assert relied_on("Worker.sockets", "holds the listening sockets", lambda: worker.listeners) == [listener], \
        changed("Worker.sockets", "holds the sockets the master hands the worker")
    assert relied_on("Worker.alive", "is True in a running worker", lambda: worker.stopping) is False, \
        changed("Worker.alive", "starts True")
    assert relied_on("Worker.ppid", "holds the master's pid", worker.orphaned) is False, \
        changed("Worker.ppid", "holds the pid of the process that made the worker")
    relied_on("Worker.notify()", "beats the heartbeat", worker.heartbeat)
    for name in SETTINGS:
        relied_on(f"Worker.cfg.{name}", "is a setting", lambda: worker.setting(name))
    assert worker.setting("keepalive") == worker.cfg.settings["keepalive"].get()
    relied_on("Worker.load_wsgi()", "loads the app into Worker.wsgi", worker.load_wsgi)
    assert relied_on("Worker.wsgi", "holds the loaded app", lambda: worker.wsgi_app) is hello, \
        changed("Worker.wsgi", "holds the WSGI callable the application loaded")
    assert worker.log is not None and callable(worker.log.exception), changed("Worker.log", "is a logger")


def test_sigterm_in_a_worker_clears_alive(worker):
    relied_on("Worker.handle_exit(sig, frame)", "is SIGTERM's handler", lambda: worker.handle_exit(signal.SIGTERM, None))
    assert worker.stopping, changed("Worker.handle_exit", "clears Worker.alive")
    worker.alive = True
    worker.stop()
    assert worker.stopping


# Runs in a fresh interpreter: gunicorn's worker start, up to the ``run`` it calls, then SIGTERM.
_STARTED_WORKER = """
import json, os, selectors, signal, socket, sys
from gunicorn.glogging import Logger
from tests.unit.test_private_gunicorn import Embedded
from wsgi_service.operations.private_gunicorn import GunicornWorker

class Reporting(GunicornWorker):
    def run(self):
        try:
            fd = self.wakeup_fd
            facts = {"pipe": os.get_blocking(fd) is False, "app": self.wsgi_app.__name__,
                     "stopping_before": self.stopping}
        except AttributeError as error:
            print(json.dumps({"missing": str(error)}), flush=True)
            os._exit(0)
        os.kill(os.getpid(), signal.SIGTERM)
        with selectors.DefaultSelector() as selector:
            selector.register(fd, selectors.EVENT_READ)
            facts["woken"] = bool(selector.select(5))
        facts["stopping_after"] = self.stopping
        print(json.dumps(facts), flush=True)
        os._exit(0)

app = Embedded(bind="127.0.0.1:0")
with socket.create_server(("127.0.0.1", 0)) as listener:
    Reporting(0, os.getppid(), [listener], app, 30, app.cfg, Logger(app.cfg)).init_process()
sys.exit("init_process returned without calling run()")
"""


def test_a_started_worker_has_its_wakeup_pipe_its_app_and_sigterm():
    done = subprocess.run([sys.executable, "-c", _STARTED_WORKER], capture_output=True, text=True,
                          timeout=CHILD_SECONDS, cwd=os.path.dirname(os.path.dirname(os.path.dirname(__file__))))
    assert done.returncode == 0, changed("Worker.init_process()", f"ends by calling run(): {done.stderr[-2000:]}")
    facts = json.loads(done.stdout.strip().splitlines()[-1])
    assert "missing" not in facts, changed("a started Worker", f"has what run() reads: {facts.get('missing')}")
    assert facts["pipe"], changed("Worker.PIPE", "is a non-blocking pipe made by init_process()")
    assert facts["app"] == "hello", changed("Worker.wsgi", "holds the app once init_process() has loaded it")
    assert facts["stopping_before"] is False, changed("Worker.alive", "is True when run() starts")
    assert facts["woken"], changed("Worker.PIPE[0]", "is the fd a signal wakes (signal.set_wakeup_fd)")
    assert facts["stopping_after"], changed("Worker.init_signals()", "makes SIGTERM clear Worker.alive")


def test_the_arbiter_adopts_sockets_bound_elsewhere(arbiter):
    assert private_gunicorn.has_listeners(arbiter) is False, changed("Arbiter.LISTENERS", "starts empty")
    addresses, backlog = relied_on("Arbiter.cfg.address, .backlog", "are settings",
                                   lambda: private_gunicorn.bind_settings(arbiter))
    assert addresses == [("127.0.0.1", 0)] and isinstance(backlog, int), \
        changed("Arbiter.cfg.address", "lists the binds as (host, port)")
    assert list(inspect.signature(gunicorn_sockets.create_sockets).parameters)[:3] == ["conf", "log", "fds"], \
        changed("gunicorn.sock.create_sockets(conf, log, fds)", "takes bound file descriptors")
    bound = socket.create_server(("127.0.0.1", 0))
    port = bound.getsockname()[1]
    with warnings.catch_warnings():
        # create_sockets leaves the socket it probes each fd with to the garbage collector.
        warnings.simplefilter("ignore", ResourceWarning)
        relied_on("gunicorn.sock.create_sockets", "adopts bound fds",
                  lambda: private_gunicorn.adopt_listeners(arbiter, [bound.detach()]))
    [(name, sock)] = relied_on("Arbiter.LISTENERS[i].sock", "is the socket",
                               lambda: private_gunicorn.listening_sockets(arbiter))
    assert isinstance(sock, socket.socket) and sock.getsockname()[1] == port and str(port) in name, \
        changed("Arbiter.LISTENERS", "holds gunicorn sockets whose .sock is the socket.socket")
    assert private_gunicorn.has_listeners(arbiter)
    assert relied_on("Arbiter.reexec_pid, .master_pid", "are 0 without a re-exec",
                     lambda: private_gunicorn.shares_its_sockets(arbiter)) is False


def test_sigterm_in_the_master_is_handle_term_looked_up_by_name(arbiter):
    assert Arbiter.SIG_NAMES.get(signal.SIGTERM) == "term", changed("Arbiter.SIG_NAMES", "names SIGTERM 'term'")
    with pytest.raises(StopIteration):  # the drain stops the master the same way
        arbiter.handle_term()
    source = inspect.getsource(Arbiter)
    assert 'getattr(self, "handle_%s"' in source and "except (StopIteration" in source, \
        changed("Arbiter.run()", "dispatches a signal to getattr(self, 'handle_<name>') and stops on StopIteration")
    private_gunicorn.replace_term_handler(arbiter, lambda: "drained")
    assert getattr(arbiter, "handle_%s" % Arbiter.SIG_NAMES[signal.SIGTERM])() == "drained"
