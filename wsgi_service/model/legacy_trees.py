"""Decision trees pickled by any scikit-learn from 0.24 on, read as data and rebuilt for the installed one.

scikit-learn's ``Tree.__setstate__`` takes only its own release's node
layout: from 1.3 on it refuses every tree pickled before (their nodes lack
``missing_go_to_left``), so a forest from a 2021 notebook cannot be opened
by a current scikit-learn at all. The allow-list unpickler therefore builds
a ``PickledTree`` wherever the pickle builds a ``sklearn.tree._tree.Tree``:
it keeps the constructor's arguments and the state, plain arrays, and runs
nothing of scikit-learn's. ``rebuild_trees`` then makes each one a Tree of
the installed release, holding what the pickling release computed with:

- the nodes, field by field, in the installed layout; ``missing_go_to_left``
  (new in 1.3) false where the pickle has none: it steers only missing
  values, which the contract never admits;
- a classifier's leaves: before 1.4 they held class counts, and every
  ``predict_proba`` call divided the reached leaf's counts by their sum (a
  zero sum left as it was); from 1.4 on they hold the fractions and nothing
  divides. Dividing once here, with the same numpy operations, gives the
  installed release the pickling release's numbers.

The installed scikit-learn, and the compiled forest proven against it at
start, then answer what the pickling release answered, bit for bit
(``tests/fixtures/legacy_forests``: every release from 1.1 on).
"""

import re

import numpy as np
from sklearn.base import BaseEstimator, is_classifier

from wsgi_service.model.private_sklearn import NODE_DTYPE, Tree, build_tree

# The first release whose classifier trees store class fractions instead of counts.
FRACTIONS_SINCE = (1, 4)


class PickledTree:
    """A ``Tree`` as the pickle describes it: its constructor's arguments and its state, unexamined."""

    def __init__(self, n_features, n_classes, n_outputs):
        self.arguments = (n_features, n_classes, n_outputs)
        self.state: dict = {}

    def __setstate__(self, state):
        self.state = state


def rebuild_trees(model: object, pickled_with: str) -> None:
    """Replace, in place, every ``PickledTree`` reachable from ``model`` by the installed
    release's ``Tree``, and give every estimator the parameters the installed release
    added since (at their defaults), as ``pickled_with`` would have behaved."""
    counts_in_leaves = _release(pickled_with) < FRACTIONS_SINCE
    for estimator in _estimators(model):
        _add_missing_parameters(estimator)
        pickled = estimator.__dict__.get("tree_")
        if isinstance(pickled, PickledTree):
            estimator.tree_ = _installed_tree(pickled, normalize=counts_in_leaves and is_classifier(estimator))


def _installed_tree(pickled: PickledTree, normalize: bool) -> Tree:
    state = dict(pickled.state)
    nodes = np.asarray(state["nodes"])
    installed = np.zeros(nodes.shape, dtype=NODE_DTYPE)
    for name in NODE_DTYPE.names:
        if name in (nodes.dtype.names or ()):
            installed[name] = nodes[name]
    values = np.ascontiguousarray(state["values"], dtype=np.float64)
    if normalize:
        values = _leaf_fractions(values)
    return build_tree(*pickled.arguments, {**state, "nodes": installed, "values": values})


def _leaf_fractions(values: np.ndarray) -> np.ndarray:
    """Each node's class counts divided by their sum, as ``predict_proba`` divided them before 1.4:
    the sum over the classes of one output, a zero sum left as it is."""
    fractions = np.empty_like(values)
    for output in range(values.shape[1]):
        counts = np.ascontiguousarray(values[:, output, :])
        normalizer = counts.sum(axis=1)[:, np.newaxis]
        normalizer[normalizer == 0.0] = 1.0
        fractions[:, output, :] = counts / normalizer
    return fractions


def _add_missing_parameters(estimator: BaseEstimator) -> None:
    """What a new instance of the installed release sets and the pickle lacks, at the new
    instance's values: parameters added since (``monotonic_cst`` in 1.4, ...) and renamed ones
    (a forest's ``estimator``, ``base_estimator`` before 1.2). The installed release's methods
    read them; their defaults are what the old release did."""
    try:
        fresh = type(estimator)()
    except TypeError:  # a class whose parameters have no defaults (a Pipeline's steps)
        return
    for name, value in vars(fresh).items():
        estimator.__dict__.setdefault(name, value)


def _estimators(root: object):
    """Every scikit-learn estimator reachable from ``root`` through attributes, lists, tuples,
    dicts and object arrays (a forest's trees, a pipeline's steps, ...), each once."""
    seen, pending = set(), [root]
    while pending:
        item = pending.pop()
        if id(item) in seen:
            continue
        seen.add(id(item))
        if isinstance(item, BaseEstimator):
            yield item
            pending.extend(item.__dict__.values())
        elif isinstance(item, (list, tuple)):
            pending.extend(item)
        elif isinstance(item, dict):
            pending.extend(item.values())
        elif isinstance(item, np.ndarray) and item.dtype == object:
            pending.extend(item.ravel())


def _release(version: str) -> tuple[int, int]:
    """(major, minor) of a version string; (0, 0) when it names none (scikit-learn's ``pre-0.18``)."""
    numbers = re.match(r"(\d+)\.(\d+)", version)
    return (int(numbers[1]), int(numbers[2])) if numbers else (0, 0)
