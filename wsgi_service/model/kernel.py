"""The forest kernel: rows walked down flattened trees in native code, with scikit-learn's arithmetic.

Every node of every tree is one ``NODE`` record (children, feature,
threshold: 24 bytes, so a visit touches one cache line, not four arrays). A
split node goes left when the row's float32 value, promoted to float64, is
``<=`` its float64 threshold, as scikit-learn's ``Tree.apply`` does. A leaf
has ``left == LEAF`` and its ``feature`` field holds its row in ``values``,
the leaves' stored values (a classifier's class fractions, a regressor's
mean): values are kept for leaves only.

Two walks, the same sums: ``walk_rows`` takes one row through every tree
(best for the few rows an API mostly sees), ``walk_trees`` takes every row
through one tree before the next (a tree stays in cache: best for large
batches). Both add each tree's leaf values into a row's total in estimator
order, starting from zero, which is the order and the arithmetic of
scikit-learn's ``predict_proba`` and ``predict`` at ``n_jobs=1``; the caller
divides by the number of trees once.

numba compiles both on first use (about a second, once, in gunicorn's master
before it forks) and caches the machine code beside this module, or in
``NUMBA_CACHE_DIR`` (the container sets one), so a later process loads it
instead. Where no cache location is writable, each process compiles anew.
"""

import numpy as np
from numba import njit



def _native(function):
    """``function`` compiled by numba, its machine code cached when numba finds a writable place."""
    try:
        return njit(cache=True, nogil=True)(function)
    except RuntimeError:  # "cannot cache function ...: no locator available"
        return njit(nogil=True)(function)


LEAF = -1
# align=True pads the three int32 fields to 16 bytes so the float64 threshold is aligned: 24 bytes a node.
NODE = np.dtype([("left", np.int32), ("right", np.int32), ("feature", np.int32), ("threshold", np.float64)],
                align=True)


@_native
def _leaf_of(nodes, node, row):
    """The leaf that ``row`` reaches from ``node`` (a tree's root)."""
    while nodes[node].left != LEAF:
        split = nodes[node]
        node = split.left if row[split.feature] <= split.threshold else split.right
    return nodes[node].feature


@_native
def walk_rows(nodes, roots, values, rows, totals):
    """Add, row by row, each tree's leaf values (trees in order) into ``totals``."""
    for r in range(rows.shape[0]):
        row, total = rows[r], totals[r]
        for root in roots:
            leaf = values[_leaf_of(nodes, root, row)]
            for k in range(total.shape[0]):
                total[k] += leaf[k]


@_native
def walk_trees(nodes, roots, values, rows, totals):
    """Add, tree by tree, every row's leaf values into ``totals``: the same sums as ``walk_rows``."""
    for root in roots:
        for r in range(rows.shape[0]):
            leaf, total = values[_leaf_of(nodes, root, rows[r])], totals[r]
            for k in range(total.shape[0]):
                total[k] += leaf[k]
