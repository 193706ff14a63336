"""The numpy globals the allow-list unpickler admits (``wsgi_service.model.private_numpy``), checked
against the installed numpy: every global its own pickles name is listed, and every listed one
still resolves (an old pickle names it). A numpy that changes either fails here, naming it."""

import importlib
import warnings

import numpy as np
import pytest

from tests.support.fences import changed, globals_named
from wsgi_service.model.private_numpy import NUMPY_GLOBALS

SCALAR_TYPES = sorted(name for module, name in NUMPY_GLOBALS if module == "numpy" and name not in {"dtype", "ndarray"})


def what_an_estimator_pickles() -> dict[str, object]:
    """Every kind of numpy object a fitted estimator holds: arrays (numbers, words, objects,
    records, strided), dtypes, scalars and scalar types, random generators and seeds."""
    numbers = np.arange(12.0).reshape(3, 4)
    return {
        "arrays": [numbers, numbers[:, ::2], np.array(["setosa", "virginica"]), np.array([b"x"]),
                   np.array(["a", 1], dtype=object), np.zeros(2, dtype=[("left", "<i8"), ("threshold", "<f8")]),
                   np.float32(1.5).reshape(())],
        "dtypes": [np.dtype("f8"), np.dtype([("left", "<i8"), ("threshold", "<f8")]), np.dtype("U7")],
        "scalars": [getattr(np, name)(1) for name in SCALAR_TYPES if name not in {"object_"}],
        "scalar types": [getattr(np, name) for name in SCALAR_TYPES],
        "random": [np.random.RandomState(0), np.random.default_rng(0), np.random.SeedSequence(0),
                   *(np.random.Generator(getattr(np.random, bits)(0))
                     for bits in ("MT19937", "PCG64", "Philox", "SFC64"))],
    }


@pytest.mark.parametrize("kind", list(what_an_estimator_pickles()))
def test_every_global_numpy_pickles_is_listed(kind):
    named = {(module, name) for module, name in globals_named(what_an_estimator_pickles()[kind])
             if module.split(".")[0] == "numpy"}
    unlisted = sorted(f"{module}.{name}" for module, name in named - NUMPY_GLOBALS)
    assert not unlisted, changed("numpy's pickle format", "numpy", np.__version__,
                                 f"its {kind} now pickle as {', '.join(unlisted)}, which the allow-list refuses")


@pytest.mark.parametrize("module, name", sorted(NUMPY_GLOBALS), ids=map(".".join, sorted(NUMPY_GLOBALS)))
def test_every_listed_global_resolves(module, name):
    """Old pickles name these (numpy 1.x: numpy.core.*); the loader hides numpy's DeprecationWarning for them."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        try:
            found = getattr(importlib.import_module(module), name)
        except (ImportError, AttributeError) as error:
            pytest.fail(changed(f"{module}.{name}", "numpy", np.__version__,
                                f"{error}: a pickle naming it no longer opens"))
    assert callable(found)
