"""nginx as Elastic Beanstalk's platforms set it up in front of the app (``.ci/eb-nginx.conf`` filled in).

Used by the container proof's tests (nginx before the container) and the
multi-instance rig (nginx before each instance).
"""

import os
import signal
import subprocess
import time
import urllib.request
from pathlib import Path

from tests.harness.server import REPO_ROOT

TEMPLATE = REPO_ROOT / ".ci" / "eb-nginx.conf"
START_TIMEOUT_S = 30


def write_config(run_dir: Path, host: str, app_port: int, nginx_port: int) -> Path:
    """The template filled in for an nginx whose files live in ``run_dir``, proxying ``host:app_port``."""
    (run_dir / "nginx-tmp").mkdir(parents=True, exist_ok=True)
    os.chmod(run_dir, 0o711)  # nginx's workers (nobody) write request bodies under it
    os.chmod(run_dir / "nginx-tmp", 0o755)
    text = TEMPLATE.read_text()
    for key, value in {"RUN_DIR": run_dir, "REPO": REPO_ROOT, "HOST": host,
                       "APP_PORT": app_port, "NGINX_PORT": nginx_port}.items():
        text = text.replace(f"@{key}@", str(value))
    config = run_dir / "nginx.conf"
    config.write_text(text)
    return config


def command(config: Path, *extra: str) -> list[str]:
    run_dir = config.parent
    return ["nginx", "-p", str(run_dir), "-c", str(config), "-e", str(run_dir / "nginx-error.log"), *extra]


def start(config: Path) -> subprocess.Popen:
    """nginx in the foreground, in a session of its own (stopped by its PID)."""
    return subprocess.Popen(command(config, "-g", "daemon off;"), stdout=subprocess.DEVNULL,
                            stderr=subprocess.STDOUT, start_new_session=True)


def wait_answering(process: subprocess.Popen, url: str, timeout_s: float = START_TIMEOUT_S) -> None:
    """Until ``url`` answers 200 through nginx; a RuntimeError with its error log if it never does."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            log = Path(process.args[2]) / "nginx-error.log"
            raise RuntimeError(f"nginx did not answer {url}: {log.read_text()[-2000:] if log.exists() else ''}")
        time.sleep(0.1)


def stop(process: subprocess.Popen) -> None:
    """SIGQUIT, nginx's graceful shutdown; SIGKILL after 10 s."""
    if process.poll() is None:
        process.send_signal(signal.SIGQUIT)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
