"""A fitted random forest compiled for serving: its trees as node records, walked by the native kernel.

scikit-learn spends milliseconds per ``predict_proba`` call on input checks
and its parallel machinery before any tree is walked, and at ``n_jobs`` other
than 1 it adds the trees from several threads in an order that changes from
call to call. Here the trees are flattened once, at load, into the kernel's
node records (``kernel``), and each call walks them in native code, in one
thread, blocks of rows through groups of trees.

Exactness is kept by doing scikit-learn's arithmetic in scikit-learn's
order (the row rounded to float32 and compared ``<=`` with the float64
threshold, stored as the largest float32 not above it, which answers the
same for every float32 value; leaf values as stored, trees added in estimator order, the sum
divided by their count), so the answers are bitwise those of
``predict_proba`` and ``predict`` at ``n_jobs=1``. ``compile_forest`` proves
it at start on probe rows that cross every split (or a sample of them) by
the smallest float32 step; any difference and scikit-learn serves instead.
"""

import numpy as np
import sklearn
from sklearn.pipeline import Pipeline

from wsgi_service.model.kernel import INDEX, LEAF, NODE, depth_first, walk
from wsgi_service.model.private_sklearn import TREE_LEAF, ForestClassifier, ForestRegressor

PROBE_MAX_ROWS = 2048
# Node indexes are the kernel's unsigned 32 bits, one value kept for LEAF.
MAX_NODES = int(LEAF) - 1


class CompiledForest:
    """The trees of a single-output forest (classifier or regressor) as one array of node records.

    ``nodes`` holds every tree's nodes, tree after tree, each tree depth-first
    (``roots``: each tree's first); a split's left child is the next record,
    its ``right`` an index into ``nodes``; a leaf's ``feature`` is ``LEAF``
    and its ``right`` its row in ``values``, the leaves' stored values.
    """

    def __init__(self, estimator: ForestClassifier | ForestRegressor):
        trees = [tree.tree_ for tree in estimator.estimators_]
        node_counts = np.array([tree.node_count for tree in trees])
        leaf_counts = np.array([(tree.children_left == TREE_LEAF).sum() for tree in trees])
        if node_counts.sum() > MAX_NODES:
            raise ValueError(f"{node_counts.sum()} nodes is more than the kernel indexes ({MAX_NODES})")
        node_starts = np.concatenate([[0], np.cumsum(node_counts)[:-1]])
        leaf_starts = np.concatenate([[0], np.cumsum(leaf_counts)[:-1]])
        self.nodes = np.empty(node_counts.sum(), dtype=NODE)
        self.values = np.empty((leaf_counts.sum(), trees[0].value.shape[2]))
        for tree, node_start, leaf_start in zip(trees, node_starts, leaf_starts):
            _lay_out(tree, self.nodes[node_start:node_start + tree.node_count], node_start,
                     self.values, leaf_start)
        self.roots = node_starts.astype(INDEX)
        self.n_features = estimator.n_features_in_

    @staticmethod
    def supports(estimator: object) -> bool:
        """Forests (random forest, extra trees) with one output whose averaging
        scikit-learn's own classes do; nothing else."""
        averages_as_scikit_learn = (
            (isinstance(estimator, ForestClassifier)
             and type(estimator).predict_proba is ForestClassifier.predict_proba)
            or (isinstance(estimator, ForestRegressor) and type(estimator).predict is ForestRegressor.predict))
        return (averages_as_scikit_learn and getattr(estimator, "n_outputs_", None) == 1
                and len(getattr(estimator, "estimators_", ())) > 0)

    def evaluate(self, rows: np.ndarray) -> np.ndarray:
        """Per-class probabilities (a classifier) or predictions as one column (a regressor)."""
        rows32 = np.ascontiguousarray(rows, dtype=np.float32)
        totals = np.zeros((len(rows32), self.values.shape[1]))
        walk(self.nodes, self.roots, self.values, rows32, totals)
        totals /= len(self.roots)
        return totals


def _lay_out(tree, block: np.ndarray, node_start: int, values: np.ndarray, leaf_start: int) -> None:
    """One scikit-learn tree written depth-first into ``block`` (its nodes' records, the first at
    ``node_start`` of the forest) and its leaves' values into ``values`` from ``leaf_start``."""
    position = depth_first(tree.children_left, tree.children_right)
    order = np.empty_like(position)
    order[position] = np.arange(len(position))  # the scikit-learn node at each record
    is_leaf = tree.children_left[order] == TREE_LEAF
    leaf_rows = leaf_start + np.cumsum(is_leaf) - 1
    right = np.where(is_leaf, 0, position[tree.children_right[order]]) + node_start  # int64: no overflow
    block["right"] = np.where(is_leaf, leaf_rows, right)
    block["feature"] = np.where(is_leaf, LEAF, tree.feature[order])
    block["threshold"] = float32_at_or_below(tree.threshold[order])
    values[leaf_start:leaf_start + is_leaf.sum()] = tree.value[order[is_leaf], 0, :]


def float32_at_or_below(thresholds: np.ndarray) -> np.ndarray:
    """The largest float32 not above each float64 threshold: a float32 row's value is ``<=`` it
    exactly when it is ``<=`` the threshold (beyond float32's range: its largest finite value, or -inf)."""
    with np.errstate(over="ignore"):
        rounded = thresholds.astype(np.float32)
    return np.where(rounded <= thresholds, rounded, np.nextafter(rounded, np.float32(-np.inf)))


def compile_forest(estimator: object) -> tuple[CompiledForest | None, str]:
    """The compiled forest, proven equal to scikit-learn at ``n_jobs=1`` on probe rows; or None and why not.

    The kernel is checked on rows that sit at and just above every split
    threshold (a sample of them on large forests): any difference at all
    and scikit-learn serves.
    """
    if not CompiledForest.supports(estimator):
        return None, f"{type(estimator).__name__} is not a single-output random forest"
    try:
        forest = CompiledForest(estimator)
    except ValueError as error:
        return None, str(error)
    rows32 = probe_rows(forest)
    if not np.array_equal(forest.evaluate(rows32), single_threaded_answers(estimator, rows32)):
        return None, f"the compiled forest disagrees with scikit-learn {sklearn.__version__} on probe rows"
    return forest, (f"compiled {len(forest.roots)} trees, {len(forest.nodes)} nodes; "
                    f"equal to scikit-learn on {len(rows32)} probe rows")


def single_threaded_answers(estimator: object, rows: np.ndarray) -> np.ndarray:
    """scikit-learn's own answers, at ``n_jobs=1`` where the estimator (or a pipeline's last
    step) takes it: a classifier's per-class probabilities, or predictions as one column. With
    more threads a forest adds its trees in the order they finish, and the last bits change
    from call to call.

    scikit-learn's finiteness check is skipped: the rows passed the contract (finite, within
    float32), and the check sums the whole batch, which legitimate values near float32's limits
    overflow into inf - inf and a RuntimeWarning.
    """
    final = estimator[-1] if isinstance(estimator, Pipeline) else estimator  # a pipeline's forest
    n_jobs = getattr(final, "n_jobs", None)
    if n_jobs is not None:
        final.n_jobs = 1
    try:
        with sklearn.config_context(assume_finite=True):
            if hasattr(estimator, "predict_proba") and hasattr(estimator, "classes_"):
                return estimator.predict_proba(rows)
            return estimator.predict(rows).reshape(len(rows), 1)
    finally:
        if n_jobs is not None:
            final.n_jobs = n_jobs


def probe_rows(forest: CompiledForest, max_rows: int = PROBE_MAX_ROWS, seed: int = 0) -> np.ndarray:
    """Two rows per split, reaching it and landing on each side of it by the
    smallest possible margin: the float32 values just at or below and just
    above its threshold. A compiled split that differs from scikit-learn's by
    one float32 value changes the answer for one of them.

    Each row follows the path from its tree's root to the split: every other
    feature is set to a float32 value inside the interval the ancestors allow.
    Forests with more splits than ``max_rows / 2`` are sampled.
    """
    features, right = forest.nodes["feature"], forest.nodes["right"]
    thresholds = forest.nodes["threshold"].astype(np.float64)
    splits = np.flatnonzero(features != LEAF)
    if len(splits) == 0:  # every tree is a single leaf
        return np.zeros((1, forest.n_features), dtype=np.float32)
    parent = np.full(len(forest.nodes), -1, dtype=np.int64)
    parent[splits + 1] = splits  # the left child: the next record
    parent[right[splits]] = splits
    rows = []
    for node in np.random.default_rng(seed).permutation(splits)[:max_rows // 2]:
        low = np.full(forest.n_features, -np.inf)  # the path needs low < x <= high
        high = np.full(forest.n_features, np.inf)
        child, ancestor = node, parent[node]
        while ancestor >= 0:
            feature, threshold = features[ancestor], thresholds[ancestor]
            if child == ancestor + 1:
                high[feature] = min(high[feature], threshold)
            else:
                low[feature] = max(low[feature], threshold)
            child, ancestor = ancestor, parent[ancestor]
        row = _float32_inside(low, high)
        feature, threshold = features[node], thresholds[node]
        at_or_below = _float32_inside(np.array([-np.inf]), np.array([threshold]))[0]
        for value in (at_or_below, np.nextafter(at_or_below, np.float32(np.inf))):
            row[feature] = value
            rows.append(row.copy())
    return np.array(rows)


def _float32_inside(low: np.ndarray, high: np.ndarray) -> np.ndarray:
    """Per position, the largest float32 x with low < x <= high (or the smallest above low, or 0)."""
    with np.errstate(over="ignore"):  # a bound beyond float32's range rounds to inf, then steps back
        below_high = high.astype(np.float32)
        above_low = low.astype(np.float32)
    below_high = np.where(below_high <= high, below_high, np.nextafter(below_high, np.float32(-np.inf)))
    above_low = np.where(above_low > low, above_low, np.nextafter(above_low, np.float32(np.inf)))
    return np.where(np.isfinite(high), below_high, np.where(np.isfinite(low), above_low, np.float32(0)))
