"""Containers of the image under proof, started through the docker client the proof's engine answers.

``.ci/container-proof`` runs a private dockerd and hands its tests the
client (``CONTAINER_PROOF_DOCKER``; ``DOCKER_HOST`` names the engine) and
the image it built (``CONTAINER_PROOF_IMAGE``). Every container carries the
proof's label, so the script removes any a killed test left behind.
"""

import os
import subprocess
import time
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass

from tests.harness.server import HOST

ENV_DOCKER = "CONTAINER_PROOF_DOCKER"
ENV_IMAGE = "CONTAINER_PROOF_IMAGE"
LABEL = "container-proof"
HEALTH_TIMEOUT_S = 90
POLL_S = 0.2


class DockerError(RuntimeError):
    pass


@dataclass(frozen=True)
class Docker:
    """The docker command, run to completion; its output, stripped."""

    command: str

    @classmethod
    def from_env(cls) -> "Docker":
        return cls(os.environ.get(ENV_DOCKER, "docker"))

    def __call__(self, *args: str, timeout: float = 900) -> str:
        done = subprocess.run([self.command, *args], capture_output=True, text=True, timeout=timeout)
        if done.returncode != 0:
            raise DockerError(f"docker {' '.join(args[:3])} ...: exit {done.returncode}: {done.stderr[-2000:]}")
        return done.stdout.strip()

    def image(self, tag: str, template: str) -> str:
        return self("image", "inspect", "-f", template, tag)

    def succeeds(self, *args: str) -> bool:
        return subprocess.run([self.command, *args], capture_output=True).returncode == 0

    @contextmanager
    def running(self, image: str, *options: str, command: tuple[str, ...] = ()) -> Iterator["Container"]:
        """``docker run --detach`` with ``options``; removed, whatever happens, on leaving."""
        name = f"{LABEL}-{uuid.uuid4().hex[:12]}"
        self("run", "--detach", "--name", name, "--label", f"{LABEL}=1", *options, image, *command)
        try:
            yield Container(self, name)
        finally:
            subprocess.run([self.command, "rm", "--force", name], capture_output=True)

    def on_loopback(self, image: str, port: int, *options: str) -> AbstractContextManager["Container"]:
        """The image on the host's network, bound to 127.0.0.1:``port``."""
        return self.running(image, "--network", "host", "--env", f"PORT={port}",
                            "--env", f"GUNICORN_CMD_ARGS=--bind {HOST}:{port}", *options)


@dataclass(frozen=True)
class Container:
    docker: Docker
    name: str

    def state(self, template: str) -> str:
        return self.docker("inspect", "-f", template, self.name)

    def is_running(self) -> bool:
        return self.state("{{.State.Running}}") == "true"

    def health(self) -> str:
        return self.state("{{if .State.Health}}{{.State.Health.Status}}{{end}}")

    def exit_code(self) -> int:
        return int(self.state("{{.State.ExitCode}}"))

    def pid(self) -> int:
        return int(self.state("{{.State.Pid}}"))

    def logs(self) -> str:
        """What the container wrote, stdout and stderr interleaved."""
        return subprocess.run([self.docker.command, "logs", self.name], stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True).stdout

    def failure(self, what: str) -> AssertionError:
        tail = "\n".join(self.logs().splitlines()[-40:])
        return AssertionError(f"{what}\n--- last lines of {self.name}'s log ---\n{tail}")

    def wait_healthy(self, timeout_s: float = HEALTH_TIMEOUT_S) -> float:
        """Seconds until Docker's HEALTHCHECK says healthy."""
        started = time.monotonic()
        while self.health() != "healthy":
            if not self.is_running():
                raise self.failure(f"container {self.name} exited")
            if time.monotonic() - started > timeout_s:
                raise self.failure(f"container {self.name} not healthy after {timeout_s} s")
            time.sleep(POLL_S)
        return time.monotonic() - started

    def wait_serving(self, port: int, timeout_s: float = HEALTH_TIMEOUT_S) -> float:
        """Seconds until /health answers 200 on ``port`` of the host's loopback."""
        started = time.monotonic()
        while True:
            try:
                with urllib.request.urlopen(f"http://{HOST}:{port}/health", timeout=2) as response:
                    if response.status == 200:
                        return time.monotonic() - started
            except OSError:
                pass
            if not self.is_running():
                raise self.failure("the container exited at start")
            if time.monotonic() - started > timeout_s:
                raise self.failure(f"/health did not answer 200 in {timeout_s} s")
            time.sleep(0.1)
