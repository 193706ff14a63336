"""joblib's file format read through its private machinery, in one place.

joblib has no public API for reading a file with a restricted unpickler:
``joblib.load`` takes a path and calls anything the pickle names. What it
does inside is used here instead: ``numpy_pickle._validate_fileobject_and_memmap``
undoes the compression its magic bytes name, and a subclass of
``numpy_pickle.NumpyUnpickler`` reads arrays as the data joblib framed
(``NumpyArrayWrapper``) while every global goes through the caller's check.
An object array (text class labels) is a pickle nested in the file; from
joblib 1.6 on joblib reads it with the outer unpickler's ``find_class`` (an
older joblib unpickles it unchecked, so ``setup.cfg`` admits none).

``tests/unit/test_private_joblib.py`` checks each of these against the
installed joblib: the constructor's signature, the decompression, the
framing's global, and that an object array's globals reach the check.
"""

import io
import pickle
from collections.abc import Callable

from joblib import numpy_pickle

__all__ = ["ARRAY_WRAPPER", "load_checked"]

# The global joblib's pickles name for every array it frames (its bytes follow, as data).
ARRAY_WRAPPER = ("joblib.numpy_pickle", "NumpyArrayWrapper")

# check(module, name, resolve): the object the pickle may use for module.name, or an exception
# raised; resolve(module, name) is joblib's own lookup.
Check = Callable[[str, str, Callable[[str, str], object]], object]


class _CheckedUnpickler(numpy_pickle.NumpyUnpickler):
    """joblib's unpickler (arrays read as data), every global the pickle names handed to ``check``."""

    def __init__(self, name: str, stream, check: Check):
        super().__init__(name, stream, ensure_native_byte_order=True)
        self._check = check

    def find_class(self, module: str, name: str):
        return self._check(module, name, super().find_class)


def load_checked(data: bytes, name: str, check: Check) -> object:
    """The object joblib pickled in ``data`` (compressed or not), each global it names resolved by
    ``check``; ``pickle.UnpicklingError`` for joblib's format from before 0.10, which keeps arrays
    in companion files. joblib warns of that format with a ``DeprecationWarning``."""
    with numpy_pickle._validate_fileobject_and_memmap(io.BytesIO(data), name, None) as (stream, _):
        if isinstance(stream, str):  # that format: the caller's file name handed back, not a stream
            raise pickle.UnpicklingError("the file is in joblib's format from before 0.10: re-save it")
        return _CheckedUnpickler(name, stream, check).load()
