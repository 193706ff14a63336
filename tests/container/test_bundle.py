"""The Dockerfile linted and the Elastic Beanstalk bundle checked, then replayed as EB's Python platform runs it."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.harness import nginx
from tests.harness.server import HOST, REPO_ROOT, free_port
from wsgi_service.operations.settings import DEFAULT_MAX_BODY_BYTES

pytestmark = pytest.mark.container

PROCFILE_BINDS_8000 = re.compile(r"^web: .*--bind 0\.0\.0\.0:8000( |$)", re.M)
REPLAY_TIMEOUT_S = 300
# EB's Python platform with the bundle, in the image: the project uninstalled first (on EB only the
# dependencies are installed, so the hook and gunicorn import it from the app directory), the
# predeploy hook (trains, then skips a model present), the Procfile's web: command on 8000.
PYTHON_PLATFORM_REPLAY = r'''
set -euo pipefail
pip uninstall --yes --quiet wsgi-forest-service
mkdir -p /var/app/venv && ln -s /opt/venv /var/app/venv/staging-proof
cp -a /bundle /var/app/staging && cd /var/app/staging
.platform/hooks/predeploy/01_train_model.sh
test -f models/iris/model.joblib && test -f models/iris/manifest.json
.platform/hooks/predeploy/01_train_model.sh | grep -q "not retrained"
mv /var/app/staging /var/app/current && cd /var/app/current
web=$(sed -n "s/^web:[[:space:]]*//p" Procfile)
echo "  web: $web"
$web >/tmp/web.log 2>&1 &
web_pid=$!
python - <<PY || { cat /tmp/web.log; exit 1; }
import json, time, urllib.request
deadline = time.monotonic() + 60
while True:
    try:
        urllib.request.urlopen("http://127.0.0.1:8000/health", timeout=2)
        break
    except OSError:
        if time.monotonic() > deadline:
            raise
        time.sleep(0.2)
request = urllib.request.Request("http://127.0.0.1:8000/predict", method="POST",
                                 data=b"[[5.1,3.5,1.4,0.2],[6.7,3.0,5.2,2.3]]",
                                 headers={"Content-Type": "application/json"})
assert json.load(urllib.request.urlopen(request, timeout=10)) == [0, 2]
PY
kill "$web_pid"
'''


def gunicorn_config(port: int, expression: str) -> str:
    """``expression`` evaluated where the config module was imported with PORT=``port``."""
    return subprocess.run([sys.executable, "-c", f"import wsgi_service.operations.gunicorn_config as c\n"
                           f"from wsgi_service.operations.draining import stop_bound_seconds\n"
                           f"from wsgi_service.operations.settings import ServerSettings\nprint(repr(({expression})))"],
                          env={**os.environ, "PORT": str(port)}, cwd=REPO_ROOT, check=True,
                          capture_output=True, text=True).stdout.strip()


@pytest.fixture(scope="module")
def bundle(tools, tmp_path_factory) -> tuple[subprocess.CompletedProcess, Path]:
    """``.ci/container-bundle-check.py``'s run, and the bundle `eb deploy` would send, laid out by it."""
    out = tmp_path_factory.mktemp("eb") / "bundle"
    timeout, keepalive, stop_bound = gunicorn_config(
        8000, "c.timeout, c.keepalive, stop_bound_seconds(ServerSettings().drain_seconds)").strip("()").split(", ")
    run = subprocess.run([str(tools / "bin" / "python"), ".ci/container-bundle-check.py", "--repo", ".",
                          "--max-body-bytes", str(DEFAULT_MAX_BODY_BYTES), "--worker-timeout", timeout,
                          "--keepalive", keepalive, "--stop-bound-seconds", stop_bound, "--bundle-out", str(out)],
                         cwd=REPO_ROOT, capture_output=True, text=True)
    print(run.stdout + run.stderr)
    return run, out


def test_hadolint_finds_no_error_in_the_dockerfile(tools):
    lint = subprocess.run([str(tools / "bin" / "hadolint"), "--failure-threshold", "error", "Dockerfile"],
                          cwd=REPO_ROOT, capture_output=True, text=True)
    print(lint.stdout + lint.stderr)  # warnings, if any
    assert lint.returncode == 0, "hadolint found errors in the Dockerfile"


def test_the_eb_bundle_pieces_check_out(bundle):
    run, _ = bundle
    assert run.returncode == 0, f"the EB bundle checks failed:\n{run.stdout}{run.stderr}"


def test_the_procfile_binds_8000_and_the_config_binds_port_with_the_app_preloaded():
    """EB's Python platform proxies to 8000 (a Procfile on another port must set PORT to match); the
    config binds $PORT for every other way the service runs."""
    assert PROCFILE_BINDS_8000.search((REPO_ROOT / "Procfile").read_text()), \
        "the Procfile's web: command does not bind 0.0.0.0:8000"
    assert gunicorn_config(8123, "c.bind, c.preload_app, c.wsgi_app") == \
        "(['0.0.0.0:8123'], True, 'wsgi_service:create_app_from_env()')"


def test_the_predeploy_hook_passes_outside_the_python_platform(tmp_path):
    """The Docker platform has no app virtualenv: the hook must not fail there."""
    hook = subprocess.run([str(REPO_ROOT / ".platform/hooks/predeploy/01_train_model.sh")], cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)
    assert hook.returncode == 0, f"the predeploy hook fails where there is no app virtualenv: {hook.stderr}"
    print(f"  predeploy hook outside the Python platform: {hook.stdout.strip() or '(silent)'}")


def test_nginx_accepts_the_bundles_platform_nginx(tmp_path):
    config = nginx.write_config(tmp_path, HOST, free_port(), free_port())
    check = subprocess.run(nginx.command(config, "-t", "-q"), capture_output=True, text=True)
    assert check.returncode == 0, f"nginx -t rejects the .platform/nginx configuration: {check.stderr}"


def test_eb_python_platform_replay_trains_and_serves_on_8000(docker, image, bundle):
    _, out = bundle
    replay = subprocess.run([docker.command, "run", "--rm", "--label", "container-proof=1", "--network", "none",
                             "--user", "0", "--volume", f"{out}:/bundle:ro", image, "bash", "-c",
                             PYTHON_PLATFORM_REPLAY], capture_output=True, text=True, timeout=REPLAY_TIMEOUT_S)
    print(replay.stdout)
    assert replay.returncode == 0, f"the Python platform replay failed:\n{replay.stdout}{replay.stderr}"


def test_requirements_install_exactly_the_pins(bundle, tmp_path):
    """pip's dry run in a fresh virtualenv, as on EB: the project and the pinned versions, nothing else."""
    _, out = bundle
    if not (out / "requirements.txt").exists():
        pytest.fail("no requirements.txt in the bundle: EB's Python platform would install no dependencies")
    subprocess.run([sys.executable, "-m", "venv", str(tmp_path / "venv")], check=True)
    report = tmp_path / "report.json"
    subprocess.run([str(tmp_path / "venv/bin/pip"), "install", "--quiet", "--dry-run", "--report", str(report),
                    "-r", "requirements.txt"], cwd=out, check=True, timeout=600)
    normal = lambda name: re.sub(r"[-_.]+", "-", name).lower()  # noqa: E731
    pins = {normal(m[1]): m[2] for m in re.finditer(r"^([A-Za-z0-9._-]+)==(\S+)",
                                                     (REPO_ROOT / "constraints.txt").read_text(), re.M)}
    install = {normal(i["metadata"]["name"]): i["metadata"]["version"]
               for i in json.loads(report.read_text())["install"]}
    assert install.pop("wsgi-forest-service", None), "requirements.txt does not install the project"
    strays = [f"{name}=={version} (pinned: {pins.get(name)})" for name, version in install.items()
              if pins.get(name) != version]
    assert not strays, f"requirements.txt strays from the pins: {', '.join(strays)}"
    print(f"  the project and {len(install)} pinned dependencies")
