"""The forest kernel: rows walked down flattened trees in native code, with scikit-learn's arithmetic.

Every node of every tree is one 12-byte ``NODE`` record (right child,
feature, threshold), laid out depth-first: a split's left child is the next
record, so only the right one is stored, and four nodes share a cache line
where the float64 layout fitted two and a half. A split node goes left when
the row's float32 value is ``<=`` its float32 threshold: the float64
threshold scikit-learn compares with, rounded down to the largest float32 not
above it, which for a float32 value gives the same answer (``x <= t``
exactly when ``x <= round_down(t)``). A leaf has ``feature == LEAF`` and its
``right`` field holds its row in ``values``, the leaves' stored values (a
classifier's class fractions, a regressor's mean). Indexes are unsigned,
which spares every array access numba's check for a negative index.

``walk`` takes every row through one tree before the next, so that tree's
upper levels stay in cache, and adds each tree's leaf values into a row's
total: trees in estimator order, starting from zero, which is the order and
the arithmetic of scikit-learn's ``predict_proba`` and ``predict`` at
``n_jobs=1``; the caller divides by the number of trees once. A batch of
``BRANCH_FREE_FROM`` rows or more chooses each side by arithmetic instead of
a branch: half of a batch's comparisons go the unpredicted way, and each
misprediction discards the loads in flight; a few rows walk with branches,
which the predictor learns from the previous row and speculates down the
tree. (Measured and dropped: blocks of rows through groups of trees, and
4 to 32 rows walked in lockstep within a tree, were no faster than this on
a 2 M-node forest, and lockstep was slower: a deep tree's rows reach leaves
at very different depths.) ``walk`` takes any contiguous block of rows and
releases the GIL, so a caller may split a batch across threads.

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
NODE = np.dtype([("right", INDEX), ("feature", INDEX), ("threshold", np.float32)])
# Below this many rows a walk's branches are predicted well enough to pay (measured on a 2 M-node forest).
BRANCH_FREE_FROM = 32


def _native(function):
    """``function`` compiled by numba, its machine code cached when numba finds a writable place."""
    try:
        return njit(cache=True, nogil=True)(function)
    except RuntimeError:  # "cannot cache function ...: no locator available"
        return njit(nogil=True)(function)


@_native
def walk(nodes, roots, values, rows, totals):
    """Add, tree by tree, every row's leaf values into ``totals`` (rows: float32, C order)."""
    if rows.shape[0] >= BRANCH_FREE_FROM:
        _walk_without_branches(nodes, roots, values, rows, totals)
    else:
        _walk(nodes, roots, values, rows, totals)


@_native
def _walk(nodes, roots, values, rows, totals):
    """``walk``, each side taken by a branch. (Kept apart from ``_walk_without_branches``: one loop
    with a flag, or the side passed as a function, measured slower or uncacheable.)"""
    for tree in range(roots.shape[0]):
        root = roots[tree]
        for row in range(rows.shape[0]):
            node = root
            while nodes[node].feature != LEAF:
                split = nodes[node]
                node = split.right if rows[row, split.feature] > split.threshold else node + 1
            leaf = nodes[node].right
            for k in range(values.shape[1]):
                totals[row, k] += values[leaf, k]


@_native
def _walk_without_branches(nodes, roots, values, rows, totals):
    """``walk``, each side chosen by arithmetic: no misprediction discards the loads in flight."""
    for tree in range(roots.shape[0]):
        root = roots[tree]
        for row in range(rows.shape[0]):
            node = root
            while nodes[node].feature != LEAF:
                split = nodes[node]
                after = np.int64(node) + 1
                node = np.uint32(after + (np.int64(split.right) - after)
                                 * np.int64(rows[row, split.feature] > split.threshold))
            leaf = nodes[node].right
            for k in range(values.shape[1]):
                totals[row, k] += values[leaf, k]


@_native
def depth_first(left, right):
    """Each node's position in the tree's depth-first order, left subtree first (``left``/``right``:
    scikit-learn's children arrays, -1 at leaves)."""
    position = np.empty(left.shape[0], dtype=np.int64)
    stack = np.empty(left.shape[0], dtype=np.int64)
    stack[0], depth, next_position = 0, 1, 0
    while depth > 0:
        depth -= 1
        node = stack[depth]
        position[node] = next_position
        next_position += 1
        if left[node] >= 0:
            stack[depth], stack[depth + 1] = right[node], left[node]
            depth += 2
    return position


@_native
def outside(rows, low, high):
    """Whether any row's value lies below ``low`` or above ``high`` of its feature (rows: float64)."""
    for row in range(rows.shape[0]):
        for feature in range(rows.shape[1]):
            value = rows[row, feature]
            if value < low[feature] or value > high[feature]:
                return True
    return False
