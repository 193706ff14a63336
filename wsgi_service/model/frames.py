"""Rows for a model fitted on a pandas DataFrame whose ``ColumnTransformer`` picks columns by name.

Such a model (``Pipeline([ColumnTransformer([("words", OneHotEncoder(),
["origin", "roast"])], remainder="passthrough"), forest])``, as a notebook
fits on ``pandas.read_csv``) refuses a plain array: it selects its columns
by name, and its encoders compare words, not numbers. The service's rows
are one float64 matrix whatever the model (a categorical feature's word as
its index among the words the manifest lists), so for these models the
matrix is turned back into the DataFrame they were fitted on: each column
under its name, a categorical one as its words. The words the contract
admits are the ones the model's encoders know (``encoded_words``).

pandas is an optional dependency (the ``dataframe`` extra): scikit-learn
imports it at start whenever it is installed, which costs every other
deployment memory and start time. So a model that takes a DataFrame is
refused, in one line that says how to install it, where pandas is missing
(``require_pandas``): at import, and at start before its file is read.
"""

import importlib.util
import sys

import numpy as np
from sklearn.compose import ColumnTransformer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder

from wsgi_service.errors import StartupError

# The extra of setup.cfg that brings pandas, and how to install it.
DATAFRAME_EXTRA = "dataframe"
INSTALL_DATAFRAME = f"pip install -c constraints.txt 'wsgi-forest-service[{DATAFRAME_EXTRA}]'"


def takes_frame(estimator: object) -> bool:
    """Whether ``estimator`` starts with a ColumnTransformer fitted on named columns."""
    return _column_transformer(estimator) is not None


def pandas_installed() -> bool:
    """Whether ``import pandas`` would succeed, asked of the import system without importing it:
    importing it here would cost the very time and memory that keeping it optional saves."""
    try:
        return importlib.util.find_spec("pandas") is not None
    except ValueError:  # already in sys.modules, without a spec
        return sys.modules.get("pandas") is not None


def require_pandas(model: str) -> None:
    """Refuse ``model``, which takes a DataFrame, with one line saying how to get pandas when it is
    missing; the Docker build installs it for such a model (the manifest's ``input``)."""
    if not pandas_installed():
        raise StartupError(f"{model} takes a pandas DataFrame, and pandas is not installed: "
                           f"{INSTALL_DATAFRAME} (a Docker image built with the model, "
                           f"--build-arg MODEL=models/NAME, installs it)")


def encoded_words(estimator: object) -> dict[str, list[str]]:
    """Per column that an encoder (one-hot or ordinal) of the model's ColumnTransformer takes
    by name, the words it was fitted with, in its order; columns of numbers are left out."""
    transformer = _column_transformer(estimator)
    words = {}
    for _, step, columns in transformer.transformers_ if transformer is not None else ():
        encoder = step[-1] if isinstance(step, Pipeline) else step
        if not isinstance(encoder, (OneHotEncoder, OrdinalEncoder)) or not hasattr(encoder, "categories_"):
            continue
        names = [columns] if isinstance(columns, str) else list(columns)
        for name, categories in zip(names, encoder.categories_):
            if isinstance(name, str) and all(isinstance(word, str) for word in categories):
                words[name] = [str(word) for word in categories]
    return words


def as_frame(rows: np.ndarray, feature_names: list[str], words: dict[str, list[str]]):
    """The float64 ``rows`` as a DataFrame with the model's column names, a column in ``words``
    as the words its values index."""
    import pandas  # only models fitted on a DataFrame need it

    columns = {}
    for position, name in enumerate(feature_names):
        column = rows[:, position]
        columns[name] = np.asarray(words[name], dtype=object)[column.astype(np.intp)] if name in words else column
    return pandas.DataFrame(columns)


def _column_transformer(estimator: object) -> ColumnTransformer | None:
    first = estimator.steps[0][1] if isinstance(estimator, Pipeline) else estimator
    if isinstance(first, ColumnTransformer) and hasattr(first, "feature_names_in_"):
        return first
    return None
