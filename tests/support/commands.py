"""The project's commands as a user types them, each in a process of its own, from the repository root."""

import subprocess
import sys

from tests.harness.server import REPO_ROOT


def run_training(*args: str) -> subprocess.CompletedProcess:
    """``python -m training ARGS``, its output captured as text."""
    return subprocess.run([sys.executable, "-m", "training", *args], cwd=REPO_ROOT,
                          capture_output=True, text=True)
