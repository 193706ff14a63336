"""Unpickle a model file admitting only an allow-list of globals, refusing anything else before it runs.

A joblib file is a pickle, and a pickle names the functions it calls: on
its own it can run ``os.system`` the moment it is loaded, and a SHA-256 that
matches the manifest proves only that the file is the one that was packaged,
not that it is safe to open. Here every global the pickle names is checked
before it is looked up, so nothing outside the list is ever called:

- scikit-learn's classes (defined in a ``sklearn`` module, estimators and
  the helpers they pickle: trees, losses, binners) and the unpicklers Cython
  generates for them; never a function, nor a class another module defines
  that a scikit-learn module imported;
- numpy's array, dtype and scalar reconstruction, its scalar types, and its
  random generators' constructors (an estimator's ``random_state`` may hold one);
- joblib's array framing (``NumpyArrayWrapper``: arrays are read as data;
  object arrays, such as text class labels, through this same check);
- the builtins that rebuild plain containers.

What this takes from joblib, numpy and scikit-learn that they keep private
(the reading machinery, the reconstruction functions, the tree's name) is in
``private_joblib``, ``private_numpy`` and ``private_sklearn``, each checked
against the installed release by a test of its own.

A decision tree's Cython ``Tree`` is never built from the pickle: a
``PickledTree`` keeps its arrays as data, rebuilt afterwards for the
installed scikit-learn (``legacy_trees``), so a forest pickled by any
release from 0.24 on opens.

Anything else (``posix.system``, ``builtins.eval``, ``subprocess.Popen``,
``importlib.import_module``, ``functools.partial``, ``builtins.getattr``,
...) raises ``UnsafePickle`` naming it, before any object of the pickle's
is built.
"""

import pickle
import warnings

import sklearn
from sklearn.exceptions import InconsistentVersionWarning

from wsgi_service.model.legacy_trees import PickledTree, rebuild_trees
from wsgi_service.model.private_joblib import ARRAY_WRAPPER, load_checked
from wsgi_service.model.private_numpy import NUMPY_GLOBALS
from wsgi_service.model.private_sklearn import CYTHON_UNPICKLER, TREE_GLOBAL

ALLOWED = frozenset({
    ARRAY_WRAPPER, *NUMPY_GLOBALS,
    ("copyreg", "_reconstructor"), ("collections", "OrderedDict"),
    *(("builtins", name) for name in ("object", "list", "dict", "set", "frozenset", "tuple", "bytearray",
                                      "bytes", "str", "int", "float", "bool", "complex", "slice", "range")),
})
_SCIKIT_LEARN = "sklearn"


class UnsafePickle(pickle.UnpicklingError):
    """The pickle names a global outside the allow-list; ``what`` is ``module.name``."""

    def __init__(self, what: str):
        super().__init__(f"the pickle calls {what}")
        self.what = what


def _allowed(module: str, name: str, resolve):
    """What the pickle may use for ``module.name`` (``resolve`` is joblib's lookup), or ``UnsafePickle``."""
    if (module, name) == TREE_GLOBAL:
        return PickledTree
    if (module, name) in ALLOWED:
        return resolve(module, name)
    if module == _SCIKIT_LEARN or module.startswith(_SCIKIT_LEARN + "."):
        found = resolve(module, name)
        defined_in = getattr(found, "__module__", "") or ""
        own = defined_in == _SCIKIT_LEARN or defined_in.startswith(_SCIKIT_LEARN + ".")
        if own and (isinstance(found, type) or name.startswith(CYTHON_UNPICKLER)):
            return found
    raise UnsafePickle(f"{module}.{name}")


def load_estimator(data: bytes, name: str = "") -> tuple[object, str]:
    """The object pickled (by joblib) in ``data``, its trees rebuilt for the installed scikit-learn,
    and the scikit-learn version that pickled it. ``UnsafePickle`` when the pickle names a global
    outside the allow-list; whatever unpickling raises when the file is broken."""
    with warnings.catch_warnings(record=True) as caught:
        # joblib's format from before 0.10 (refused), and numpy 1.x's names (numpy.core.*) in old pickles.
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("always", InconsistentVersionWarning)  # each estimator of an older release
        model = load_checked(data, name, _allowed)
    older = [warning.message for warning in caught if isinstance(warning.message, InconsistentVersionWarning)]
    pickled_with = older[0].original_sklearn_version if older else sklearn.__version__
    rebuild_trees(model, pickled_with)
    return model, pickled_with
