"""The training commands as a user types them, each in a process of its own: what they print,
their exit status, what they write. (In-process tests of the same code: tests/unit.)"""

import json

import joblib
from sklearn.datasets import load_iris
from sklearn.ensemble import RandomForestClassifier

from contract.model_directory import CONTRACT_FILENAME, MANIFEST_FILENAME, MODEL_FILENAME
from tests.harness.server import REPO_ROOT
from tests.support.commands import run_training
from tests.support.malicious import dump, payloads
from wsgi_service.operations.api_keys import ENV_API_KEYS, ENV_API_KEYS_FILE
from wsgi_service.operations.settings import (
    ENV_ALLOW_SKLEARN_MISMATCH, ENV_COMPILE_FOREST, ENV_DRAIN_SECONDS, ENV_LOG_LEVEL, ENV_MAX_BATCH_ROWS,
    ENV_MAX_BODY_BYTES, ENV_MODEL_DIR, ENV_PORT, ENV_WEB_CONCURRENCY,
)

IRIS = load_iris()
HEADER = "a,b,kind\n"
# Every server setting the service would refuse at start: none is the training commands' business.
BAD_SERVER_SETTINGS = {
    ENV_MAX_BODY_BYTES: "abc", ENV_MAX_BATCH_ROWS: "0", ENV_API_KEYS_FILE: "/nonexistent/keys",
    ENV_API_KEYS: "short", ENV_WEB_CONCURRENCY: "x", ENV_LOG_LEVEL: "loud", ENV_PORT: "-1",
    ENV_DRAIN_SECONDS: "abc", ENV_COMPILE_FOREST: "maybe", ENV_MODEL_DIR: "/nonexistent/model",
}


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


def test_the_command_line_refuses_in_one_line(tmp_path):
    marker = tmp_path / "ran"
    payload, called = payloads(marker)["os.system"]
    path = dump(payload, tmp_path / "evil.joblib")
    refused = run_training("import", str(path), "--out", str(tmp_path / "out"))
    assert refused.returncode == 2
    assert refused.stderr == f"error: refusing {path}: the pickle calls {called}\n"
    assert not marker.exists() and not (tmp_path / "out").exists()


def test_the_command_line_imports_what_the_service_serves(tmp_path):
    notebook_forest = tmp_path / "rf_clf.joblib"
    joblib.dump(RandomForestClassifier(n_estimators=10, n_jobs=-1, random_state=1).fit(IRIS.data, IRIS.target),
                notebook_forest)
    sample = tmp_path / "flowers.csv"
    sample.write_text("a,b,c,d,species\n" + "".join(",".join(map(str, [*row, label])) + "\n"
                                                   for row, label in zip(IRIS.data.tolist(), IRIS.target.tolist())))
    done = run_training("import", str(notebook_forest), "--out", str(tmp_path / "m"), "--sample", str(sample),
                        "--target", "species", "--class-names", "0=setosa,1=versicolor,2=virginica")
    assert done.returncode == 0, done.stderr
    assert "pickled by scikit-learn" in done.stdout and "test_accuracy=" in done.stdout
    assert json.loads((tmp_path / "m" / MANIFEST_FILENAME).read_text())["name"] == "rf_clf"  # the file's stem


def test_the_import_command_has_its_own_help_and_refuses_a_bad_argument_in_one_line(tmp_path):
    helped = run_training("import", "--help")
    assert helped.returncode == 0, helped.stderr
    assert helped.stdout.startswith("usage: python -m training import ") and "MODEL_FILE" in helped.stdout
    refused = run_training("import", str(tmp_path / "rf_clf.joblib"), "--sampel", "flowers.csv")
    assert refused.returncode == 2
    assert refused.stderr.splitlines()[-1] == ("python -m training import: error: unrecognized arguments: "
                                               "--sampel flowers.csv")
    assert "Traceback" not in refused.stderr and not (tmp_path / "rf_clf").exists()


def test_command_line_trains_then_skips_when_asked(tmp_path):
    out = tmp_path / "iris"
    arguments = ["--out", str(out), "--n-estimators", "10"]
    trained = run_training(*arguments)
    assert trained.returncode == 0 and "test_accuracy=" in trained.stdout and (out / MODEL_FILENAME).is_file()
    skipped = run_training(*arguments, "--if-missing")
    assert skipped.returncode == 0 and "not retrained" in skipped.stdout


def test_command_line_says_what_to_fix_in_one_line(tmp_path):
    path = tmp_path / "data.csv"
    path.write_text(HEADER + "1,red,x\n2,blue,y\n")
    refused = run_training("--csv", str(path), "--target", "kind", "--out", str(tmp_path / "m"))
    assert refused.returncode == 2
    assert refused.stderr.startswith("error: ") and refused.stderr.count("\n") == 1
    assert "Traceback" not in refused.stderr and not (tmp_path / "m").exists()


def test_training_and_importing_ignore_the_server_settings(tmp_path):
    """Each command reads only what it uses: a CI job or a shell that also serves holds server
    settings, and no bad one of them stops a training or an import."""
    trained = run_training("--out", str(tmp_path / "iris"), "--n-estimators", "5", env=BAD_SERVER_SETTINGS)
    assert trained.returncode == 0 and "Traceback" not in trained.stderr, trained.stderr
    imported = run_training("import", str(tmp_path / "iris" / MODEL_FILENAME), "--out", str(tmp_path / "m"),
                            env=BAD_SERVER_SETTINGS)
    assert imported.returncode == 0 and "Traceback" not in imported.stderr, imported.stderr
    assert (tmp_path / "m" / MANIFEST_FILENAME).is_file()


def test_the_one_setting_an_import_reads_is_refused_in_one_line(tmp_path):
    trained = run_training("--out", str(tmp_path / "iris"), "--n-estimators", "5")
    assert trained.returncode == 0, trained.stderr
    refused = run_training("import", str(tmp_path / "iris" / MODEL_FILENAME), "--out", str(tmp_path / "m"),
                           env={ENV_ALLOW_SKLEARN_MISMATCH: "maybe"})
    assert refused.returncode == 2
    assert refused.stderr == f"error: {ENV_ALLOW_SKLEARN_MISMATCH} must be 1/true/yes or 0/false/no, got 'maybe'\n"
    assert not (tmp_path / "m").exists()
