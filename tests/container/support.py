"""Checks more than one of the container tests makes."""

import os
import subprocess
import sys
import time
from pathlib import Path

from tests.harness.docker import POLL_S, Docker
from tests.harness.server import REPO_ROOT

BAD_MODEL_EXIT_TIMEOUT_S = 60  # a refused model exits in seconds; a served one would turn healthy in ~5 s


def has_pandas(docker: Docker, image: str) -> bool:
    """Whether pandas is installed in the image (asked of find_spec, nothing imported)."""
    return docker.succeeds("run", "--rm", "--network", "none", image, "python", "-c",
                           "import importlib.util, sys; sys.exit(importlib.util.find_spec('pandas') is None)")


def assert_refused(docker: Docker, image: str, model_dir: Path, mounted_at: str, reason: str) -> str:
    """Mounted over the image's model, ``model_dir`` never serves: never healthy, exit 1, one "Error:"
    line saying ``reason``, no traceback. The health states seen and the time to exit."""
    started, seen = time.monotonic(), []
    with docker.running(image, "--network", "none", "--volume", f"{model_dir}:{mounted_at}:ro") as container:
        while True:
            # Whether it still runs is read before its health, so the last health read follows the exit.
            exited = not container.is_running()
            exit_s = time.monotonic() - started
            status = container.health() or "none"
            if not seen or seen[-1] != status:
                seen.append(status)
            if status == "healthy":
                raise container.failure("the health check said healthy")
            if exited:
                break
            if exit_s > BAD_MODEL_EXIT_TIMEOUT_S:
                raise container.failure(f"still running after {BAD_MODEL_EXIT_TIMEOUT_S} s (health: {seen})")
            time.sleep(POLL_S)
        log, code = container.logs(), container.exit_code()
    errors = [line for line in log.splitlines() if line.startswith("Error:")]
    assert code == 1, f"exit {code}, not 1:\n{log[-3000:]}"
    assert len(errors) == 1, f"{len(errors)} lines begin with 'Error:' (one expected):\n{log[-3000:]}"
    assert reason in errors[0], f"the Error: line does not say {reason!r}: {errors[0]}"
    assert "Traceback" not in log, f"a traceback in the log:\n{log[-3000:]}"
    return f"exit {code} after {exit_s:.1f} s, health {' > '.join(seen)}; {errors[0]}"


def certify(base_url: str, *options: str, env: dict[str, str] | None = None) -> None:
    suite = subprocess.run([sys.executable, "-m", "contract", "--base-url", base_url, *options], cwd=REPO_ROOT,
                           env={**os.environ, **(env or {})}, capture_output=True, text=True, timeout=600)
    print(suite.stdout[-3000:])
    assert suite.returncode == 0, f"python -m contract failed against {base_url}:\n{suite.stdout}{suite.stderr}"
