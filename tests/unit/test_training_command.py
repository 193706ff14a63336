"""``python -m training`` and its ``import`` subcommand, parsed in process: each one's help, and a bad
argument refused in one line (after the usage) with exit status 2. (As typed, in processes of their
own: tests/live/test_commands.py.)"""

import json
import subprocess
import sys

import pytest

from contract.model_directory import MANIFEST_FILENAME, MODEL_FILENAME
from tests.harness.server import REPO_ROOT
from training import importing
from training.__main__ import main


def exit_of(argv: list[str]) -> int:
    with pytest.raises(SystemExit) as exited:
        main(argv)
    return exited.value.code


def test_the_help_lists_the_training_options_and_the_import_command(capsys):
    assert exit_of(["--help"]) == 0
    shown = capsys.readouterr().out
    assert shown.startswith("usage: python -m training ")
    assert all(option in shown for option in ("--csv", "--target", "--categorical", "--if-missing"))
    assert "import              package a model you fitted yourself" in shown


def test_the_import_help_is_its_own(capsys):
    assert exit_of(["import", "--help"]) == 0
    shown = capsys.readouterr().out
    assert shown.startswith("usage: python -m training import ")
    assert importing.__doc__.splitlines()[0] in shown
    assert all(option in shown for option in ("MODEL_FILE", "--sample", "--class-names", "--features"))
    assert "--csv" not in shown


@pytest.mark.parametrize("argv, line", [
    (["import"], "python -m training import: error: the following arguments are required: MODEL_FILE"),
    (["import", "rf.joblib", "--bogus"], "python -m training import: error: unrecognized arguments: --bogus"),
    (["import", "rf.joblib", "--csv", "a.csv"],
     "python -m training import: error: unrecognized arguments: --csv a.csv"),
    (["--seed", "3", "import", "rf.joblib"],
     "python -m training import: error: --seed is an option of training, not of import"),
    (["import", "rf.joblib", "--target", "species"],
     "python -m training import: error: --target names a column of --sample: give --sample too"),
    (["import", "rf.joblib", "--class-names", "setosa"],
     "python -m training import: error: --class-names takes LABEL=NAME pairs separated by commas"),
    (["bogus"], "python -m training: error: argument command: invalid choice: 'bogus' (choose from 'import')"),
    (["--csv", "a.csv"], "python -m training: error: --csv needs --target COLUMN: the column to predict"),
    (["--n-estimators", "many"], "python -m training: error: argument --n-estimators: invalid int value: 'many'"),
], ids=["import-without-file", "import-unknown-option", "import-training-option-after", "training-option-before",
        "import-target-without-sample", "import-bad-class-names", "unknown-command", "csv-without-target",
        "not-a-number"])
def test_a_bad_argument_is_one_line_after_the_usage_and_exit_2(capsys, argv, line):
    assert exit_of(argv) == 2
    told = capsys.readouterr()
    assert told.out == ""
    assert told.err.startswith("usage: ") and told.err.splitlines()[-1] == line
    assert "Traceback" not in told.err


def test_options_before_import_are_the_imports(model_dir, tmp_path, capsys):
    """--name, --version, --out and --target mean the same to both commands: given before
    `import`, they are not lost to its defaults."""
    out = tmp_path / "flowers"
    assert main(["--name", "flowers", "--version", "2.0.0", "--out", str(out),
                 "import", str(model_dir / MODEL_FILENAME)]) == 0
    manifest = json.loads((out / MANIFEST_FILENAME).read_text())
    assert (manifest["name"], manifest["version"]) == ("flowers", "2.0.0")
    assert capsys.readouterr().out.startswith(f"{out}: flowers 2.0.0 (classification, 4 features")


def test_training_parses_its_command_line_without_the_service():
    """The Docker build's first stage trains with only contract/ and training/ present: the
    command line, its help included, imports nothing of wsgi_service until an import runs."""
    script = ("import runpy, sys\n"
              "sys.modules['wsgi_service'] = None  # as if absent: importing it raises ImportError\n"
              "sys.argv = ['training', '--help']\n"
              "runpy.run_module('training', run_name='__main__')\n")
    helped = subprocess.run([sys.executable, "-c", script], cwd=REPO_ROOT, capture_output=True, text=True, timeout=60)
    assert helped.returncode == 0, helped.stderr
    assert "--csv" in helped.stdout and "import" in helped.stdout
