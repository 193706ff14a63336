"""The image as built: its configuration, its start as EB's Docker platform runs it, and the models it refuses."""

import shutil
from pathlib import Path

import pytest

from contract.model_directory import MODEL_FILENAME
from tests.container.support import assert_refused, has_pandas

pytestmark = pytest.mark.container


@pytest.fixture(scope="module")
def intact_model(docker, image, model_dir_in_image, tmp_path_factory) -> Path:
    """The image's own model directory, copied out of it."""
    out = tmp_path_factory.mktemp("image-model") / "intact"
    name = docker("create", "--label", "container-proof=1", image)
    try:
        docker("cp", f"{name}:{model_dir_in_image}", str(out))
    finally:
        docker("rm", name)
    assert (out / MODEL_FILENAME).is_file(), f"the image has no {model_dir_in_image}/{MODEL_FILENAME}"
    return out


def test_the_image_runs_as_a_user_other_than_root(docker, image):
    user = docker.image(image, "{{.Config.User}}")
    assert user.split(":")[0] not in ("", "root", "0"), f"the image runs as root (USER {user!r})"


def test_the_image_exposes_exactly_8080(docker, image):
    ports = docker.image(image, "{{range $port, $_ := .Config.ExposedPorts}}{{$port}} {{end}}")
    assert ports == "8080/tcp", f"the image must expose exactly 8080/tcp, exposes: {ports or 'nothing'}"


def test_the_image_has_an_exec_form_healthcheck(docker, image):
    assert docker.image(image, "{{if .Config.Healthcheck}}{{index .Config.Healthcheck.Test 0}}{{end}}") == "CMD", \
        "the image has no exec-form HEALTHCHECK"


def test_the_iris_image_has_no_pandas(docker, image):
    """pandas is for a model that takes a DataFrame only (the manifest's "input"): not iris."""
    assert not has_pandas(docker, image), "the iris image has pandas: only a model that takes a DataFrame needs it"


def test_as_eb_docker_platform_runs_it_healthy_and_answering_on_8080(docker, image):
    """The image's own CMD, port and environment, no network."""
    with docker.running(image, "--network", "none") as container:
        container.wait_healthy()
        assert docker.succeeds("exec", container.name, "python", "-c",
                               "import urllib.request as u; u.urlopen('http://127.0.0.1:8080/health', timeout=5)"), \
            "nothing answers /health on the exposed port 8080 inside the container"


def spoiled(variant: str, intact: Path, out: Path) -> Path:
    """A copy of ``intact`` with its model file spoiled. Truncation changes the hash too: the service
    compares hashes before it unpickles anything."""
    shutil.copytree(intact, out)
    model = out / MODEL_FILENAME
    data = bytearray(model.read_bytes())
    if variant == "tampered":  # one byte in the middle flipped: same size, another SHA-256
        data[len(data) // 2] ^= 0xFF
        model.write_bytes(bytes(data))
    elif variant == "truncated":
        model.write_bytes(bytes(data[:len(data) // 2]))
    else:
        model.unlink()
    for path in (out, *out.rglob("*")):
        path.chmod(0o755 if path.is_dir() else 0o644)  # the container's user (uid 10001) reads it
    return out


@pytest.mark.parametrize("variant", ["tampered", "truncated", "missing"])
def test_a_spoiled_model_stops_the_container_with_one_error_line(
        docker, image, intact_model, model_dir_in_image, variant, figure):
    reasons = {"tampered": "SHA-256", "truncated": "SHA-256",
               "missing": f"cannot read {model_dir_in_image}/{MODEL_FILENAME}"}
    model_dir = spoiled(variant, intact_model, intact_model.parent / variant)
    figure(f"{variant} model", assert_refused(docker, image, model_dir, model_dir_in_image, reasons[variant]))
