"""Properties of /predict over generated bodies, judged by a reference validator, and of every
route's whole numbers.

The reference is the contract's request schema under jsonschema, applied to
what the standard library's ``json`` decodes: the service must answer 200
exactly when it says valid, a 4xx problem otherwise, and never a 5xx.

Wherever a route's request schema declares an integer (found in the contract
file, ``contract_strategies.integer_sites``), the same number written as a
float (``2.0``, ``2e0``, ``0.2E1``), sent as raw JSON text, in JSON and in a
binary tensor data header, is answered exactly as the integer is; a fraction
there is refused with a pointer at it.
"""

import json

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from contract import at, load_contract, pointer_to, schema_validator
from tests.support.contract_strategies import (float_spellings, integer_sites, site_request, whole_numbers_near,
                                               with_token)
from tests.support.problems import assert_problem
from wsgi_service.enforcement.validation import PREDICT_REQUEST_SCHEMA

CONTRACT = load_contract()
REFERENCE = schema_validator(CONTRACT, PREDICT_REQUEST_SCHEMA)
FEATURES = CONTRACT["components"]["schemas"]["NamedRow"]["required"]
FLOAT32_MAX = float(np.finfo(np.float32).max)

feature_values = st.floats(min_value=-FLOAT32_MAX, max_value=FLOAT32_MAX, allow_nan=False) | st.integers(-10**6, 10**6)
# Iris-like values too, so that every class (not only the extremes) gets predicted.
plausible_values = st.floats(0, 8, allow_nan=False)
rows = st.lists(feature_values | plausible_values, min_size=len(FEATURES), max_size=len(FEATURES))
batches = st.lists(rows, min_size=1, max_size=12)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=8),
    lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=12), children, max_size=5),
    max_leaves=25,
)


def as_named(row):
    return dict(zip(FEATURES, row))


@st.composite
def valid_bodies(draw):
    batch = draw(batches)
    form = draw(st.sampled_from(["seed", "arrays", "named", "mixed"]))
    if form == "seed":
        return batch
    if form == "arrays":
        return {"instances": batch}
    if form == "named":
        return {"instances": [as_named(row) for row in batch]}
    return {"instances": [as_named(row) if draw(st.booleans()) else row for row in batch]}


@st.composite
def mutated_bodies(draw):
    """A valid body with one thing broken: a value swapped, a cell dropped or added, a key renamed."""
    body = draw(valid_bodies())
    rows_ = body if isinstance(body, list) else body["instances"]
    index = draw(st.integers(0, len(rows_) - 1))
    row = rows_[index]
    mutation = draw(st.sampled_from(["swap", "drop", "add", "wrap"]))
    if isinstance(row, dict):
        key = draw(st.sampled_from(FEATURES))
        if mutation == "swap":
            row[key] = draw(json_values)
        elif mutation == "drop":
            del row[key]
        elif mutation == "add":
            row[draw(st.text(max_size=12))] = draw(json_values)
        else:
            rows_[index] = [row]
    else:
        position = draw(st.integers(0, len(row) - 1))
        if mutation == "swap":
            row[position] = draw(json_values)
        elif mutation == "drop":
            del row[position]
        elif mutation == "add":
            row.append(draw(json_values))
        else:
            rows_[index] = {"row": row}
    return body


def post(client, body):
    response = client.post("/predict", data=json.dumps(body), content_type="application/json")
    return response, response.get_json(force=True)


def resolves(body, pointer):
    """The pointer names a place inside the body (or the body itself)."""
    node = body
    for token in pointer.split("/")[1:]:
        token = token.replace("~1", "/").replace("~0", "~")
        if isinstance(node, list):
            node = node[int(token)]
        elif isinstance(node, dict):
            node = node[token]
        else:
            return False
    return True


@given(body=valid_bodies() | mutated_bodies() | json_values)
def test_answer_is_200_exactly_when_the_contract_says_valid(client, body):
    response, answer = post(client, body)
    if REFERENCE.is_valid(body):
        assert response.status_code == 200, answer
        rows_ = body if isinstance(body, list) else body["instances"]
        predictions = answer if isinstance(body, list) else answer["predictions"]
        assert len(predictions) == len(rows_)
    else:
        problem = assert_problem(response.status_code, response.mimetype, answer, 422)
        assert problem["errors"]
        assert all(resolves(body, error["pointer"]) for error in problem["errors"]), problem["errors"]


@given(data=st.binary(max_size=200) | valid_bodies().map(lambda b: json.dumps(b).encode()).flatmap(
    lambda raw: st.integers(0, len(raw)).map(lambda cut: raw[:cut])))
def test_raw_bytes_never_cost_a_server_error(client, data):
    response = client.post("/predict", data=data, content_type="application/json")
    assert response.status_code < 500
    if response.status_code != 200:
        assert_problem(response.status_code, response.mimetype, response.get_json(force=True),
                       response.status_code)


@given(batch=batches)
def test_a_batch_equals_its_rows_predicted_one_at_a_time(client, batch):
    _, together = post(client, {"instances": batch})
    alone = [post(client, {"instances": [row]})[1]["predictions"][0] for row in batch]
    assert together["predictions"] == alone


@given(batch=batches)
def test_seed_form_rich_form_and_named_rows_agree(client, batch):
    _, seed = post(client, batch)
    _, arrays = post(client, {"instances": batch})
    _, named = post(client, {"instances": [as_named(row) for row in batch]})
    assert arrays == named
    assert seed == [prediction["label"] for prediction in arrays["predictions"]]
    for prediction in arrays["predictions"]:
        probabilities = prediction["probabilities"]
        assert abs(sum(probabilities.values()) - 1) < 1e-9
        assert prediction["class_name"] == max(probabilities, key=probabilities.get)


SITES = integer_sites(CONTRACT)
SITE_IDS = [f"{site.path} {pointer_to(*map(str, site.place))}{' binary' if site.tail is not None else ''}"
            for site in SITES]


def test_every_route_with_a_declared_integer_has_its_sites():
    declared = {site.operation_id for site in SITES}
    assert {"v2_infer", "v2_version_infer"} <= declared
    assert {site.place[-1] for site in SITES if site.tail is not None} == {0, "binary_data_size"}


def send(client, site, text: str):
    data, headers = site_request(site, text)
    return client.post(site.path, data=data, headers=headers)


@pytest.mark.parametrize("site", SITES, ids=SITE_IDS)
@given(data=st.data())
def test_a_whole_number_written_as_a_float_is_answered_as_that_integer(client, site, data):
    token = data.draw(whole_numbers_near(at(site.body, pointer_to(*map(str, site.place)))).flatmap(float_spellings))
    as_float = send(client, site, with_token(site.body, site.place, token))
    as_int = send(client, site, with_token(site.body, site.place, str(int(json.loads(token)))))
    assert as_float.status_code < 500, as_float.get_data(as_text=True)
    assert (as_float.status_code, as_float.get_json()) == (as_int.status_code, as_int.get_json()), token


@pytest.mark.parametrize("site", SITES, ids=SITE_IDS)
@given(value=st.integers(-5, 10**6), fraction=st.sampled_from([".5", ".25", ".000001"]),
       exponent=st.sampled_from(["", "e0", "E+0"]))
def test_a_fraction_where_an_integer_is_declared_is_refused_with_a_pointer(client, site, value, fraction, exponent):
    token = f"{value}{fraction}{exponent}"
    response = send(client, site, with_token(site.body, site.place, token))
    problem = assert_problem(response.status_code, response.mimetype, response.get_json(), response.status_code)
    assert 400 <= response.status_code < 500
    assert pointer_to(*map(str, site.place)) in [error["pointer"] for error in problem.get("errors", [])], problem
