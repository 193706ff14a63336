"""Fixtures of the in-process tests (the session's model, app and client are in ``tests/conftest.py``)."""

import shutil

import pytest


@pytest.fixture
def model_copy(model_dir, tmp_path):
    """A copy of the session's model directory, free to break."""
    copy = tmp_path / "model"
    shutil.copytree(model_dir, copy)
    return copy
