"""The compiled request schema, judged by jsonschema itself.

The compiled predicate is only allowed to say "valid" where a reference
Draft 2020-12 validator (``contract.schema_validator``) says so too; on the
bodies clients send it should also never say "invalid" where jsonschema says
"valid", or those bodies take the slow path. Bodies are generated for the
real contract, for synthetic contracts of the same shape (other feature names
and counts, other bounds, words as features), and schemas for any mix of the
supported keywords.
"""


import copy
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from contract import pointer_to, schema_validator
from contract.generate import generate_contract
from tests.support.contract_strategies import (
    BOUNDED, CONFUSABLE, CONTRACT, FLOAT32_MAX, HOSTILE, IRIS,
    ROOT, bodies, contract_for, edges, enum_schemas, instances,
    leaf_schemas, look_alikes, ref, refs, schemas, shaped_instances,
    spec_of, specs, valid_bodies,
)
from tests.support.profiles import examples
from wsgi_service.enforcement.schema_compiler import UnsupportedSchema, compile_schema
from wsgi_service.enforcement.validation import (PREDICT_REQUEST_SCHEMA, RequestValidator, SchemaViolations,
                                                 UncompiledSchema)


REFERENCE = schema_validator(CONTRACT, PREDICT_REQUEST_SCHEMA)


ACCEPTS = compile_schema(CONTRACT, PREDICT_REQUEST_SCHEMA)


VALIDATOR = RequestValidator(CONTRACT)


TODAYS_VIOLATIONS = SchemaViolations(CONTRACT)


@settings(max_examples=examples(400))
@given(body=bodies(IRIS))
def test_compiled_contract_accepts_exactly_what_jsonschema_accepts(body):
    assert ACCEPTS(body) == REFERENCE.is_valid(body)
    assert VALIDATOR.violations(body) == TODAYS_VIOLATIONS.find(body)


@settings(max_examples=examples(150))
@given(data=st.data(), spec=specs())
def test_compiled_synthetic_contracts_accept_exactly_what_jsonschema_accepts(data, spec):
    document = contract_for(spec)
    body = data.draw(bodies(spec))
    assert compile_schema(document, PREDICT_REQUEST_SCHEMA)(body) == \
        schema_validator(document, PREDICT_REQUEST_SCHEMA).is_valid(body)
    assert RequestValidator(document).violations(body) == SchemaViolations(document).find(body)


@settings(max_examples=examples(150))
@given(data=st.data(), spec=specs(categorical=True))
def test_contracts_with_categorical_features_accept_exactly_what_jsonschema_accepts(data, spec):
    """Rows as arrays (``prefixItems``, ``items: false``) and as objects (a
    property's ``enum``), with words where the numbers were."""
    document = contract_for(spec)
    accepts = compile_schema(document, PREDICT_REQUEST_SCHEMA)
    reference = schema_validator(document, PREDICT_REQUEST_SCHEMA)
    assert accepts(data.draw(valid_bodies(spec)))  # what clients send stays on the fast path
    body = data.draw(bodies(spec))
    assert accepts(body) == reference.is_valid(body)
    assert RequestValidator(document).violations(body) == SchemaViolations(document).find(body)


def test_a_generated_contract_with_words_is_compiled_and_shaped_like_the_synthetic_ones():
    """What ``python -m training --categorical`` writes keeps the fast path (an
    ``UncompiledSchema`` warning would fail the test), and is what the
    synthetic contracts above imitate, so their proof holds for it."""
    manifest = {"name": "lots", "version": "1.0.0", "sha256": "0" * 64, "target": {"name": "grade"},
                "features": [{"name": "origin", "categories": ["Huila", "Kona"]},
                             {"name": "acidity", "min": 5.0, "max": 8.0}],
                "classes": [{"label": "a", "name": "a"}, {"label": "b", "name": "b"}]}
    document = generate_contract(manifest, [["Kona", 7.0]], [[0.8, 0.2]])
    validator = RequestValidator(document)
    spec = spec_of(document)
    assert spec.categories == {"origin": ["Huila", "Kona"]}
    synthetic = contract_for(spec)["components"]["schemas"]
    generated = without_descriptions(document["components"]["schemas"])
    assert {name: generated[name] for name in ("FeatureValue", "Row", "NamedRow")} == \
        {name: synthetic[name] for name in ("FeatureValue", "Row", "NamedRow")}
    assert validator.violations([["Kona", 7.0], ["Huila", 5]]) == []
    assert validator.violations({"instances": [{"origin": "Kona", "acidity": 7.0}, ["kona", 7.0]]}) == \
        [("/instances/1/0", "fails 'enum': 'kona'")]


def without_descriptions(node):
    if isinstance(node, dict):
        return {key: without_descriptions(value) for key, value in node.items() if key != "description"}
    return [without_descriptions(value) for value in node] if isinstance(node, list) else node


@settings(max_examples=examples(50))
@given(spec=specs())
def test_every_edge_and_hostile_cell_is_judged_as_jsonschema_judges_it(spec):
    document = contract_for(spec)
    accepts = compile_schema(document, PREDICT_REQUEST_SCHEMA)
    reference = schema_validator(document, PREDICT_REQUEST_SCHEMA)
    for value in edges(spec) + HOSTILE:
        row = [value] * len(spec.features)
        for body in ([row], {"instances": [row]}, {"instances": [dict(zip(spec.features, row))]}):
            assert accepts(body) == reference.is_valid(body), body


@settings(max_examples=examples(400))
@given(data=st.data(), schema=schemas)
def test_compiler_agrees_with_jsonschema_on_any_mix_of_supported_keywords(data, schema):
    document = {"components": {"schemas": {"Root": schema, "Bounded": BOUNDED}}}
    instance = data.draw(shaped_instances(schema, document) | instances)
    assert compile_schema(document, ROOT)(instance) == schema_validator(document, ROOT).is_valid(instance)


def agrees_one_by_one_and_as_a_batch(schema: object, values: list) -> None:
    """The schema compiled alone judges each value as jsonschema does; as the
    items of an array it accepts the valid values as one batch, and rejects
    that batch joined by any one invalid value (where a batch check can slip)."""
    one, batch = pointer_to("components", "schemas", "One"), ROOT
    document = {"components": {"schemas": {"One": schema, "Root": {"type": "array", "items": schema},
                                           "Bounded": BOUNDED}}}
    compiled, reference = compile_schema(document, one), schema_validator(document, one)
    for value in values:
        assert compiled(value) == reference.is_valid(value), value
    compiled_batch, reference_batch = compile_schema(document, batch), schema_validator(document, batch)
    valid = [value for value in values if reference.is_valid(value)]
    for joined in [values, valid, *([*valid, value] for value in values if not reference.is_valid(value))]:
        assert compiled_batch(joined) == reference_batch.is_valid(joined), joined


@pytest.mark.parametrize("members, value, valid", [
    ([True, 0], False, False), ([True, 0], True, True), ([True, 0], 0.0, True), ([True, 0], 1, False),
    ([1], 1.0, True), ([1.0], 1, True), ([1.0], True, False), ([False], 0, False), ([0], False, False),
    ([0], -0.0, True), ([10**20], 1e20, True), ([10**20], 10**20 + 1, False), (["1"], 1, False),
    ([1], "1", False), ([None], False, False), ([None], None, True), ([], None, False),
    (["Kona"], "kona", False), (["Kona"], "Kona", True), (CONFUSABLE, "0", False), (CONFUSABLE, 0.0, True),
])
def test_enum_equality_is_json_equality(members, value, valid):
    """1 equals 1.0, but true is not 1 and false is not 0, whatever Python's == says."""
    assert schema_validator({"Root": {"enum": members}}, "/Root").is_valid(value) is valid
    # In a batch beside a member, so that values of two types are looked up at once.
    agrees_one_by_one_and_as_a_batch({"enum": members}, [value])
    agrees_one_by_one_and_as_a_batch({"enum": members}, [value, *members[:1]])


@settings(max_examples=examples(300))
@given(data=st.data(), schema=enum_schemas)
def test_enum_agrees_with_jsonschema_value_by_value_and_in_batches(data, schema):
    """Every member's look-alikes and every confusable value are tried, not a sample."""
    alike = [alike for member in schema["enum"] for alike in look_alikes(member)]
    others = data.draw(st.lists(instances, max_size=3))
    agrees_one_by_one_and_as_a_batch(schema, alike + CONFUSABLE + [0.0, 2, None, "", "a", "0"] + others)


@st.composite
def arrays_with_a_prefix(draw):
    """``prefixItems`` with ``items`` false, true or a schema, and arrays of
    every length around the prefix's, their items often valid where they stand."""
    row = draw(st.fixed_dictionaries(
        {"type": st.just("array"), "prefixItems": st.lists(leaf_schemas | refs, min_size=1, max_size=3)},
        optional={"minItems": st.integers(0, 4), "maxItems": st.integers(0, 4)}))
    rest = draw(st.sampled_from([False, True, "absent"]) | leaf_schemas)
    if rest != "absent":
        row["items"] = rest
    document = {"components": {"schemas": {"Root": row, "Bounded": BOUNDED}}}
    positions = row["prefixItems"] + [row.get("items", True)] * 2
    longest = st.tuples(*(shaped_instances(schema, document) for schema in positions)).map(list)
    # Every length of a drawn array, so that each is judged short, full and too long.
    return row, [array[:length] for array in draw(st.lists(longest, min_size=1, max_size=3))
                 for length in range(len(positions) + 1)]


@settings(max_examples=examples(300))
@given(case=arrays_with_a_prefix())
def test_prefix_items_agree_with_jsonschema_array_by_array_and_in_batches(case):
    """Arrays shorter than the prefix, as long, and longer, checked position by position in a batch."""
    row, arrays = case
    agrees_one_by_one_and_as_a_batch(row, arrays)


@pytest.mark.parametrize("value, valid", [
    (True, False), (False, False), (None, False), ("1.0", False), ([1.0], False),
    (10**39, False), (2**128, False), (-2**128, False), (math.inf, False), (-math.inf, False),
    (FLOAT32_MAX, True), (-FLOAT32_MAX, True), (math.nextafter(FLOAT32_MAX, math.inf), False),
    (math.nextafter(-FLOAT32_MAX, -math.inf), False), (int(FLOAT32_MAX), True),
    (int(FLOAT32_MAX) + 1, False), (0, True), (-0.0, True), (5e-324, True),
])
def test_a_cell_is_a_json_number_within_float32_exactly_as_jsonschema_says(value, valid):
    row = [1.0] * (len(IRIS.features) - 1) + [value]
    for body in ([row], {"instances": [row]}, {"instances": [dict(zip(IRIS.features, row))]}):
        assert ACCEPTS(body) is REFERENCE.is_valid(body) is valid


def test_valid_bodies_never_reach_jsonschema(monkeypatch):
    monkeypatch.setattr(SchemaViolations, "find", lambda self, body: pytest.fail("jsonschema consulted"))
    examples = CONTRACT["paths"]["/predict"]["post"]["requestBody"]["content"]["application/json"][
        "examples"]
    for example in examples.values():
        assert VALIDATOR.violations(example["value"]) == []


@pytest.mark.parametrize("value", [0, 1, 3, -2, 10**30, -10**30, 0.0, 1.0, 3.0, 1.5, -0.5, True, False, "1", None, [1]])
def test_an_integer_is_an_int_and_an_integral_float_is_left_to_jsonschema(value):
    """Sound, not complete: 1.0 is an integer to jsonschema; the predicate's no sends it there."""
    schema = {"type": "integer", "minimum": 1}
    document = {"components": {"schemas": {"Root": schema}}}
    compiled = compile_schema(document, ROOT)(value)
    reference = schema_validator(document, ROOT).is_valid(value)
    if type(value) is float and value.is_integer():
        assert compiled is False
    else:
        assert compiled is reference


@pytest.mark.parametrize("schema, pointer", [
    ({"type": "number", "multipleOf": 0.5}, ROOT),
    ({"type": "string", "format": "date-time"}, ROOT),
    ({"prefixItems": [{"type": "number"}]}, ROOT),
    ({"type": "array", "prefixItems": []}, ROOT),
    ({"type": "array", "prefixItems": {"type": "number"}}, ROOT),
    ({"enum": [1, [1]]}, ROOT),
    ({"type": "object", "enum": [{"a": 1}]}, ROOT),
    ({"enum": "abc"}, ROOT),
    ({"allOf": [{"type": "number"}]}, ROOT),
    ({"minimum": 0}, ROOT),
    ({"type": ["number", "null"], "minimum": 0}, ROOT),
    ({"type": "string", "maxItems": 2}, ROOT),
    ({"$ref": "other.json#/components/schemas/Row"}, ROOT),
    ({"$ref": "#/components/schemas/Missing"}, ROOT),
    ({"$id": "urn:elsewhere", "$defs": {"Inner": {"type": "number"}}}, ROOT + "/$defs/Inner"),
])
def test_what_the_compiler_does_not_know_it_refuses(schema, pointer):
    with pytest.raises(UnsupportedSchema):
        compile_schema({"components": {"schemas": {"Root": schema}}}, pointer)


def test_an_unknown_keyword_warns_and_leaves_validation_to_jsonschema():
    """Said at start as an ``UncompiledSchema`` warning (a failure wherever a test
    does not expect it), and every body still judged exactly, by jsonschema."""
    document = copy.deepcopy(CONTRACT)
    document["components"]["schemas"]["FeatureValue"]["multipleOf"] = 0.5
    with pytest.warns(UncompiledSchema, match=r"request schema /paths/~1predict/\S+ not compiled "
                                              r"\(.*FeatureValue: unsupported keywords \['multipleOf'\]\)"):
        validator = RequestValidator(document)
    halves = [0.5 * (index + 1) for index in range(len(IRIS.features))]
    assert validator.violations([halves]) == []
    assert validator.violations({"instances": [halves, [0.3, *halves[1:]]]}) == \
        [("/instances/1/0", "fails 'multipleOf': 0.3")]


def test_items_beside_prefix_items_hold_only_the_items_after_the_prefix():
    row = {"type": "array", "prefixItems": [{"type": "string", "enum": ["Kona"]}],
           "items": {"type": "number"}}
    agrees_one_by_one_and_as_a_batch(row, [["Kona"], ["Kona", 1.5], [], ["Kona", "Kona"], [1.5]])
    closed = {**row, "items": False}
    agrees_one_by_one_and_as_a_batch(closed, [[], ["Kona"], ["Kona", 1.5], ["Kona", "Kona"]])
    assert compile_schema({"Row": {"type": "array", "items": closed}}, "/Row")([["Kona"], [], ["Kona"]])
    assert not compile_schema({"Row": {"type": "array", "items": closed}}, "/Row")([["Kona"], ["Kona", 1.5]])


def test_a_recursive_schema_leaves_a_value_too_deep_to_jsonschema():
    document = {"components": {"schemas": {"Root": {"type": "array", "items": ref("Root")}}}}
    accepts = compile_schema(document, ROOT)
    deep = []
    for _ in range(10_000):
        deep = [deep]
    assert accepts([[], [[]]]) and not accepts([[], [1]])
    assert accepts(deep) is False
