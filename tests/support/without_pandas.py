"""A Python process in which pandas cannot be imported, as where it is not installed.

pandas is optional (the ``dataframe`` extra), and the project's own
environment has it, for the tests that fit DataFrame pipelines. A
``sitecustomize`` module on ``PYTHONPATH`` runs at every interpreter's start,
before any other import: it sets ``sys.modules["pandas"] = None``, so
``import pandas`` fails (scikit-learn then runs as without it) and
``importlib.util.find_spec("pandas")`` answers None. gunicorn's master and
workers, and ``python -m training``, each start with it.
"""

import os
from pathlib import Path

SITECUSTOMIZE = '''import sys

sys.modules["pandas"] = None  # tests.support.without_pandas: as if pandas were not installed
'''


def without_pandas_env(directory: Path) -> dict[str, str]:
    """The environment variables that start a Python without pandas; writes ``directory/sitecustomize.py``."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "sitecustomize.py").write_text(SITECUSTOMIZE)
    return {"PYTHONPATH": os.pathsep.join(filter(None, [str(directory), os.environ.get("PYTHONPATH")]))}
