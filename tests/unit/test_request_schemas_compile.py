"""Every request schema the contract generator writes is compiled: no body falls to jsonschema's slow path unsaid.

A request schema the compiler cannot translate still validates correctly,
through jsonschema alone, hundreds of times slower on a large batch
(``RequestValidator`` warns ``UncompiledSchema``). So the contracts of the
models users make (the default iris, a regressor, words through
``--categorical``, a notebook's ``ColumnTransformer`` pipeline over a
DataFrame, a forest fitted on a DataFrame of numbers, the last three
imported as users import them) are generated here by ``training``, as the
user's own commands generate them, and every operation's request body
schema in each, the Open Inference Protocol's included, must compile and
accept the contract's own examples.
"""

import json
import warnings
from pathlib import Path
from typing import NamedTuple

import joblib
import pandas
import pytest
from sklearn.datasets import load_iris
from sklearn.ensemble import RandomForestClassifier

from contract import operations, pointer_to, schema_validator
from contract.model_directory import CONTRACT_FILENAME, MANIFEST_FILENAME, REGRESSION
from tests.support.notebooks import LOTS_CSV, TARGET, WORDS, fit_pipeline, write_lots_table
from training.importing import import_model
from training.table import read_table
from training.train import IRIS_FEATURE_NAMES, train_forest, train_iris
from wsgi_service.enforcement.schema_compiler import UnsupportedSchema, compile_schema
from wsgi_service.enforcement.validation import RequestValidator, UncompiledSchema

TREES = 3  # the schemas depend on the features and the task, not on the forest's size


def _quiet(line: str) -> None:
    pass


def _iris(out: Path) -> None:
    train_iris(out, n_estimators=TREES)


def _regressor(out: Path) -> None:
    """``python -m training --csv ... --task regression``: petal width from the other three."""
    iris = load_iris()
    train_forest(out, list(IRIS_FEATURE_NAMES[:3]), iris.data[:, :3], iris.data[:, 3].tolist(), task=REGRESSION,
                 target_name="petal_width", dataset="iris", name="widths", n_estimators=TREES, progress=_quiet)


def _categorical(out: Path) -> None:
    """``python -m training --csv lots.csv --target grade --categorical origin --categorical roast``."""
    table = read_table(write_lots_table(out.with_name(LOTS_CSV)), TARGET, categorical=WORDS)
    train_forest(out, table.feature_names, table.features, table.target, task="classification",
                 target_name=table.target_name, dataset=LOTS_CSV, name="lots", n_estimators=TREES,
                 categories=table.categories, progress=_quiet)


def _column_transformer(out: Path) -> None:
    """A notebook's pipeline (one-hot words by column name, then a forest), imported with a sample."""
    table = write_lots_table(out.with_name(LOTS_CSV))
    model_file = out.with_name("lots_forest.joblib")
    joblib.dump(fit_pipeline(table, "forest"), model_file)
    import_model(model_file, out, name="lots", sample=table, target=TARGET, progress=_quiet)


def _dataframe(out: Path) -> None:
    """A forest fitted on a DataFrame of numbers (it records ``feature_names_in_``), imported."""
    iris = load_iris()
    frame = pandas.DataFrame(iris.data, columns=list(IRIS_FEATURE_NAMES))
    model_file = out.with_name("flowers.joblib")
    joblib.dump(RandomForestClassifier(n_estimators=TREES, random_state=0).fit(frame, iris.target), model_file)
    with warnings.catch_warnings():
        # The importer answers the contract's examples with an array, as the service's rows
        # come; scikit-learn remarks that the forest was fitted with names. The contract is
        # what is judged here.
        warnings.filterwarnings("ignore", "X does not have valid feature names", UserWarning)
        import_model(model_file, out, name="flowers", progress=_quiet)


MODELS = {"iris": _iris, "regressor": _regressor, "categorical": _categorical,
          "column transformer": _column_transformer, "dataframe": _dataframe}


@pytest.fixture(scope="module", params=MODELS)
def generated(request, tmp_path_factory) -> tuple[str, dict, dict]:
    """``(kind, manifest, contract)`` as training wrote them into a model directory."""
    out = tmp_path_factory.mktemp(request.param.replace(" ", "_")) / "model"
    MODELS[request.param](out)
    return (request.param, json.loads((out / MANIFEST_FILENAME).read_text()),
            json.loads((out / CONTRACT_FILENAME).read_text()))


class RequestSchema(NamedTuple):
    path: str
    pointer: str
    content: dict
    """The media type's object: the schema, and the examples beside it."""


def request_schemas(document: dict) -> dict[str, RequestSchema]:
    """Every operation's request body schema, by ``operationId media-type``."""
    return {f"{operation['operationId']} {media_type}":
            RequestSchema(path, pointer_to("paths", path, method, "requestBody", "content", media_type, "schema"),
                          content)
            for path, method, operation in operations(document)
            for media_type, content in operation.get("requestBody", {}).get("content", {}).items()
            if "schema" in content}


def test_the_contracts_hold_the_requests_the_service_validates(generated):
    """/predict always; the Open Inference Protocol's infer where every feature is a number
    (V2 tensors hold numbers only), so the test below cannot pass on fewer schemas."""
    kind, manifest, document = generated
    schemas = request_schemas(document)
    assert schemas["predict application/json"].path == "/predict", kind
    numeric = all("categories" not in feature for feature in manifest["features"])
    infer = [name for name, schema in schemas.items() if schema.path.endswith("/infer")]
    assert len(infer) == (2 if numeric else 0), (kind, sorted(schemas))


def test_every_request_schema_compiles_and_keeps_its_examples_on_the_fast_path(generated):
    kind, _, document = generated
    uncompiled, slow, untried = [], [], []
    for name, schema in request_schemas(document).items():
        try:
            accepts = compile_schema(document, schema.pointer)
        except UnsupportedSchema as reason:
            uncompiled.append(f"{name}: {reason}")
            continue
        reference = schema_validator(document, schema.pointer)
        examples = _examples(schema.content)
        if not examples:
            untried.append(name)
        for label, example in examples.items():
            # A valid example the compiled schema refuses would reach jsonschema on every request like it.
            if reference.is_valid(example) and not accepts(example):
                slow.append(f"{name}: example {label!r}")
        with warnings.catch_warnings():
            warnings.simplefilter("error", UncompiledSchema)  # strict whatever pytest's filters say
            RequestValidator(document, schema.pointer)
    assert not uncompiled, f"{kind}: request schemas the compiler cannot translate: {uncompiled}"
    assert not slow, f"{kind}: valid examples the compiled schema refuses: {slow}"
    assert not untried, f"{kind}: request schemas without an example to try the compiled schema on: {untried}"


def _examples(content: dict) -> dict[str, object]:
    """The examples written beside a request schema: ``example``, and ``examples``' values."""
    found = {name: example["value"] for name, example in content.get("examples", {}).items() if "value" in example}
    return {**found, **({"example": content["example"]} if "example" in content else {})}
