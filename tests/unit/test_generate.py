"""The generated contract: the committed iris contract is exactly what training writes, and the template
marks every schema the generator fills in."""

from contract.generate import load_template, model_schema_names
from contract.model_directory import CONTRACT_FILENAME
from tests.harness.server import REPO_ROOT
from tests.support.commands import run_training



def test_the_iris_contract_is_the_generated_one(tmp_path):
    """contract/openapi.json is what training writes for the default model: regenerate, never hand-edit.

    Trained in a fresh process: pickle's output (so the SHA-256 the examples
    quote) can depend on what the process unpickled before, such as a model
    with text labels."""
    assert run_training("--out", str(tmp_path)).returncode == 0
    committed = (REPO_ROOT / "contract" / "openapi.json").read_text()
    assert (tmp_path / CONTRACT_FILENAME).read_text() == committed, (
        "contract/openapi.json is stale: `python -m training --out /tmp/iris && "
        "cp /tmp/iris/openapi.json contract/openapi.json`")


def test_template_marks_every_generated_schema():
    assert model_schema_names(load_template()) == [
        "Row", "NamedRow", "Label", "Value", "ClassName", "Probability", "Probabilities", "Prediction",
        "SeedResponse", "ManifestClasses"]
