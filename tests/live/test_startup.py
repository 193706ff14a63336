"""``python -m wsgi_service`` refuses a bad setting or a missing model with one clear line and exit status 1."""

import pytest

from tests.harness.server import refused_start
from wsgi_service.operations.settings import ENV_MODEL_DIR


@pytest.mark.parametrize("env, message", [
    ({ENV_MODEL_DIR: "/nonexistent/model"}, "Error: no model at /nonexistent/model"),
    ({"MAX_BATCH_ROWS": "many"}, "Error: MAX_BATCH_ROWS must be a positive integer, got 'many'"),
    ({"WEB_CONCURRENCY": "0"}, "Error: WEB_CONCURRENCY must be a positive integer, got '0'"),
])
def test_server_refuses_to_start_with_one_clear_line(model_dir, env, message):
    refused = refused_start(model_dir=model_dir, env=env, timeout_s=60)
    assert refused.exit_code == 1
    assert message in refused.output
    assert "Traceback" not in refused.output
