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
import logging
import math
import operator
from typing import NamedTuple

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from contract import load_contract, pointer_to, schema_validator
from contract.generate import generate_contract
from wsgi_service.schema_compiler import UnsupportedSchema, compile_schema
from wsgi_service.validation import PREDICT_REQUEST_SCHEMA, RequestValidator, SchemaViolations

CONTRACT = load_contract()
FLOAT32_MAX = float(np.finfo(np.float32).max)


class Spec(NamedTuple):
    """What a contract of the real one's shape can vary: the features, the
    bounds of numbers and the words of categorical features."""
    features: list[str]
    lower: tuple[str, float] | None  # ("minimum" or "exclusiveMinimum", bound)
    upper: tuple[str, float] | None
    categories: dict[str, list[str]]  # a categorical feature's words; the other features are numbers


def spec_of(document: dict) -> Spec:
    schemas = document["components"]["schemas"]
    value = schemas["FeatureValue"]

    def bound(*keywords):
        return next(((keyword, value[keyword]) for keyword in keywords if keyword in value), None)

    properties = schemas["NamedRow"]["properties"]
    return Spec(schemas["NamedRow"]["required"], bound("minimum", "exclusiveMinimum"),
                bound("maximum", "exclusiveMaximum"),
                {name: value["enum"] for name, value in properties.items() if "enum" in value})


def ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def contract_for(spec: Spec) -> dict:
    """A small OpenAPI document whose request schema is shaped like the one
    ``contract.generate`` writes: a categorical feature makes each array
    position a schema of its own."""
    value = {"type": "number", **dict(filter(None, [spec.lower, spec.upper]))}
    cell_schemas = [{"type": "string", "enum": spec.categories[name]} if name in spec.categories
                    else ref("FeatureValue") for name in spec.features]
    positions = {"prefixItems": cell_schemas, "items": False} if spec.categories else \
        {"items": ref("FeatureValue")}
    return {
        "openapi": "3.1.0",
        "paths": {"/predict": {"post": {"requestBody": {"content": {"application/json": {
            "schema": ref("PredictRequest")}}}}}},
        "components": {"schemas": {
            "FeatureValue": value,
            "Row": {"type": "array", **positions,
                    "minItems": len(spec.features), "maxItems": len(spec.features)},
            "NamedRow": {"type": "object", "required": spec.features, "additionalProperties": False,
                         "properties": dict(zip(spec.features, cell_schemas))},
            "SeedRequest": {"type": "array", "items": ref("Row"), "minItems": 1},
            "RichRequest": {"type": "object", "properties": {"instances": {
                "type": "array", "items": {"oneOf": [ref("Row"), ref("NamedRow")]}, "minItems": 1}},
                "required": ["instances"], "additionalProperties": False},
            "PredictRequest": {"oneOf": [ref("SeedRequest"), ref("RichRequest")]},
        }},
    }


IRIS = spec_of(CONTRACT)
HOSTILE = [True, False, None, "1.5", "", 10**39, 2**128, -2**128, math.inf, -math.inf,
           [], [1.0], {}, {"x": 1}]
# Each draw a copy: a mutation that edits a drawn list or dict must not edit HOSTILE.
hostile = st.sampled_from(HOSTILE).map(copy.deepcopy)


def passes(spec: Spec, value: float) -> bool:
    tests = {"minimum": operator.ge, "exclusiveMinimum": operator.gt,
             "maximum": operator.le, "exclusiveMaximum": operator.lt}
    return all(tests[keyword](value, bound)
               for keyword, bound in filter(None, [spec.lower, spec.upper]))


def edges(spec: Spec) -> list:
    """Values at and one step beyond each bound, as floats and as exact ints."""
    near = []
    for _, bound in filter(None, [spec.lower, spec.upper]):
        near += [bound, math.nextafter(bound, -math.inf), math.nextafter(bound, math.inf),
                 math.floor(bound) - 1, math.floor(bound), math.ceil(bound), math.ceil(bound) + 1]
    return near or [0.0]


def inside(spec: Spec) -> st.SearchStrategy:
    low = spec.lower[1] if spec.lower else None
    high = spec.upper[1] if spec.upper else None
    floats = st.floats(low, high, allow_nan=False, allow_infinity=False,
                       exclude_min=low is not None and spec.lower[0] == "exclusiveMinimum",
                       exclude_max=high is not None and spec.upper[0] == "exclusiveMaximum")
    # Ints near zero keep examples small; the huge ones come from the edges.
    integers = st.integers(-10**7 if low is None else max(math.ceil(low), -10**7),
                           10**7 if high is None else min(math.floor(high), 10**7))
    within_edges = [value for value in edges(spec) if passes(spec, value)]
    return floats | integers.filter(lambda value: passes(spec, value)) | st.sampled_from(within_edges)


def cells(spec: Spec) -> st.SearchStrategy:
    """A valid row as an array: a number within the bounds or one of the feature's words."""
    return st.tuples(*(st.sampled_from(spec.categories[name]) if name in spec.categories else inside(spec)
                       for name in spec.features)).map(list)


def near_words(spec: Spec) -> list:
    """The contract's words and strings close to them: case changed, a space
    before, a letter short, a NUL after."""
    words = [word for known in spec.categories.values() for word in known]
    return words + [variant for word in words
                    for variant in (word.upper(), word.lower(), f" {word}", word[:-1], word + "\0")]


def any_values(spec: Spec) -> st.SearchStrategy:
    leaves = (st.none() | st.booleans() | st.integers() | st.text(max_size=6)
              | st.floats(allow_nan=False) | hostile | st.sampled_from(edges(spec)))
    return st.recursive(leaves, lambda children: st.lists(children, max_size=5)
                        | st.dictionaries(st.text(max_size=8), children, max_size=5), max_leaves=20)


def replacements(spec: Spec) -> st.SearchStrategy:
    """What a mutation puts in a cell: often a hostile or edge value, or a
    word of another feature or close to one, where checks can slip."""
    near = st.sampled_from(near_words(spec)) if spec.categories else st.nothing()
    return st.sampled_from(edges(spec)) | hostile | near | any_values(spec)


@st.composite
def valid_bodies(draw, spec: Spec):
    # Shape first: Hypothesis draws the first choices most evenly.
    size, form = draw(st.integers(1, 8)), draw(st.sampled_from(["seed", "arrays", "named", "mixed"]))
    rows = draw(st.lists(cells(spec), min_size=size, max_size=size))
    if form == "seed":
        return rows
    named = {"arrays": False, "named": True}.get(form)
    return {"instances": [dict(zip(spec.features, row)) if (draw(st.booleans()) if named is None else named)
                          else row for row in rows]}


ROW_MUTATIONS = ["swap", "drop", "add", "rename", "other form", "wrap", "replace"]
BODY_MUTATIONS = ["empty", "rename", "extra key", "wrap", "switch form"]


def mutate_row(draw, spec: Spec, body, mutation: str):
    """One row broken: a value swapped, a cell or key dropped, added or renamed,
    the row turned into the other form, wrapped, or replaced."""
    rows = body if isinstance(body, list) else body.get("instances") if isinstance(body, dict) else None
    if not isinstance(rows, list) or not rows:
        return body
    index = draw(st.integers(0, len(rows) - 1))
    row = rows[index]
    places = list(row) if isinstance(row, dict) else range(len(row)) if isinstance(row, list) else []
    if mutation in ("swap", "drop", "rename") and places:
        place = draw(st.sampled_from(places))
        if mutation == "swap":
            row[place] = draw(replacements(spec))
        elif mutation == "drop":
            del row[place]
        elif isinstance(row, dict):
            row[draw(st.text(max_size=8))] = row.pop(place)
    elif mutation == "add" and isinstance(row, dict):
        row[draw(st.text(max_size=8) | st.sampled_from(spec.features))] = draw(replacements(spec))
    elif mutation == "add" and isinstance(row, list):
        row.append(draw(replacements(spec)))
    elif mutation == "other form" and isinstance(row, dict):
        rows[index] = list(row.values())
    elif mutation == "other form" and isinstance(row, list):
        rows[index] = dict(zip(spec.features, row))
    elif mutation == "wrap":
        rows[index] = [row]
    else:
        rows[index] = draw(any_values(spec))
    return body


def mutate_body(draw, spec: Spec, body, mutation: str):
    """The body around the rows broken: emptied, its key renamed or joined by another, rewrapped."""
    rich = isinstance(body, dict)
    if mutation == "empty":
        return {"instances": []} if rich else []
    if mutation == "rename" and rich:
        return {draw(st.text(max_size=10)): value for value in body.values()}
    if mutation == "extra key" and rich:
        body[draw(st.text(max_size=10))] = draw(any_values(spec))
        return body
    if mutation == "wrap":
        return [body] if draw(st.booleans()) else {"instances": body}
    return body.get("instances") if rich else {"instances": body}


MUTATIONS = [(mutate_row, name) for name in ROW_MUTATIONS] + [(mutate_body, name) for name in BODY_MUTATIONS]


@st.composite
def mutated_bodies(draw, spec: Spec):
    plan = draw(st.lists(st.sampled_from(MUTATIONS), min_size=1, max_size=3))
    body = draw(valid_bodies(spec))
    for mutate, mutation in plan:
        body = mutate(draw, spec, body, mutation)
    return body


@st.composite
def one_cell_at_an_edge(draw, spec: Spec):
    """A valid body but for one cell, set at or just past a bound: where a bound check can slip."""
    body = draw(valid_bodies(spec))
    row = draw(st.sampled_from(body if isinstance(body, list) else body["instances"]))
    row[draw(st.sampled_from(list(row) if isinstance(row, dict) else range(len(row))))] = \
        draw(st.sampled_from(edges(spec)))
    return body


@st.composite
def one_word_off(draw, spec: Spec):
    """A valid body but for one categorical cell, set to a word near one of
    the contract's (often not one of its own feature's): where an enum check can slip."""
    body = draw(valid_bodies(spec))
    row = draw(st.sampled_from(body if isinstance(body, list) else body["instances"]))
    name = draw(st.sampled_from(sorted(spec.categories)))
    row[name if isinstance(row, dict) else spec.features.index(name)] = \
        draw(st.sampled_from(near_words(spec)) | st.sampled_from([True, 1, 0.0, None]))
    return body


def bodies(spec: Spec) -> st.SearchStrategy:
    words_off = one_word_off(spec) if spec.categories else st.nothing()
    return (valid_bodies(spec) | mutated_bodies(spec) | one_cell_at_an_edge(spec) | words_off
            | any_values(spec))


REFERENCE = schema_validator(CONTRACT, PREDICT_REQUEST_SCHEMA)
ACCEPTS = compile_schema(CONTRACT, PREDICT_REQUEST_SCHEMA)
VALIDATOR = RequestValidator(CONTRACT)
TODAYS_VIOLATIONS = SchemaViolations(CONTRACT)


@settings(max_examples=400)
@given(body=bodies(IRIS))
def test_compiled_contract_accepts_exactly_what_jsonschema_accepts(body):
    assert ACCEPTS(body) == REFERENCE.is_valid(body)
    assert VALIDATOR.violations(body) == TODAYS_VIOLATIONS.find(body)


bounds = st.floats(-1e6, 1e6) | st.integers(-1000, 1000)


# Words a client may confuse with others: numbers and booleans spelled out, case, space.
category_words = st.sampled_from(["Kona", "kona", "Huila", "1", "1.0", "true", "null", "", " "]) \
    | st.text(max_size=6)


@st.composite
def specs(draw, categorical: bool = False):
    """A contract's features and bounds; with ``categorical``, some features
    (at least one) take words, as ``python -m training --categorical`` makes them."""
    features = draw(st.lists(st.text(min_size=1, max_size=6), min_size=1, max_size=5, unique=True))
    low = draw(bounds)
    high = low + draw(st.integers(3, 1000) | st.floats(3, 1e6))  # room for ints strictly inside
    lower = draw(st.none() | st.tuples(st.sampled_from(["minimum", "exclusiveMinimum"]), st.just(low)))
    upper = draw(st.none() | st.tuples(st.sampled_from(["maximum", "exclusiveMaximum"]), st.just(high)))
    categorical_features = draw(st.lists(st.sampled_from(features), min_size=1, unique=True)) \
        if categorical else []
    categories = {name: draw(st.lists(category_words, min_size=1, max_size=4, unique=True))
                  for name in categorical_features}
    return Spec(features, lower, upper, categories)


@settings(max_examples=150)
@given(data=st.data(), spec=specs())
def test_compiled_synthetic_contracts_accept_exactly_what_jsonschema_accepts(data, spec):
    document = contract_for(spec)
    body = data.draw(bodies(spec))
    assert compile_schema(document, PREDICT_REQUEST_SCHEMA)(body) == \
        schema_validator(document, PREDICT_REQUEST_SCHEMA).is_valid(body)
    assert RequestValidator(document).violations(body) == SchemaViolations(document).find(body)


@settings(max_examples=150)
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


def test_a_generated_contract_with_words_is_compiled_and_shaped_like_the_synthetic_ones(caplog):
    """What ``python -m training --categorical`` writes keeps the fast path, and
    is what the synthetic contracts above imitate, so their proof holds for it."""
    manifest = {"name": "lots", "version": "1.0.0", "sha256": "0" * 64, "target": {"name": "grade"},
                "features": [{"name": "origin", "categories": ["Huila", "Kona"]},
                             {"name": "acidity", "min": 5.0, "max": 8.0}],
                "classes": [{"label": "a", "name": "a"}, {"label": "b", "name": "b"}]}
    document = generate_contract(manifest, [["Kona", 7.0]], [[0.8, 0.2]])
    with caplog.at_level(logging.WARNING, logger="wsgi_service.validation"):
        validator = RequestValidator(document)
    assert "not compiled" not in caplog.text
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


@settings(max_examples=50)
@given(spec=specs())
def test_every_edge_and_hostile_cell_is_judged_as_jsonschema_judges_it(spec):
    document = contract_for(spec)
    accepts = compile_schema(document, PREDICT_REQUEST_SCHEMA)
    reference = schema_validator(document, PREDICT_REQUEST_SCHEMA)
    for value in edges(spec) + HOSTILE:
        row = [value] * len(spec.features)
        for body in ([row], {"instances": [row]}, {"instances": [dict(zip(spec.features, row))]}):
            assert accepts(body) == reference.is_valid(body), body


ROOT = pointer_to("components", "schemas", "Root")
NAMES = ["a", "b", "c"]
TYPE_NAMES = ["null", "boolean", "number", "string", "array", "object"]
small_numbers = st.integers(-3, 3) | st.sampled_from([-1.5, -0.5, 0.0, 0.5, 1.5, 2.5, 10**20])
type_names = (st.sampled_from(TYPE_NAMES)
              | st.lists(st.sampled_from(TYPE_NAMES), min_size=1, max_size=3, unique=True))
refs = st.sampled_from([ref("Root"), ref("Bounded")])
# Members JSON tells apart though Python's == does not (true and 1, false and 0),
# and members JSON equates (1 and 1.0, 10**20 and 1e20).
CONFUSABLE = [True, 1, 1.0, 0, False, "1"]
enum_members = st.sampled_from([*CONFUSABLE, 0.0, -0.0, 1.5, 10**20, 1e20, None, "", "a", "true"])
enums = (st.lists(enum_members, min_size=1, max_size=5) | st.just(CONFUSABLE) | st.just([])
         | st.lists(st.sampled_from(CONFUSABLE), min_size=1, max_size=3, unique_by=repr))


def branches(children):
    # A branch repeated makes branches overlap, where oneOf and anyOf differ.
    listed = st.lists(children, min_size=1, max_size=3)
    return listed | listed.map(lambda schemas: schemas + schemas[:1])


def composite_schemas(children):
    # A $ref to Root only below items or properties, so recursion consumes the value.
    below = children | refs
    return (st.fixed_dictionaries({"type": st.just("array")}, optional={
                "prefixItems": st.lists(below, min_size=1, max_size=3), "items": st.just(False) | below,
                "minItems": st.integers(0, 3), "maxItems": st.integers(0, 3)})
            | st.fixed_dictionaries({"type": st.just("object")}, optional={
                "properties": st.dictionaries(st.sampled_from(NAMES), below, min_size=1, max_size=3),
                "required": st.lists(st.sampled_from(NAMES), unique=True, max_size=3),
                "additionalProperties": st.just(False) | below})
            | st.fixed_dictionaries({}, optional={
                "oneOf": branches(children), "anyOf": branches(children),
                "$ref": st.just("#/components/schemas/Bounded"), "type": type_names, "enum": enums,
                "description": st.just("an annotation")}))


enum_schemas = st.fixed_dictionaries({"enum": enums}, optional={"type": type_names})
leaf_schemas = (st.booleans() | st.builds(lambda names: {"type": names}, type_names)
                | st.fixed_dictionaries({"type": st.just("number")}, optional={
                    keyword: small_numbers
                    for keyword in ("minimum", "exclusiveMinimum", "maximum", "exclusiveMaximum")})
                | enum_schemas)
schemas = st.recursive(leaf_schemas, composite_schemas, max_leaves=8)
instances = st.recursive(
    st.none() | st.booleans() | small_numbers | st.sampled_from(["", "a", "1"]),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.sampled_from([*NAMES, "d"]), children, max_size=4), max_leaves=12)
BOUNDED = {"type": "number", "minimum": -1, "exclusiveMaximum": 2}
SCALARS = {"null": st.none(), "boolean": st.booleans(), "number": small_numbers,
           "string": st.sampled_from(["", "a", "1"])}


def look_alikes(member) -> list:
    """The member and values that look like it: the bool, int, float and
    string Python's == or str() pairs with it, equal in JSON or not."""
    if type(member) in (bool, int, float):
        return [member, bool(member), int(member), float(member), str(member)]
    return [member, str(member), str(member).upper()]


def shaped(draw, schema, document, depth=0):
    """A value following the schema's shape (often valid, sometimes not), so
    that the checks deep inside a schema are reached, not only its type test."""
    if not isinstance(schema, dict) or depth > 4 or draw(st.integers(0, 5)) == 0:
        return draw(instances)
    alternatives = schema.get("oneOf", []) + schema.get("anyOf", [])
    if alternatives and draw(st.booleans()):
        return shaped(draw, draw(st.sampled_from(alternatives)), document, depth + 1)
    if "$ref" in schema and draw(st.booleans()):
        target = document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
        return shaped(draw, target, document, depth + 1)
    if schema.get("enum") and draw(st.booleans()):
        return draw(st.sampled_from(look_alikes(draw(st.sampled_from(schema["enum"])))))
    kind = schema.get("type", "object")
    kind = draw(st.sampled_from(kind)) if isinstance(kind, list) else kind
    if kind == "array":
        prefix = schema.get("prefixItems", [])
        held_to = [*prefix, *[schema.get("items")] * 4]  # the schema of each position
        return [shaped(draw, held_to[index], document, depth + 1)
                for index in range(draw(st.integers(0, len(held_to))))]
    if kind == "object":
        value = {name: shaped(draw, sub, document, depth + 1)
                 for name, sub in schema.get("properties", {}).items() if draw(st.integers(0, 3))}
        if draw(st.booleans()):
            other = shaped(draw, schema.get("additionalProperties"), document, depth + 1)
            value[draw(st.sampled_from([*NAMES, "d"]))] = other
        return value
    return draw(SCALARS[kind])


@st.composite
def shaped_instances(draw, schema, document):
    return shaped(draw, schema, document)


@settings(max_examples=400)
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


@settings(max_examples=300)
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


@settings(max_examples=300)
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


@pytest.mark.parametrize("schema, pointer", [
    ({"type": "number", "multipleOf": 0.5}, ROOT),
    ({"type": "string", "format": "date-time"}, ROOT),
    ({"type": "integer"}, ROOT),
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


def test_an_unknown_keyword_leaves_validation_to_jsonschema(caplog):
    document = copy.deepcopy(CONTRACT)
    document["components"]["schemas"]["FeatureValue"]["multipleOf"] = 0.5
    with caplog.at_level(logging.WARNING, logger="wsgi_service.validation"):
        validator = RequestValidator(document)
    assert "multipleOf" in caplog.text
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
