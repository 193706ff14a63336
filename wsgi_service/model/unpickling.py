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

A decision tree's Cython ``Tree`` is never built from the pickle: a
``PickledTree`` keeps its arrays as data, rebuilt afterwards for the
installed scikit-learn (``legacy_trees``), so a forest pickled by any
release from 0.24 on opens.

Anything else (``posix.system``, ``builtins.eval``, ``subprocess.Popen``,
``importlib.import_module``, ``functools.partial``, ``builtins.getattr``,
...) raises ``UnsafePickle`` naming it, before any object of the pickle's
is built.
"""

import io
import pickle
import warnings

import sklearn
from joblib import numpy_pickle
from sklearn.exceptions import InconsistentVersionWarning

from wsgi_service.model.legacy_trees import PickledTree, rebuild_trees

ALLOWED = frozenset({
    ("joblib.numpy_pickle", "NumpyArrayWrapper"),
    ("numpy", "dtype"), ("numpy", "ndarray"),
    # Scalar types, pickled as classes where a parameter names one (OneHotEncoder's dtype=np.float64).
    *(("numpy", name) for name in ("bool_", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32",
                                   "uint64", "float16", "float32", "float64", "longdouble", "complex64",
                                   "complex128", "object_", "str_", "bytes_")),
    *((module, name) for module in ("numpy.core.multiarray", "numpy._core.multiarray")
      for name in ("_reconstruct", "scalar")),
    ("numpy.core.numeric", "_frombuffer"), ("numpy._core.numeric", "_frombuffer"),
    ("numpy.random._pickle", "__randomstate_ctor"), ("numpy.random._pickle", "__bit_generator_ctor"),
    ("numpy.random._pickle", "__generator_ctor"),
    ("numpy.random._mt19937", "MT19937"), ("numpy.random._pcg64", "PCG64"), ("numpy.random._philox", "Philox"),
    ("numpy.random._sfc64", "SFC64"), ("numpy.random.bit_generator", "SeedSequence"),
    ("numpy.random.bit_generator", "__pyx_unpickle_SeedSequence"),
    ("copyreg", "_reconstructor"), ("collections", "OrderedDict"),
    *(("builtins", name) for name in ("object", "list", "dict", "set", "frozenset", "tuple", "bytearray",
                                      "bytes", "str", "int", "float", "bool", "complex", "slice", "range")),
})
_SCIKIT_LEARN = "sklearn"
_TREE = ("sklearn.tree._tree", "Tree")
_CYTHON_UNPICKLER = "__pyx_unpickle_"


class UnsafePickle(pickle.UnpicklingError):
    """The pickle names a global outside the allow-list; ``what`` is ``module.name``."""

    def __init__(self, what: str):
        super().__init__(f"the pickle calls {what}")
        self.what = what


class _AllowListUnpickler(numpy_pickle.NumpyUnpickler):
    """joblib's unpickler (arrays framed as data), every global checked first.

    joblib reads an object array's nested pickle with this same ``find_class``.
    """

    def find_class(self, module: str, name: str):
        if (module, name) == _TREE:
            return PickledTree
        if (module, name) in ALLOWED:
            return super().find_class(module, name)
        if module == _SCIKIT_LEARN or module.startswith(_SCIKIT_LEARN + "."):
            found = super().find_class(module, name)
            defined_in = getattr(found, "__module__", "") or ""
            own = defined_in == _SCIKIT_LEARN or defined_in.startswith(_SCIKIT_LEARN + ".")
            if own and (isinstance(found, type) or name.startswith(_CYTHON_UNPICKLER)):
                return found
        raise UnsafePickle(f"{module}.{name}")


def load_estimator(data: bytes, name: str = "") -> tuple[object, str]:
    """The object pickled (by joblib) in ``data``, its trees rebuilt for the installed scikit-learn,
    and the scikit-learn version that pickled it. ``UnsafePickle`` when the pickle names a global
    outside the allow-list; whatever unpickling raises when the file is broken."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("ignore", DeprecationWarning)  # joblib's format from before 0.10, refused below
        warnings.simplefilter("always", InconsistentVersionWarning)  # each estimator of an older release
        with numpy_pickle._validate_fileobject_and_memmap(io.BytesIO(data), name, None) as (stream, _):
            if isinstance(stream, str):  # that format keeps arrays in companion files
                raise pickle.UnpicklingError("the file is in joblib's format from before 0.10: re-save it")
            model = _AllowListUnpickler(name, stream, ensure_native_byte_order=True).load()
    older = [warning.message for warning in caught if isinstance(warning.message, InconsistentVersionWarning)]
    pickled_with = older[0].original_sklearn_version if older else sklearn.__version__
    rebuild_trees(model, pickled_with)
    return model, pickled_with
