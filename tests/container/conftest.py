"""The container proof's tests: the image ``.ci/container-proof`` built, run through its private engine.

They run only from that script (``pytest -m container``), which names the
image and the docker client in the environment (``tests.harness.docker``)
and, for the EB bundle checks, a tools virtualenv with hadolint, PyYAML and
pathspec. Figures each test measures go to ``CONTAINER_PROOF_FIGURES`` (one
``name<TAB>value`` a line) for the script's summary.
"""

import os
import shutil
import tempfile
from pathlib import Path

import pytest

from tests.harness import nginx
from tests.harness.docker import ENV_IMAGE, Docker
from tests.harness.server import HOST, free_port

ENV_TOOLS = "CONTAINER_PROOF_TOOLS"  # a virtualenv with hadolint, PyYAML and pathspec
ENV_CONTEXT = "CONTAINER_PROOF_CONTEXT"  # a copy of the build context, for images of other models
ENV_FIGURES = "CONTAINER_PROOF_FIGURES"


def required_env(name: str) -> str:
    value = os.environ.get(name)
    if not value:
        pytest.fail(f"{name} is not set: the container tests run from .ci/container-proof")
    return value


@pytest.fixture(scope="session")
def docker() -> Docker:
    return Docker.from_env()


@pytest.fixture(scope="session")
def image() -> str:
    return required_env(ENV_IMAGE)


@pytest.fixture(scope="session")
def tools() -> Path:
    return Path(required_env(ENV_TOOLS))


@pytest.fixture(scope="session")
def context() -> Path:
    return Path(required_env(ENV_CONTEXT))


@pytest.fixture(scope="session")
def figure():
    """``figure(name, value)``: printed, and kept for the script's summary."""
    def record(name: str, value: object) -> None:
        print(f"  figure: {name}: {value}")
        if path := os.environ.get(ENV_FIGURES):
            with open(path, "a") as figures:
                figures.write(f"{name}\t{value}\n")
    return record


@pytest.fixture(scope="session")
def model_dir_in_image(docker, image) -> str:
    """Wherever the image's MODEL_DIR says."""
    env = docker.image(image, "{{range .Config.Env}}{{println .}}{{end}}").splitlines()
    found = [line.split("=", 1)[1] for line in env if line.startswith("MODEL_DIR=")]
    assert found and found[0], "the image sets no MODEL_DIR"
    return found[0]


@pytest.fixture(scope="session")
def nginx_in_front(tmp_path_factory):
    """``start(app_port) -> base URL``: an nginx set up as EB sets it up, proxying to the app's port."""
    processes, run_dirs = [], []

    def start(app_port: int) -> str:
        port = free_port()
        # nginx's workers (nobody) write request bodies under its directory: one they can reach, not
        # under pytest's private base directory.
        run_dirs.append(run_dir := Path(tempfile.mkdtemp(prefix="container-proof-nginx-")))
        config = nginx.write_config(run_dir, HOST, app_port, port)
        processes.append(process := nginx.start(config))
        url = f"http://{HOST}:{port}"
        nginx.wait_answering(process, url + "/health")
        return url

    yield start
    for process in processes:
        nginx.stop(process)
    for run_dir in run_dirs:
        shutil.rmtree(run_dir, ignore_errors=True)
