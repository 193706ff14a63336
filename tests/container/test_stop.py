"""``docker stop`` under load: the container answers every request it accepted (``tests.harness.drain_drill``)."""

import os

import pytest

from tests.harness import drain_drill

pytestmark = pytest.mark.container

DRILL_RUNS = os.environ.get("CONTAINER_PROOF_DRILL_RUNS", "3")  # 20 by hand for the figures


def test_docker_stop_under_load_loses_no_accepted_request(docker, image, model_dir, figure, capsys):
    """8 clients posting 2,000-row bodies, docker stop after 2 s; the answers checked against the same
    iris model, trained here as in the image (``model_dir``)."""
    status = drain_drill.main(["--runs", DRILL_RUNS, "--image", image, "--docker", docker.command,
                               "--model-dir", str(model_dir)])
    output = capsys.readouterr().out
    with capsys.disabled():
        print(output)
    figure(f"docker stop drain drill ({DRILL_RUNS} runs)", output.strip().splitlines()[-1])
    assert status == 0, "docker stop lost requests that the container had accepted"
