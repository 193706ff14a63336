"""Fixture chain: a freshly trained model directory, the app built from it,
an in-process client, and one real gunicorn server per test run."""

import subprocess
import sys

import pytest
from werkzeug.test import Client

from tests.harness.server import REPO_ROOT, running_server
from tests.support import profiles
from wsgi_service import Settings, create_app

profiles.register()


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory):
    """The default model, trained as users train it: ``python -m training``, in a
    process of its own. (In this one, pickle's output can depend on what was
    unpickled before, so the SHA-256 the generated contract quotes could differ
    from the committed contract's.)"""
    directory = tmp_path_factory.mktemp("models") / "iris"
    subprocess.run([sys.executable, "-m", "training", "--out", str(directory)], check=True,
                   capture_output=True, cwd=REPO_ROOT)
    return directory


@pytest.fixture(scope="session")
def app(model_dir):
    return create_app(model_dir)


@pytest.fixture(scope="session")
def client(app):
    """Stateless (no cookies in play), so one serves every test and every generated example."""
    return Client(app)


@pytest.fixture(scope="session")
def live_server(model_dir):
    """Base URL of the real gunicorn server, started as the README says."""
    with running_server(model_dir=model_dir) as server:
        yield server.base_url
