"""What a schema cannot say about answers.

The same request gets the same answer; a batch is answered as its rows one at
a time; the seed form, rich arrays and rich named rows agree; a classifier's
probabilities form a distribution whose most probable class is the label;
and every answer (and its X-Model header) names the model that ``/model`` describes. Rows come from the contract's
example and the served model's feature ranges.
"""

import math
from urllib.parse import unquote

import pytest

from contract.suite.derived import encode, named
from contract.suite.documented import HEALTH, INDEX, expect_answer
from contract.suite.exchanges import expect

MODEL_HEADER = "X-Model"

# Probabilities and a regressor's values: the same row must get the same
# number whichever way it is sent, up to this much (absolute, or relative).
TOLERANCE = 1e-9


def _seed(predict, rows):
    labels, exchange = predict(encode(rows))
    expect(isinstance(labels, list), "the seed form must be answered with a bare array of labels", exchange)
    expect(len(labels) == len(rows), f"{len(rows)} rows got {len(labels)} labels", exchange)
    return labels, exchange


def _rich(predict, rows):
    answer, exchange = predict(encode({"instances": rows}))
    expect(isinstance(answer, dict), "the rich form must be answered in the rich form", exchange)
    predictions = answer["predictions"]
    expect(len(predictions) == len(rows), f"{len(rows)} rows got {len(predictions)} predictions", exchange)
    return answer, exchange


def _agree(first: object, second: object) -> bool:
    """Equal; numbers within the tolerance, dicts of them key by key. Labels
    (strings, integers) must be equal."""
    if isinstance(first, dict) and isinstance(second, dict):
        return first.keys() == second.keys() and all(_agree(first[key], second[key]) for key in first)
    if isinstance(first, float) or isinstance(second, float):
        return (isinstance(first, (int, float)) and isinstance(second, (int, float))
                and math.isclose(first, second, rel_tol=TOLERANCE, abs_tol=TOLERANCE))
    return first == second and type(first) is type(second)


def _seed_answer(prediction: dict) -> object:
    """What the seed form answers for a rich-form prediction: its label, or a regressor's value."""
    return prediction["label"] if "label" in prediction else prediction["value"]


@pytest.fixture(scope="module")
def classes(manifest) -> list[dict]:
    """The served classifier's classes; a regressor's contract has none to check."""
    if "classes" not in manifest:
        pytest.skip("the served model is a regressor: it has no classes or probabilities")
    return manifest["classes"]


def _identity(contract, manifest) -> dict:
    return {key: manifest[key] for key in contract.schema("ModelIdentity")["properties"]}


def test_same_input_same_output(predict, rows, feature_names):
    named_rows = [named(row, feature_names) for row in rows]
    first, first_exchange = _rich(predict, named_rows)
    second, second_exchange = _rich(predict, named_rows)
    expect(first == second, "the same request was answered differently", first_exchange, second_exchange)


def test_batch_equals_rows_one_at_a_time(predict, rows):
    batch, batch_exchange = _rich(predict, rows)
    for index, row in enumerate(rows):
        single, exchange = _rich(predict, [row])
        alone, in_batch = single["predictions"][0], batch["predictions"][index]
        expect(_agree(alone, in_batch), f"row {index} is answered {alone} alone but {in_batch} in a batch",
               batch_exchange, exchange)


def test_seed_and_rich_forms_agree(predict, rows, feature_names):
    labels, seed_exchange = _seed(predict, rows)
    arrays, arrays_exchange = _rich(predict, rows)
    names, names_exchange = _rich(predict, [named(row, feature_names) for row in rows])
    for index, (label, by_array, by_name) in enumerate(zip(labels, arrays["predictions"], names["predictions"])):
        expect(_agree(label, _seed_answer(by_array)) and _agree(by_array, by_name),
               f"row {index}: the seed form answers {label}, rich arrays {by_array}, rich named rows {by_name}",
               seed_exchange, arrays_exchange, names_exchange)


def test_probabilities_sum_to_one(predict, rows, classes):
    answer, exchange = _rich(predict, rows)
    for index, prediction in enumerate(answer["predictions"]):
        total = math.fsum(prediction["probabilities"].values())
        expect(abs(total - 1) <= TOLERANCE,
               f"row {index}: probabilities sum to {total!r}, not 1 (±{TOLERANCE})", exchange)


def test_label_is_most_probable_class(predict, rows, classes):
    label_of = {cls["name"]: cls["label"] for cls in classes}
    answer, exchange = _rich(predict, rows)
    for index, prediction in enumerate(answer["predictions"]):
        probabilities = prediction["probabilities"]
        most_probable = [name for name, p in probabilities.items() if p == max(probabilities.values())]
        expect(prediction["class_name"] in most_probable and prediction["label"] == label_of[prediction["class_name"]],
               f"row {index}: answered {prediction['class_name']!r} (label {prediction['label']}), "
               f"the most probable class is {' or '.join(most_probable)}; /model labels: {label_of}", exchange)


def test_rich_answer_names_served_model(predict, rows, contract, manifest):
    answer, exchange = _rich(predict, rows)
    expect(answer["model"] == _identity(contract, manifest),
           f"the answer names model {answer['model']}, /model serves {_identity(contract, manifest)}", exchange)


def test_every_prediction_names_the_model_that_answered(predict, rows, manifest):
    """The X-Model header (its form is the contract's pattern): name, version, SHA-256 prefix of /model's."""
    for _, exchange in (_seed(predict, rows), _rich(predict, rows)):
        name, version, sha256 = (unquote(part) for part in exchange.headers.get(MODEL_HEADER, "//").split("/", 2))
        served = (manifest["name"], manifest["version"], manifest["sha256"][:len(sha256) or 12])
        expect((name, version, sha256) == served,
               f"{MODEL_HEADER} names {name} {version} {sha256}, /model serves {' '.join(served)}", exchange)


def test_health_names_served_model(client, contract, manifest):
    operation = contract.operation(HEALTH)
    exchange = client.send(operation.method, operation.path)
    health = expect_answer(contract, operation, exchange, contract.success_status(operation))
    expect(health["model"] == _identity(contract, manifest),
           f"health names model {health['model']}, /model serves {_identity(contract, manifest)}", exchange)


def test_served_model_fits_contract(contract, manifest, feature_names):
    """The features and classes /model reports are exactly those the contract's schemas admit;
    a regressor's contract describes no classes."""
    named_row, row = contract.schema("NamedRow"), contract.schema("Row")
    expect(sorted(feature_names) == sorted(named_row["required"]) and row["minItems"] == len(feature_names),
           f"/model's features {feature_names} are not the contract's {named_row['required']} "
           f"(rows of {row['minItems']} values)")
    if "classes" not in manifest:
        expect("Label" not in contract.document["components"]["schemas"],
               "/model describes a regressor (no classes), the contract a classifier (a Label schema)")
        return
    classes = {(cls["label"], cls["name"]) for cls in manifest["classes"]}
    expect({label for label, _ in classes} == set(contract.schema("Label")["enum"])
           and {name for _, name in classes} == set(contract.schema("ClassName")["enum"]),
           f"/model's classes {sorted(classes)} are not the contract's labels and class names")


def test_index_lists_documented_operations(client, contract):
    operation = contract.operation(INDEX)
    exchange = client.send(operation.method, operation.path)
    index = expect_answer(contract, operation, exchange, contract.success_status(operation))
    listed = {(endpoint["method"].upper(), endpoint["path"]) for endpoint in index["endpoints"]}
    documented = {(op.method.upper(), op.path) for op in contract.operations}
    expect(listed == documented, f"the index lists {sorted(listed)}, the contract documents {sorted(documented)}",
           exchange)
