"""The globals numpy's pickles name, in one place: what the allow-list unpickler admits of numpy.

An array, a dtype, a scalar or a random generator is pickled as a call of
numpy's own reconstruction functions, most of them private (``_reconstruct``,
``_frombuffer``, ``numpy.random._pickle``'s constructors) and living in
modules numpy renames: 2.0 moved ``numpy.core`` to ``numpy._core`` and keeps
the old names only as aliases, which a forest pickled under numpy 1.x still
names. ``tests/unit/test_private_numpy.py`` checks, against the installed
numpy, that every global its own pickles name is listed here and that every
name listed still resolves, so a numpy that changes either fails there,
naming the global and the version, not in a model that no longer opens.
"""

__all__ = ["NUMPY_GLOBALS"]

# Old and new homes of the array reconstruction functions: numpy 1.x pickles name the first.
_MULTIARRAY = ("numpy.core.multiarray", "numpy._core.multiarray")
_NUMERIC = ("numpy.core.numeric", "numpy._core.numeric")

NUMPY_GLOBALS = frozenset({
    ("numpy", "dtype"), ("numpy", "ndarray"),
    # Scalar types, pickled as classes where a parameter names one (OneHotEncoder's dtype=np.float64);
    # numpy 2 pickles np.bool_ as numpy.bool.
    *(("numpy", name) for name in ("bool", "bool_", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32",
                                   "uint64", "float16", "float32", "float64", "longdouble", "complex64",
                                   "complex128", "object_", "str_", "bytes_")),
    *((module, name) for module in _MULTIARRAY for name in ("_reconstruct", "scalar")),
    *((module, "_frombuffer") for module in _NUMERIC),
    # An estimator's random_state may hold a generator: its constructors, bit generators and seed.
    ("numpy.random._pickle", "__randomstate_ctor"), ("numpy.random._pickle", "__bit_generator_ctor"),
    ("numpy.random._pickle", "__generator_ctor"),
    ("numpy.random._mt19937", "MT19937"), ("numpy.random._pcg64", "PCG64"), ("numpy.random._philox", "Philox"),
    ("numpy.random._sfc64", "SFC64"), ("numpy.random.bit_generator", "SeedSequence"),
    ("numpy.random.bit_generator", "__pyx_unpickle_SeedSequence"),
})
