"""A fitted random forest flattened into arrays, evaluated exactly as scikit-learn does.

scikit-learn spends milliseconds per ``predict_proba`` call on input checks
and its parallel machinery before any tree is walked; for the single rows an
API mostly sees, that overhead is nearly all of the time. Here the trees are
flattened once, at load, and evaluated in one of two ways:
- few rows: every split of every tree is decided for every row in one
  vectorised comparison, and the walk from the roots is then one array lookup
  per level (a few dozen microseconds for a row of a 100-tree forest);
- many rows: tree by tree with scikit-learn's compiled ``Tree.apply``, which
  then costs less than deciding splits no row reaches.

Exactness is kept by doing the same arithmetic in the same order:
- a row is rounded to float32, as scikit-learn does, and each float32 value
  is compared ``<=`` with the node's float64 threshold;
- a tree's answer is its leaf value as stored (scikit-learn 1.4 and later
  store a classifier's class fractions and use them as they are; a
  regressor's leaf holds its mean);
- tree answers are added in estimator order and the sum divided by the
  number of trees, as ``ForestClassifier.predict_proba`` and
  ``ForestRegressor.predict`` do. The result is bitwise identical, which the
  service checks at start (``compile_forest``).
"""

import numpy as np
import sklearn
from sklearn.ensemble._forest import ForestClassifier, ForestRegressor

# Deciding every split for every row wins while rows x nodes stays below this;
# beyond it the compiled per-tree walk does. Measured on the iris forest (1,328
# nodes): the two cross near 64 rows.
EVERY_SPLIT_MAX_DECISIONS = 1 << 16
PROBE_MAX_ROWS = 2048


class CompiledForest:
    """The trees of a single-output forest (classifier or regressor) as flat node arrays.

    Node ``i`` of the whole forest splits on ``feature[i]`` at ``threshold[i]``
    and continues at ``left[i]`` or ``right[i]``; ``roots`` holds each tree's
    first node, ``leaf_values`` each node's stored value. Two evaluations,
    each exact: ``decide_every_split`` and ``walk_tree_by_tree``.
    """

    def __init__(self, estimator: ForestClassifier | ForestRegressor):
        trees = [tree.tree_ for tree in estimator.estimators_]
        offsets = np.cumsum([0] + [tree.node_count for tree in trees[:-1]])
        is_leaf = np.concatenate([tree.children_left < 0 for tree in trees])
        own_index = np.arange(is_leaf.size)
        # Leaves point at themselves with threshold +inf: a walk that reaches a
        # leaf early stays there for the remaining levels (values are finite).
        self.feature = np.where(is_leaf, 0, np.concatenate([tree.feature for tree in trees])).astype(np.intp)
        self.threshold = np.where(is_leaf, np.inf, np.concatenate([tree.threshold for tree in trees]))
        self.left = np.where(is_leaf, own_index, np.concatenate(
            [tree.children_left + offset for tree, offset in zip(trees, offsets)]))
        self.right = np.where(is_leaf, own_index, np.concatenate(
            [tree.children_right + offset for tree, offset in zip(trees, offsets)]))
        self.roots = offsets.astype(np.intp)
        self._offsets = offsets.astype(np.intp)
        self.depth = max(tree.max_depth for tree in trees)
        # Per node: class fractions (a classifier) or the mean (a regressor, one column).
        self.leaf_values = np.concatenate([tree.value[:, 0, :] for tree in trees])
        self._trees = trees
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
        if len(rows32) * self.feature.size <= EVERY_SPLIT_MAX_DECISIONS:
            return self.decide_every_split(rows32)
        return self.walk_tree_by_tree(rows32)

    def decide_every_split(self, rows32: np.ndarray) -> np.ndarray:
        n_rows, n_nodes = len(rows32), self.feature.size
        # Node indices are made row-local: row r's copy of node i is r * n_nodes + i.
        row_base = np.arange(0, n_rows * n_nodes, n_nodes)[:, np.newaxis]
        go_left = rows32.astype(np.float64)[:, self.feature] <= self.threshold
        next_node = (np.where(go_left, self.left, self.right) + row_base).ravel()
        node = (self.roots + row_base).T  # trees x rows, tree-major as scikit-learn sums
        for _ in range(self.depth):
            node = next_node.take(node)
        node -= row_base.T
        per_tree = self.leaf_values.take(node, axis=0)
        # Accumulating adds the trees strictly in estimator order, as scikit-learn
        # does. (A plain sum may switch to pairwise summation when the other axes
        # have length 1: one row of a regressor, and the bits differ.)
        total = np.add.accumulate(per_tree, axis=0)[-1]
        total /= len(self.roots)
        return total

    def walk_tree_by_tree(self, rows32: np.ndarray) -> np.ndarray:
        total = np.zeros((len(rows32), self.leaf_values.shape[1]))
        for tree, offset in zip(self._trees, self._offsets):
            total += self.leaf_values.take(tree.apply(rows32) + offset, axis=0)
        total /= len(self._trees)
        return total


def compile_forest(estimator: object) -> tuple["CompiledForest | None", str]:
    """The compiled forest, proven equal to scikit-learn on probe rows; or None and why not.

    Both walks are checked on rows that sit at, just above and just below
    every split threshold: any difference at all and scikit-learn serves.
    """
    if not CompiledForest.supports(estimator):
        return None, f"{type(estimator).__name__} is not a single-output random forest"
    forest = CompiledForest(estimator)
    rows32 = probe_rows(forest)
    with sklearn.config_context(assume_finite=True):
        if isinstance(estimator, ForestClassifier):
            expected = estimator.predict_proba(rows32)
        else:
            expected = estimator.predict(rows32).reshape(len(rows32), 1)
    # The every-split evaluation is checked in the batch sizes it serves.
    chunk = max(1, EVERY_SPLIT_MAX_DECISIONS // forest.feature.size)
    answers = {
        "every-split evaluation": np.concatenate([forest.decide_every_split(rows32[start:start + chunk])
                                                  for start in range(0, len(rows32), chunk)]),
        "tree-by-tree walk": forest.walk_tree_by_tree(rows32),
    }
    for name, answer in answers.items():
        if not np.array_equal(answer, expected):
            return None, f"the {name} disagrees with scikit-learn {sklearn.__version__} on probe rows"
    return forest, f"compiled {len(forest.roots)} trees, {forest.feature.size} nodes; " \
                   f"equal to scikit-learn on {len(rows32)} probe rows"


def probe_rows(forest: CompiledForest, max_rows: int = PROBE_MAX_ROWS, seed: int = 0) -> np.ndarray:
    """Two rows per split, reaching it and landing on each side of it by the
    smallest possible margin: the float32 values just at or below and just
    above its threshold. A compiled split that differs from scikit-learn's by
    one float32 value changes the answer for one of them.

    Each row follows the path from its tree's root to the split: every other
    feature is set to a float32 value inside the interval the ancestors allow.
    Forests with more splits than ``max_rows / 2`` are sampled.
    """
    splits = np.flatnonzero(np.isfinite(forest.threshold))
    if len(splits) == 0:  # every tree is a single leaf
        return np.zeros((1, forest.n_features), dtype=np.float32)
    parent = np.full(forest.feature.size, -1)
    parent[forest.left[splits]] = splits
    parent[forest.right[splits]] = splits
    rows = []
    for node in np.random.default_rng(seed).permutation(splits)[:max_rows // 2]:
        low = np.full(forest.n_features, -np.inf)  # the path needs low < x <= high
        high = np.full(forest.n_features, np.inf)
        child, ancestor = node, parent[node]
        while ancestor >= 0:
            feature, threshold = forest.feature[ancestor], forest.threshold[ancestor]
            if forest.left[ancestor] == child:
                high[feature] = min(high[feature], threshold)
            else:
                low[feature] = max(low[feature], threshold)
            child, ancestor = ancestor, parent[ancestor]
        row = np.array([_float32_inside(lo, hi) for lo, hi in zip(low, high)], dtype=np.float32)
        feature, threshold = forest.feature[node], forest.threshold[node]
        at_or_below = _float32_inside(-np.inf, threshold)
        for value in (at_or_below, np.nextafter(at_or_below, np.float32(np.inf))):
            row[feature] = value
            rows.append(row.copy())
    return np.array(rows)


def _float32_inside(low: float, high: float) -> np.float32:
    """The largest float32 x with low < x <= high (or the smallest above low, or 0)."""
    if np.isfinite(high):
        value = np.float32(high)
        return value if value <= high else np.nextafter(value, np.float32(-np.inf))
    if np.isfinite(low):
        value = np.float32(low)
        return value if value > low else np.nextafter(value, np.float32(np.inf))
    return np.float32(0)
