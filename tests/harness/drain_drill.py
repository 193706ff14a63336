"""The SIGTERM drill: clients posting 2,000-row bodies, then the stop a deploy sends, under load.

Eight client threads post 2,000-row bodies (each answer checked against the
in-process one); after 2 s the server is told to stop: SIGTERM to gunicorn's
master, or ``docker stop`` to the container. A request is **lost** when its
connection was made (the kernel accepted it) and no right answer came back;
a connection refused is allowed (the drain had closed the door). The drain
must lose none: not one reset after the handshake, in the image as shipped
(non-root, no capabilities) as in a process.

    python -m tests.harness.drain_drill [--runs 20] [--image IMAGE | --procfile-as USER]

``--procfile-as nobody`` drills the Procfile's ``web:`` command as EB's Python
platform runs it, unprivileged (``setpriv``: that user's uid and gid, no
supplementary groups, no capabilities), bound to loopback instead of 0.0.0.0.
"""

import argparse
import json
import pwd
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from werkzeug.test import Client

from tests.harness.clients import Attempt, ClientThreads
from tests.harness.corpus import Exchange
from tests.harness.server import HOST, REPO_ROOT, free_port, healthy_within, running_server
from wsgi_service import Settings, create_app

CLIENTS, ROWS, TERM_AFTER_S = 8, 2000, 2.0
HEALTHY_TIMEOUT_S = 60


@dataclass(frozen=True)
class DrillRun:
    attempts: list[Attempt]
    exit_code: int
    stop_seconds: float  # from the signal (or docker stop) until the server was gone

    @property
    def failed(self) -> bool:
        return self.exit_code != 0 or bool(self.lost)

    @property
    def lost(self) -> list[Attempt]:
        return [a for a in self.attempts if a.connected and a.outcome != "ok"]

    @property
    def answered(self) -> int:
        return sum(a.outcome == "ok" for a in self.attempts)

    @property
    def refused(self) -> int:
        return sum(not a.connected for a in self.attempts)

    def line(self) -> str:
        lost = Counter(a.outcome for a in self.lost)
        return (f"answered {self.answered}, refused {self.refused}, lost {len(self.lost)}"
                f"{' (' + ', '.join(f'{n} {o}' for o, n in lost.items()) + ')' if lost else ''}; "
                f"exit {self.exit_code} {self.stop_seconds:.1f} s after the stop")


def batch_exchanges(model_dir: Path, count: int = CLIENTS, rows: int = ROWS, seed: int = 4) -> list[Exchange]:
    """``count`` bodies of ``rows`` iris-like rows, each with its in-process answer."""
    client = Client(create_app(settings=Settings(model_dir=model_dir)))
    generator = np.random.default_rng(seed)
    exchanges = []
    for index in range(count):
        body = json.dumps(np.round(generator.uniform(0, 8, size=(rows, 4)), 2).tolist()).encode()
        answer = client.post("/predict", data=body, content_type="application/json")
        exchanges.append(Exchange(f"drill-{index}", body, answer.get_data()))
    return exchanges


def process_run(model_dir: Path, exchanges: list[Exchange], command: list[str] | None = None,
                port: int | None = None, env: dict[str, str] | None = None) -> DrillRun:
    """``python -m wsgi_service`` (gunicorn, two workers) on a free port, or ``command`` on ``port``;
    SIGTERM to its master."""
    with running_server(model_dir=model_dir, command=command, port=port, env=env or {}) as server:
        with ClientThreads(server.port, exchanges, CLIENTS) as clients:
            time.sleep(TERM_AFTER_S)
            signalled = time.monotonic()
            server.process.send_signal(signal.SIGTERM)
            exit_code = server.process.wait(timeout=30)
            stop_seconds = time.monotonic() - signalled
            time.sleep(0.5)  # clients meet the closed port
    return DrillRun(clients.attempts, exit_code, stop_seconds)


def procfile_command(user: str, port: int) -> list[str]:
    """The Procfile's ``web:`` command on 127.0.0.1:``port``, run as ``user`` with no privilege at all."""
    web = (REPO_ROOT / "Procfile").read_text().split("web:", 1)[1].splitlines()[0]
    argv = [word.replace("0.0.0.0:8000", f"{HOST}:{port}") for word in shlex.split(web)]
    argv[0] = str(Path(sys.executable).parent / argv[0])  # the virtualenv's gunicorn, as on EB's PATH
    account = pwd.getpwnam(user)
    return ["setpriv", f"--reuid={account.pw_uid}", f"--regid={account.pw_gid}", "--clear-groups",
            "--inh-caps=-all", *argv]


def unprivileged_copy(model_dir: Path, scratch: Path) -> tuple[Path, dict[str, str]]:
    """The model where any user may read it (a test's temporary directories are its owner's only),
    and the environment that gives numba a cache directory such a user may write."""
    copy = Path(shutil.copytree(model_dir, scratch / "model"))
    for path in (scratch, copy, *copy.iterdir()):
        path.chmod(0o755 if path.is_dir() else 0o644)
    cache = scratch / "numba-cache"
    cache.mkdir(mode=0o777)
    cache.chmod(0o777)
    return copy, {"NUMBA_CACHE_DIR": str(cache)}


def container_run(image: str, exchanges: list[Exchange], docker: str = "docker") -> DrillRun:
    """The image on the host's loopback (``--network host``, a free port); ``docker stop``."""
    port = free_port()
    name = f"drain-drill-{port}"
    subprocess.run([docker, "run", "--detach", "--name", name, "--network", "host", "--env", f"PORT={port}",
                    "--env", f"GUNICORN_CMD_ARGS=--bind {HOST}:{port}", image],
                   check=True, capture_output=True)
    try:
        if not healthy_within(port, HEALTHY_TIMEOUT_S):
            raise RuntimeError(f"container {name} not healthy after {HEALTHY_TIMEOUT_S} s")
        with ClientThreads(port, exchanges, CLIENTS) as clients:
            time.sleep(TERM_AFTER_S)
            signalled = time.monotonic()
            subprocess.run([docker, "stop", name], check=True, capture_output=True)
            stop_seconds = time.monotonic() - signalled
            time.sleep(0.5)
        exit_code = int(subprocess.run([docker, "inspect", "--format", "{{.State.ExitCode}}", name],
                                       check=True, capture_output=True, text=True).stdout)
    finally:
        subprocess.run([docker, "rm", "--force", name], capture_output=True)
    return DrillRun(clients.attempts, exit_code, stop_seconds)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--model-dir", type=Path, default=REPO_ROOT / "models" / "iris",
                        help="the model served (the in-process answers come from it)")
    parser.add_argument("--image", help="drill this image with docker stop instead of the process with SIGTERM")
    parser.add_argument("--docker", default="docker", help="the docker command (its DOCKER_HOST is inherited)")
    parser.add_argument("--procfile-as", metavar="USER",
                        help="drill the Procfile's web: command run as USER, unprivileged, instead")
    args = parser.parse_args(argv)
    exchanges = batch_exchanges(args.model_dir)
    what = (f"docker stop of {args.image}" if args.image else
            f"SIGTERM to the Procfile's command as {args.procfile_as}" if args.procfile_as else "SIGTERM to the master")
    print(f"drain drill: {CLIENTS} clients posting {ROWS}-row bodies, {what} after {TERM_AFTER_S:.0f} s")
    runs = []
    with tempfile.TemporaryDirectory(prefix="drain-drill-") as scratch:
        if args.procfile_as:
            model_dir, env = unprivileged_copy(args.model_dir, Path(scratch))
        for number in range(1, args.runs + 1):
            if args.image:
                run = container_run(args.image, exchanges, args.docker)
            elif args.procfile_as:
                port = free_port()
                run = process_run(model_dir, exchanges, procfile_command(args.procfile_as, port), port, env)
            else:
                run = process_run(args.model_dir, exchanges)
            runs.append(run)
            print(f"  run {number:2d}: {run.line()}", flush=True)
    lost = Counter(len(run.lost) for run in runs)
    print(f"lost per run: {', '.join(f'{n} run(s) lost {k}' for k, n in sorted(lost.items()))}; "
          f"exit codes {sorted(Counter(r.exit_code for r in runs).items())}; "
          f"stop {min(r.stop_seconds for r in runs):.1f}-{max(r.stop_seconds for r in runs):.1f} s")
    return 1 if any(run.failed for run in runs) else 0


if __name__ == "__main__":
    sys.exit(main())
