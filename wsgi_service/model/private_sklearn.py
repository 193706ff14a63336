"""Every private name of scikit-learn the model package relies on, in one place.

scikit-learn promises nothing about these: its forests' base classes
(``sklearn.ensemble._forest``), its Cython ``Tree`` with its node layout,
leaf marker and pickled state (``sklearn.tree._tree``), and the names its
compiled classes give their pickles. The rest of the package imports them
from here, and ``tests/unit/test_private_sklearn.py`` checks each against
the installed release for what the code does with it (subclassing, the
state ``Tree`` takes, the names in its pickles), so a release that changes
one fails there, naming the API and the version, rather than in a forest
that serves wrong answers or a model that no longer opens.
"""

import numpy as np
from sklearn.ensemble._forest import ForestClassifier, ForestRegressor
from sklearn.tree._tree import NODE_DTYPE, TREE_LEAF, Tree

__all__ = ["CYTHON_UNPICKLER", "ForestClassifier", "ForestRegressor", "NODE_DTYPE", "TREE_GLOBAL", "TREE_LEAF",
           "Tree", "build_tree"]

# The global a pickled decision tree names (``Tree.__reduce__``): where its Cython class lives.
TREE_GLOBAL = ("sklearn.tree._tree", "Tree")
# The prefix of the functions Cython generates to unpickle an extension type (a loss of
# gradient boosting: ``sklearn._loss._loss.__pyx_unpickle_CyHalfMultinomialLoss``).
CYTHON_UNPICKLER = "__pyx_unpickle_"


def build_tree(n_features: int, n_classes, n_outputs: int, state: dict) -> Tree:
    """The installed release's ``Tree`` from its constructor's arguments and its pickled state, whose
    ``nodes`` are in ``NODE_DTYPE`` and ``values`` float64 in C order, as ``Tree.__setstate__`` takes them."""
    tree = Tree(n_features, np.asarray(n_classes, dtype=np.intp), n_outputs)
    tree.__setstate__(state)
    return tree
