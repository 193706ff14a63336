"""The forest kernel: rows walked down flattened trees in native code, with scikit-learn's arithmetic.

Every node of every tree is one ``NODE`` record (children, feature,
threshold: 24 bytes, so a visit touches one cache line, not four arrays). A
split node goes left when the row's float32 value, promoted to float64, is
``<=`` its float64 threshold, as scikit-learn's ``Tree.apply`` does. A leaf
has ``left == LEAF`` and its ``feature`` field holds its row in ``values``,
the leaves' stored values (a classifier's class fractions, a regressor's
mean): values are kept for leaves only. Indexes are unsigned, which spares
every array access numba's check for a negative index (a third of the time
of a walk, measured).

``walk`` takes every row through one tree before the next, so that tree
stays in cache, and adds each tree's leaf values into a row's total: trees
in estimator order, starting from zero, which is the order and the
arithmetic of scikit-learn's ``predict_proba`` and ``predict`` at
``n_jobs=1``. The caller divides by the number of trees once. (Taking one
row through every tree instead gives the same sums; measured, it is never
faster, and up to five times slower on large forests.)

``outside`` says whether any value of a batch lies beyond its feature's
bounds: the drift check every request makes, in half a microsecond for a
single row where numpy's comparisons take ten times that.

numba compiles each on first use (about a second, once, in gunicorn's master
before it forks) and caches the machine code beside this module, or in
``NUMBA_CACHE_DIR`` (the container sets one), so a later process loads it
instead. Where no cache location is writable, each process compiles anew.
"""

import numpy as np
from numba import njit

INDEX = np.uint32
LEAF = np.iinfo(INDEX).max
# align=True pads the three index fields to 16 bytes so the float64 threshold is aligned: 24 bytes a node.
NODE = np.dtype([("left", INDEX), ("right", INDEX), ("feature", INDEX), ("threshold", np.float64)], align=True)


def _native(function):
    """``function`` compiled by numba, its machine code cached when numba finds a writable place."""
    try:
        return njit(cache=True, nogil=True)(function)
    except RuntimeError:  # "cannot cache function ...: no locator available"
        return njit(nogil=True)(function)


@_native
def walk(nodes, roots, values, rows, totals):
    """Add, tree by tree, every row's leaf values into ``totals`` (rows: float32, C order)."""
    for tree in range(roots.shape[0]):
        root = roots[tree]
        for row in range(rows.shape[0]):
            node = root
            while nodes[node].left != LEAF:
                split = nodes[node]
                node = split.left if rows[row, split.feature] <= split.threshold else split.right
            leaf = nodes[node].feature
            for k in range(values.shape[1]):
                totals[row, k] += values[leaf, k]


@_native
def outside(rows, low, high):
    """Whether any row's value lies below ``low`` or above ``high`` of its feature (rows: float64)."""
    for row in range(rows.shape[0]):
        for feature in range(rows.shape[1]):
            value = rows[row, feature]
            if value < low[feature] or value > high[feature]:
                return True
    return False
