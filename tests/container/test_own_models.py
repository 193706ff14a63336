"""Images of other models, built with ``--build-arg MODEL=models/NAME``: a CSV of yours, a notebook's pipeline."""

import json
import re
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.container.support import assert_refused, certify, has_pandas
from tests.harness.server import HOST, REPO_ROOT, free_port

pytestmark = pytest.mark.container


def python_m(*args: str) -> None:
    subprocess.run([sys.executable, "-m", *args], cwd=REPO_ROOT, check=True, capture_output=True, timeout=600)


def own_model_image(docker, image: str, context: Path, model: str, tag: str, body: list, pattern: str,
                    figure) -> str:
    """Build ``models/model`` of the context into an image, run it, POST ``body`` (the answer must match
    ``pattern``), certify it against its own contract; the image's tag."""
    tagged = f"{image.rsplit(':', 1)[0]}:{tag}"
    started = time.monotonic()
    docker("build", "--network", "host", "--force-rm", "--label", "container-proof=1",
           "--build-arg", f"MODEL=models/{model}", "--tag", tagged, str(context))
    figure(f"{tag} image", f"built in {time.monotonic() - started:.1f} s, "
           f"{int(docker.image(tagged, '{{.Size}}')) / 1e6:.0f} MB")
    port = free_port()
    with docker.on_loopback(tagged, port) as container:
        container.wait_healthy()
        request = urllib.request.Request(f"http://{HOST}:{port}/predict", data=json.dumps(body).encode(),
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=5) as response:
            answer = response.read().decode()
        assert re.fullmatch(pattern, answer), f"expected an answer like {pattern}, got {answer}"
        certify(f"http://{HOST}:{port}", "--contract", str(context / "models" / model / "openapi.json"))
    return tagged


def test_your_own_model_a_csv_with_text_labels_without_pandas(docker, image, context, figure):
    """Trained on the host into the copied context (the checkout stays clean), as the README's walkthrough does."""
    python_m("training.sample_table", str(context / "coffee.csv"))
    python_m("training", "--csv", str(context / "coffee.csv"), "--target", "grade", "--out",
             str(context / "models" / "coffee"))
    tagged = own_model_image(docker, image, context, "coffee", "own-model",
                             [[7.5, 7.4, 8.1, 7.8, 8.5, 8.2, 6.3, 11.8, 1489, 8]], r'\["[a-z]+"\]', figure)
    assert not has_pandas(docker, tagged), "the coffee image has pandas: its model takes an array"


@pytest.fixture(scope="module")
def notebook_model(context, tmp_path_factory) -> Path:
    """A pipeline fitted on a pandas DataFrame and dumped as a notebook does, imported with
    ``python -m training import`` into the context."""
    notebook = tmp_path_factory.mktemp("notebook")
    python_m("tests.support.notebooks", str(notebook))
    out = context / "models" / "lots-boosted"
    python_m("training", "import", str(notebook / "lots_boosted.joblib"), "--sample", str(notebook / "lots.csv"),
             "--target", "grade", "--out", str(out))
    return out


def test_a_notebooks_pipeline_with_pandas_in_its_image(docker, image, context, notebook_model, figure):
    tagged = own_model_image(docker, image, context, "lots-boosted", "notebook",
                             [["Kona", 7.2, "dark", 6.0], ["Huila", 6.0, "light", 8.0]],
                             r'\["[a-z]+","[a-z]+"\]', figure)
    assert has_pandas(docker, tagged), "the notebook's image has no pandas: its manifest says it takes a DataFrame"


def test_the_notebooks_model_over_the_iris_image_is_refused(docker, image, notebook_model, model_dir_in_image,
                                                              figure):
    """The iris image has no pandas: exit 1 with one Error: line."""
    for path in (notebook_model, *notebook_model.rglob("*")):
        path.chmod(0o755 if path.is_dir() else 0o644)  # the container's user (uid 10001) reads it
    figure("dataframe model over the iris image",
           assert_refused(docker, image, notebook_model, model_dir_in_image, "pandas is not installed"))
