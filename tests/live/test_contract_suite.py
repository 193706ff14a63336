"""The contract suite certifies the real service and fails every broken one, naming the fault.

Real servers, real HTTP, and ``python -m contract`` run as CI runs it: one
gunicorn process hosts every broken deployment of ``tests.support.broken_apps`` (each
under its own path prefix) and the suite runs against all of them at once.
"""

import re
import subprocess
import sys
from xml.etree import ElementTree

import pytest

from contract.suite import EXIT_ALL_PASSED, EXIT_NEVER_READY
from tests.support.broken_apps import FAULTS, INTACT
from tests.harness.server import REPO_ROOT, free_port, running_server
SUITE_TIMEOUT_S = 120


def _suite_command(base_url: str, *options: str) -> list[str]:
    return [sys.executable, "-m", "contract", "--base-url", base_url, "--wait", "5", *options]


def _run_suite(base_url: str, *options: str) -> subprocess.CompletedProcess:
    return subprocess.run(_suite_command(base_url, *options), cwd=REPO_ROOT, capture_output=True,
                          text=True, timeout=SUITE_TIMEOUT_S)


@pytest.fixture(scope="module")
def broken_base_url(model_dir):
    with running_server("tests.support.broken_apps:make_app()", model_dir=model_dir,
                        health_path=f"/{INTACT}/health") as server:
        yield server.base_url


@pytest.fixture(scope="module")
def verdicts(broken_base_url) -> dict[str, tuple[int, str]]:
    """Exit status and output of the suite against each deployment, run side by side."""
    runs = {name: subprocess.Popen(_suite_command(f"{broken_base_url}/{name}"), cwd=REPO_ROOT,
                                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            for name in [INTACT, *FAULTS]}
    outputs = {name: run.communicate(timeout=SUITE_TIMEOUT_S)[0] for name, run in runs.items()}
    return {name: (runs[name].returncode, output) for name, output in outputs.items()}


@pytest.mark.parametrize("fault", FAULTS)
def test_suite_fails_a_broken_deployment_naming_the_check(verdicts, fault):
    status, output = verdicts[fault]
    assert status != EXIT_ALL_PASSED, output
    assert re.search(rf"::{re.escape(FAULTS[fault].caught_by)} FAIL$", output, re.MULTILINE), output


def test_suite_names_the_pointers_of_a_stale_contract(verdicts):
    assert "/info/version" in verdicts["stale_contract"][1]


def test_suite_passes_the_intact_app_behind_a_path_prefix(verdicts):
    status, output = verdicts[INTACT]
    assert status == EXIT_ALL_PASSED, output


def test_suite_passes_the_real_server_and_writes_junit_xml(live_server, tmp_path):
    report = tmp_path / "contract.xml"
    finished = _run_suite(live_server, "--junitxml", str(report))
    assert finished.returncode == EXIT_ALL_PASSED, finished.stdout + finished.stderr
    suite = ElementTree.parse(report).getroot().find("testsuite")
    assert int(suite.get("tests")) > 0 and suite.get("failures") == suite.get("errors") == "0"


def test_suite_says_when_the_deployment_never_becomes_ready():
    nothing_there = f"http://127.0.0.1:{free_port()}"
    finished = _run_suite(nothing_there, "--wait", "1")
    assert finished.returncode == EXIT_NEVER_READY
    assert "never became ready" in finished.stderr
