"""Malicious model files: pickles that run code when loaded, each leaving a marker file if it ran.

Each payload is a real attack, not a stand-in: ``joblib.load`` runs it (the
tests check that the marker then appears). The allow-list unpickler must
refuse each before anything runs, naming the global it calls.
"""

import builtins
import importlib
import os
import subprocess
import sys
from pathlib import Path

import joblib
import numpy as np
from sklearn.ensemble import RandomForestClassifier

MARKER_MODULE = "marker_written_on_import"


class _Calls:
    """Pickles as a call of ``function(*args)``: what unpickling it does."""

    def __init__(self, function, *args):
        self.function, self.args = function, args

    def __reduce__(self):
        return self.function, self.args


def payloads(marker: Path) -> dict[str, tuple[object, str]]:
    """name -> (the object to pickle, the global the refusal must name)."""
    write = f"open({str(marker)!r}, 'w').close()"
    hidden = RandomForestClassifier(n_estimators=2, random_state=0).fit(np.eye(4), [0, 1, 0, 1])
    hidden.estimators_[1] = _Calls(builtins.exec, write)  # deep inside an allowed-looking forest
    return {
        "os.system": (_Calls(os.system, f"touch {marker}"), f"{os.system.__module__}.system"),
        "builtins.eval": (_Calls(builtins.eval, write), "builtins.eval"),
        "builtins.exec": (_Calls(builtins.exec, write), "builtins.exec"),
        "subprocess.Popen": (_Calls(subprocess.Popen, ["touch", str(marker)]), "subprocess.Popen"),
        "importlib.import_module": (_Calls(importlib.import_module, MARKER_MODULE),
                                    "importlib.import_module"),
        "hidden in a forest": (hidden, "builtins.exec"),
        # joblib pickles an object array (text class labels) as a pickle inside the file.
        "hidden in an object array": (np.array(["setosa", _Calls(builtins.exec, write)], dtype=object),
                                      "builtins.exec"),
    }


def write_marker_module(directory: Path, marker: Path) -> None:
    """A module that writes ``marker`` when imported, for the ``import_module`` payload to find
    (``directory`` must be on ``sys.path``, as it is for the process that loads the pickle)."""
    (directory / f"{MARKER_MODULE}.py").write_text(f"open({str(marker)!r}, 'w').close()\n")
    sys.modules.pop(MARKER_MODULE, None)


def dump(obj: object, path: Path) -> Path:
    joblib.dump(obj, path)
    return path
