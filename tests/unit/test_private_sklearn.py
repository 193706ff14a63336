"""scikit-learn's private names that the model package uses (``wsgi_service.model.private_sklearn``),
each checked against the installed release for what the code does with it: a release that changes
one fails here, in a line naming the API and the version."""

import importlib
import warnings

import numpy as np
import pytest
import sklearn
from sklearn.datasets import load_iris
from sklearn.ensemble import (
    ExtraTreesClassifier, ExtraTreesRegressor, HistGradientBoostingClassifier, RandomForestClassifier,
    RandomForestRegressor,
)
from sklearn.exceptions import InconsistentVersionWarning
from sklearn.tree import DecisionTreeClassifier

from tests.fixtures.legacy_forests.regenerate import HERE as LEGACY_FORESTS, RELEASES
from tests.support.fences import changed, globals_named
from wsgi_service.model.legacy_trees import PickledTree
from wsgi_service.model.private_joblib import load_checked
from wsgi_service.model.private_sklearn import (
    CYTHON_UNPICKLER, NODE_DTYPE, TREE_GLOBAL, TREE_LEAF, ForestClassifier, ForestRegressor, Tree, build_tree,
)

IRIS = load_iris()
# The node fields of every release from 0.24 to 1.2: legacy_trees copies these by name.
PICKLED_BEFORE_1_3 = {"left_child", "right_child", "feature", "threshold", "impurity", "n_node_samples",
                      "weighted_n_node_samples"}
# The one field legacy_trees fills itself when the pickle lacks it (new in 1.3).
FILLED_IN = {"missing_go_to_left"}


def sklearn_changed(api: str, what: str) -> str:
    return changed(api, "scikit-learn", sklearn.__version__, what)


def fitted_tree() -> Tree:
    return DecisionTreeClassifier(max_depth=4, random_state=0).fit(IRIS.data, IRIS.target).tree_


@pytest.mark.parametrize("base, method, forests", [
    (ForestClassifier, "predict_proba", (RandomForestClassifier, ExtraTreesClassifier)),
    (ForestRegressor, "predict", (RandomForestRegressor, ExtraTreesRegressor)),
], ids=["classifier", "regressor"])
def test_the_forests_average_with_their_base_class(base, method, forests):
    """CompiledForest.supports: a forest whose averaging is the base class's is one the kernel computes."""
    for forest in forests:
        assert issubclass(forest, base) and getattr(forest, method) is getattr(base, method), sklearn_changed(
            f"sklearn.ensemble._forest.{base.__name__}", f"{forest.__name__} no longer takes its {method} from it")


def test_a_tree_pickles_as_its_class_three_arguments_and_a_state():
    """The allow-list unpickler builds a PickledTree where a pickle names TREE_GLOBAL, and keeps
    its constructor's three arguments and its state."""
    tree = fitted_tree()
    api = f"{'.'.join(TREE_GLOBAL)}.__reduce__"
    assert TREE_GLOBAL in globals_named(tree), sklearn_changed(api, f"a tree's pickle no longer names {TREE_GLOBAL}")
    function, arguments, state = tree.__reduce__()
    assert function is Tree and len(arguments) == 3, sklearn_changed(api, f"it gives {function}{arguments}")
    assert (arguments[0], list(arguments[1]), arguments[2]) == (4, [3], 1), sklearn_changed(
        api, f"its arguments are no longer (n_features, n_classes, n_outputs): {arguments}")
    assert {"nodes", "values", "node_count", "max_depth"} <= state.keys(), sklearn_changed(
        api, f"its state holds {sorted(state)}")
    assert state["nodes"].dtype == NODE_DTYPE, sklearn_changed(api, "its nodes are not in NODE_DTYPE")


def test_a_tree_is_rebuilt_from_its_arguments_and_state():
    tree = fitted_tree()
    _, arguments, state = tree.__reduce__()
    rebuilt = build_tree(*arguments, state)
    for name in ("children_left", "children_right", "feature", "threshold", "value"):
        assert np.array_equal(getattr(rebuilt, name), getattr(tree, name)), sklearn_changed(
            "sklearn.tree._tree.Tree(n_features, n_classes, n_outputs).__setstate__",
            f"the tree rebuilt from its own state has another {name}")


def test_node_fields_are_those_older_releases_pickled_and_one_filled_in():
    """legacy_trees copies each NODE_DTYPE field from the pickled nodes by name and leaves any other
    at zero: a field the installed release adds, or a renamed one, would serve wrong answers."""
    assert set(NODE_DTYPE.names) == PICKLED_BEFORE_1_3 | FILLED_IN, sklearn_changed(
        "sklearn.tree._tree.NODE_DTYPE", f"its fields are {NODE_DTYPE.names}: legacy_trees fills only "
        f"{sorted(FILLED_IN)} when a pickle lacks it")
    oldest = sorted(RELEASES, key=lambda release: tuple(map(int, release.split("."))))[0]
    path = sorted((LEGACY_FORESTS / oldest).glob("*.joblib"))[0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", InconsistentVersionWarning)
        forest = load_checked(path.read_bytes(), str(path),
                              lambda module, name, resolve: PickledTree if (module, name) == TREE_GLOBAL
                              else resolve(module, name))
    pickled = forest.estimators_[0].tree_
    assert isinstance(pickled, PickledTree)
    assert set(pickled.state["nodes"].dtype.names) == PICKLED_BEFORE_1_3


def test_leaves_are_marked_by_tree_leaf():
    """CompiledForest finds leaves as children_left == TREE_LEAF; scikit-learn's documented
    test is a node whose two children are equal."""
    tree = fitted_tree()
    assert np.array_equal(tree.children_left == TREE_LEAF, tree.children_left == tree.children_right), (
        sklearn_changed("sklearn.tree._tree.TREE_LEAF", f"{TREE_LEAF} no longer marks exactly the leaves"))


def test_the_functions_scikit_learn_pickles_are_cython_unpicklers():
    """The allow-list admits a function from a scikit-learn module only when its name starts with
    CYTHON_UNPICKLER (its classes are admitted as classes)."""
    rng = np.random.default_rng(0)
    boosted = HistGradientBoostingClassifier(max_iter=3).fit(rng.normal(size=(90, 3)), np.arange(90) % 3)
    functions = {(module, name) for module, name in globals_named(boosted)
                 if module.split(".")[0] == "sklearn"
                 and not isinstance(getattr(importlib.import_module(module), name), type)}
    assert functions, sklearn_changed("Cython's unpickler names", "a multi-class histogram gradient boosting "
                                      "pickles no function: this probe proves nothing now, choose another")
    strangers = sorted(f"{module}.{name}" for module, name in functions if not name.startswith(CYTHON_UNPICKLER))
    assert not strangers, sklearn_changed("Cython's unpickler names", f"its pickles call {', '.join(strangers)}")
