"""Hypothesis strategies for contracts and request bodies, shared by the validation tests.

A ``Spec`` is what a contract of the real one's shape can vary (features,
bounds, categorical words); ``contract_for`` writes such a contract, and the
strategies draw bodies for it: valid ones, ones broken in every way a client
breaks one, cells at and beyond the edges. ``schemas`` and
``shaped_instances`` draw any mix of the keywords the schema compiler
supports, and values shaped like them.
"""

import copy
import json
import math
import operator
from typing import NamedTuple

import numpy as np
from hypothesis import strategies as st

from contract import load_contract, pointer_to
from contract.integers import ANY, integer_places
from contract.suite.documented import Contract

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


# --- whole numbers written as floats, wherever a request schema declares an integer ---

class IntegerSite(NamedTuple):
    """One integer a route's request carries: the route, its example body, and where in it."""
    path: str
    operation_id: str
    body: object
    place: tuple  # concrete tokens: keys and indexes
    tail: bytes | None  # sent as binary tensor data: ``body`` is its JSON header, these the bytes after it


def integer_sites(document: dict) -> list[IntegerSite]:
    """Every place of every documented request example where the operation's request schema
    declares an integer (``contract.integers``), on every path of every operation with a JSON
    body; an example that carries tensor data once more as binary tensor data, its JSON header
    holding the sizes."""
    contract = Contract(document)
    sites = []
    for operation in (operation for operation in contract.operations if "requestBody" in operation.spec):
        places = integer_places(document, pointer_to("paths", operation.path, operation.method, "requestBody",
                                                     "content", "application/json", "schema"))
        for body in contract.request_examples(operation).values():
            forms = [(body, None)] + ([binary_header(body)] if _has_tensor_data(body) else [])
            for path in contract.concrete_paths(operation):
                sites += [IntegerSite(path, operation.spec["operationId"], form, place, tail)
                          for form, tail in forms for place in _concrete(form, places)]
    return sites


def _has_tensor_data(body) -> bool:
    return isinstance(body, dict) and any(isinstance(tensor, dict) and "data" in tensor
                                          for tensor in body.get("inputs", []))


def binary_header(body: dict) -> tuple[dict, bytes]:
    """``body`` as binary tensor data: the JSON header (each input's size in its parameters) and the bytes."""
    header, raw = copy.deepcopy(body), b""
    for tensor in header["inputs"]:
        values = np.array(tensor.pop("data"), dtype="<f8" if tensor["datatype"] == "FP64" else "<f4")
        tensor["parameters"] = {**tensor.get("parameters", {}), "binary_data_size": values.nbytes}
        raw += values.tobytes()
    return header, raw


def _concrete(body, places) -> list[tuple]:
    """The concrete places of ``body`` that ``places`` (patterns, ``ANY`` a wildcard) name and that hold an int."""
    found = []

    def walk(node, pattern, done):
        if not pattern:
            if type(node) is int:
                found.append(done)
            return
        token, rest = pattern[0], pattern[1:]
        keys = (range(len(node)) if isinstance(node, list) else list(node) if isinstance(node, dict) else []) \
            if token is ANY else [token]
        for key in keys:
            if isinstance(node, list) and type(key) is int and key < len(node) or \
                    isinstance(node, dict) and key in node:
                walk(node[key], rest, (*done, key))

    for place in places:
        walk(body, place, ())
    return found


@st.composite
def float_spellings(draw, value: int) -> str:
    """``value`` as a JSON float token, as other languages and clients write whole numbers:
    ``2.0``, ``2e0``, ``2E+0``, ``2.00``, ``0.2e1``, ``20E-1``."""
    shift = draw(st.integers(0, 2))
    digits = str(abs(value)) + "0" * shift
    point = draw(st.integers(0, len(digits)))  # digits before the decimal point
    whole = digits[:point].lstrip("0") or "0"
    fraction = digits[point:] + "0" * draw(st.integers(0, 2))
    exponent = len(digits) - point - shift
    mantissa = whole + ("." + fraction if fraction else "")
    if exponent == 0 and fraction and draw(st.booleans()):
        token = mantissa
    else:
        sign = "-" if exponent < 0 else draw(st.sampled_from(["", "+"]))
        token = mantissa + draw(st.sampled_from("eE")) + sign + str(abs(exponent))
    return ("-" if value < 0 else "") + token


def with_token(body, place: tuple, token: str) -> str:
    """``body`` as JSON text, the value at ``place`` written as the raw ``token``."""
    marker = "\0token\0"
    body = copy.deepcopy(body)
    node = body
    for key in place[:-1]:
        node = node[key]
    node[place[-1]] = marker
    return json.dumps(body).replace(json.dumps(marker), token)


def site_request(site: IntegerSite, text: str) -> tuple[bytes, dict]:
    """The body and headers that send ``text`` to the site's route: as JSON, or as the JSON header of
    binary tensor data; the same request id always, so that two answers compare whole."""
    headers = {"Content-Type": "application/json", "X-Request-ID": "the-same-for-both"}
    data = text.encode()
    if site.tail is not None:
        headers["Inference-Header-Content-Length"] = str(len(data))
        data += site.tail
    return data, headers


def whole_numbers_near(value: int) -> st.SearchStrategy:
    """Whole numbers where checks of a count slip: the example's, its neighbours, zero, negatives, huge ones."""
    return (st.sampled_from([value, value - 1, value + 1, 0, -1, 2 * value]) | st.integers(-5, 100)
            | st.integers(0, 10**20))
