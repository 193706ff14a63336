"""A fitted random forest compiled for serving: its trees as node records, walked by the native kernel.

scikit-learn spends milliseconds per ``predict_proba`` call on input checks
and its parallel machinery before any tree is walked, and at ``n_jobs`` other
than 1 it adds the trees from several threads in an order that changes from
call to call. Here the trees are flattened once, at load, into the kernel's
node records (``kernel``), and each call walks them in native code, in one
thread, one tree over every row before the next.

Exactness is kept by doing scikit-learn's arithmetic in scikit-learn's
order (the row rounded to float32 and compared ``<=`` with the float64
threshold, leaf values as stored, trees added in estimator order, the sum
divided by their count), so the answers are bitwise those of
``predict_proba`` and ``predict`` at ``n_jobs=1``. ``compile_forest`` proves
it at start on probe rows that cross every split (or a sample of them) by
the smallest float32 step; any difference and scikit-learn serves instead.
"""

import numpy as np
import sklearn
from sklearn.pipeline import Pipeline

from wsgi_service.model.kernel import INDEX, LEAF, NODE, walk
from wsgi_service.model.private_sklearn import TREE_LEAF, ForestClassifier, ForestRegressor

PROBE_MAX_ROWS = 2048
# Node indexes are the kernel's unsigned 32 bits, one value kept for LEAF.
MAX_NODES = int(LEAF) - 1


class CompiledForest:
    """The trees of a single-output forest (classifier or regressor) as one array of node records.

    ``nodes`` holds every tree's nodes, tree after tree (``roots``: each
    tree's first); a split's children are indexes into ``nodes``, a leaf's
    ``feature`` its row in ``values``, the leaves' stored values.
    """

    def __init__(self, estimator: ForestClassifier | ForestRegressor):
        trees = [tree.tree_ for tree in estimator.estimators_]
        node_counts = np.array([tree.node_count for tree in trees])
        leaf_masks = [tree.children_left == TREE_LEAF for tree in trees]
        leaf_counts = np.array([mask.sum() for mask in leaf_masks])
        if node_counts.sum() > MAX_NODES:
            raise ValueError(f"{node_counts.sum()} nodes is more than the kernel indexes ({MAX_NODES})")
        node_starts = np.concatenate([[0], np.cumsum(node_counts)[:-1]])
        leaf_starts = np.concatenate([[0], np.cumsum(leaf_counts)[:-1]])
        self.nodes = np.empty(node_counts.sum(), dtype=NODE)
        self.values = np.empty((leaf_counts.sum(), trees[0].value.shape[2]))
        for tree, is_leaf, node_start, leaf_start in zip(trees, leaf_masks, node_starts, leaf_starts):
            block = self.nodes[node_start:node_start + tree.node_count]
            block["left"] = np.where(is_leaf, LEAF, tree.children_left + node_start)
            block["right"] = np.where(is_leaf, LEAF, tree.children_right + node_start)  # int64: no overflow
            block["feature"] = tree.feature
            block["feature"][is_leaf] = np.arange(leaf_start, leaf_start + is_leaf.sum())
            block["threshold"] = tree.threshold
            self.values[leaf_start:leaf_start + is_leaf.sum()] = tree.value[is_leaf, 0, :]
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
    left, right = forest.nodes["left"], forest.nodes["right"]
    features, thresholds = forest.nodes["feature"], forest.nodes["threshold"]
    splits = np.flatnonzero(left != LEAF)
    if len(splits) == 0:  # every tree is a single leaf
        return np.zeros((1, forest.n_features), dtype=np.float32)
    parent = np.full(len(forest.nodes), -1, dtype=np.int64)
    parent[left[splits]] = splits
    parent[right[splits]] = splits
    rows = []
    for node in np.random.default_rng(seed).permutation(splits)[:max_rows // 2]:
        low = np.full(forest.n_features, -np.inf)  # the path needs low < x <= high
        high = np.full(forest.n_features, np.inf)
        child, ancestor = node, parent[node]
        while ancestor >= 0:
            feature, threshold = features[ancestor], thresholds[ancestor]
            if left[ancestor] == child:
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
