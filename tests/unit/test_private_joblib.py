"""joblib's private reading machinery as the model package uses it (``wsgi_service.model.private_joblib``),
checked against the installed joblib: a joblib that changes it fails here, naming the API and the version."""

import inspect
import io
import pickle
import warnings
from fractions import Fraction

import joblib
import numpy as np
import pytest
from joblib import numpy_pickle

from tests.support.fences import changed
from wsgi_service.model.private_joblib import ARRAY_WRAPPER, load_checked


def joblib_changed(api: str, what: str) -> str:
    return changed(api, "joblib", joblib.__version__, what)


def dumped(obj: object, **options) -> bytes:
    buffer = io.BytesIO()
    joblib.dump(obj, buffer, **options)
    return buffer.getvalue()


def recorded_load(data: bytes) -> tuple[object, set[tuple[str, str]]]:
    asked = set()

    def check(module, name, resolve):
        asked.add((module, name))
        return resolve(module, name)

    return load_checked(data, "model.joblib", check), asked


def test_the_unpickler_takes_the_arguments_it_is_given():
    parameters = list(inspect.signature(numpy_pickle.NumpyUnpickler.__init__).parameters)
    assert parameters[:4] == ["self", "filename", "file_handle", "ensure_native_byte_order"], joblib_changed(
        "joblib.numpy_pickle.NumpyUnpickler", f"its constructor takes {parameters[1:]}")


@pytest.mark.parametrize("compress", [0, 3, ("xz", 1)], ids=["plain", "zlib", "xz"])
def test_a_file_reads_back_its_arrays_framed_as_data(compress):
    saved = {"thresholds": np.linspace(0.0, 1.0, 7), "classes": np.array(["setosa", "virginica"], dtype=object)}
    loaded, asked = recorded_load(dumped(saved, compress=compress))
    api = "joblib.numpy_pickle._validate_fileobject_and_memmap and NumpyUnpickler"
    assert loaded.keys() == saved.keys(), joblib_changed(api, f"a file of {sorted(saved)} reads as {loaded!r}")
    for key, array in saved.items():
        assert np.array_equal(loaded[key], array), joblib_changed(api, f"{key} reads back as {loaded[key]!r}")
    assert ARRAY_WRAPPER in asked, joblib_changed(
        ".".join(ARRAY_WRAPPER), f"arrays are framed as {sorted(asked)}, which the allow-list does not expect")


def test_an_object_arrays_nested_pickle_asks_the_same_check():
    """Text class labels are an object array, pickled inside the file: if joblib read that pickle
    with an unpickler of its own, every global in it would escape the allow-list."""
    _, asked = recorded_load(dumped(np.array([Fraction(1, 3)], dtype=object)))
    assert ("fractions", "Fraction") in asked, joblib_changed(
        "joblib.numpy_pickle.NumpyArrayWrapper.read_array",
        "an object array's nested pickle is no longer read with the caller's find_class")


def test_the_format_from_before_0_10_is_refused():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # joblib's word for that format
        try:
            load_checked(b"ZF0x10" + bytes(32), "old.pkl", lambda module, name, resolve: resolve(module, name))
        except Exception as error:  # whatever it is, the line below names it
            refused = error
        else:
            refused = None
    assert isinstance(refused, pickle.UnpicklingError) and "before 0.10" in str(refused), joblib_changed(
        "joblib.numpy_pickle._validate_fileobject_and_memmap",
        f"a file in its format from before 0.10 is no longer handed back as a name: {refused!r}")
