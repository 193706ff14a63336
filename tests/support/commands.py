"""The project's commands as a user types them, each in a process of its own, from the repository root."""

import os
import subprocess
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from contract.model_directory import CONTRACT_FILENAME
from tests.harness.server import REPO_ROOT, running_server


def run_training(*args: str, env: Mapping[str, str] = ()) -> subprocess.CompletedProcess:
    """``python -m training ARGS``, its output captured as text; ``env`` adds to the environment."""
    return subprocess.run([sys.executable, "-m", "training", *args], cwd=REPO_ROOT,
                          env={**os.environ, **dict(env)}, capture_output=True, text=True)


@contextmanager
def certified_server(model_dir: Path) -> Iterator[str]:
    """``MODEL_DIR=model_dir python -m wsgi_service``, certified by ``python -m contract``
    against the contract training wrote beside the model; yields its base URL."""
    with running_server(model_dir=model_dir) as server:
        base_url = server.base_url
        certified = subprocess.run([sys.executable, "-m", "contract", "--base-url", base_url,
                                    "--contract", str(model_dir / CONTRACT_FILENAME)],
                                   cwd=REPO_ROOT, capture_output=True, text=True)
        assert certified.returncode == 0, certified.stdout[-3000:]
        yield base_url
