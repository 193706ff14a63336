"""``type``, and the keywords that constrain the values of one JSON type: bounds, arrays, objects.

Each is compiled only beside a ``type`` naming exactly the type it applies
to, so that "applies only to numbers" needs no code of its own: the type
pass runs first, and the keyword's check sees only values of its type. A
sub-schema (an array's items, an object's properties) is compiled by the
driver's ``compile``, handed in, so that a ``$ref`` inside it is resolved
and compiled once, as everywhere else.
"""

from collections.abc import Callable
from itertools import chain, repeat
from math import inf
from operator import ge, gt, itemgetter, le, lt

from contract import pointer_to
from wsgi_service.enforcement.compiled_checks import ANYTHING, NOTHING, PYTHON_TYPES, Compiled, UnsupportedSchema

# Compiles the sub-schema found at a place (its pointer, for messages).
SubCompiler = Callable[[object, str], Compiled]

# Keywords that constrain values of one JSON type, and that type.
TYPED_KEYWORDS = {
    "minimum": "number", "exclusiveMinimum": "number",
    "maximum": "number", "exclusiveMaximum": "number",
    "prefixItems": "array", "items": "array", "minItems": "array", "maxItems": "array",
    "properties": "object", "required": "object", "additionalProperties": "object",
}
# Each bound: which end of a list of numbers it limits, and the test that end must pass.
_BOUNDS = {"minimum": (min, ge), "exclusiveMinimum": (min, gt),
           "maximum": (max, le), "exclusiveMaximum": (max, lt)}


def typed(schema: dict, where: str, compile_sub: SubCompiler) -> Compiled:
    """``type`` and the keywords beside it that apply to that type."""
    names = [schema["type"]] if isinstance(schema["type"], str) else schema["type"]
    if not isinstance(names, list) or not names or not all(name in PYTHON_TYPES for name in names):
        raise UnsupportedSchema(f"{where}: unsupported type {schema['type']!r}")
    accepted = frozenset().union(*(PYTHON_TYPES[name] for name in names))
    keywords = schema.keys() & TYPED_KEYWORDS.keys()
    kinds = {"number" if name == "integer" else name for name in names}  # an integer's bounds are a number's
    if keywords and {TYPED_KEYWORDS[keyword] for keyword in keywords} != kinds:
        raise UnsupportedSchema(f"{where}: {sorted(keywords)} beside type {schema['type']!r}")
    contents_valid = None
    if keywords:
        kind = kinds.pop()
        contents_valid = _numbers(schema, where) if kind == "number" else \
            {"array": _arrays, "object": _objects}[kind](schema, where, compile_sub)

    def all_valid(values: list) -> bool:
        # The type pass first, so that the contents checks see only their own type.
        return accepted.issuperset(map(type, values)) and (
            contents_valid is None or contents_valid(values))

    return Compiled(all_valid, accepted)


def _numbers(schema: dict, where: str) -> Callable[[list], bool]:
    bounds = [(*_BOUNDS[keyword], _number(schema, keyword, where))
              for keyword in _BOUNDS if keyword in schema]

    def all_valid(numbers: list) -> bool:
        # Python compares an int with a float exactly, so a huge int is
        # judged by its true value, as jsonschema judges it. A NaN (never
        # decoded from JSON) either makes min() or max() NaN, which fails
        # every bound, or is passed over, as jsonschema passes over it.
        return not numbers or all(passes(end(numbers), bound) for end, passes, bound in bounds)

    return all_valid


def _arrays(schema: dict, where: str, compile_sub: SubCompiler) -> Callable[[list], bool]:
    shortest = _count(schema, "minItems", where, default=0)
    longest = _count(schema, "maxItems", where, default=inf)
    prefix = _prefix(schema, where, compile_sub)
    # 2020-12 "items" holds the elements after the prefix (all of them when
    # there is none) to one schema; "items": false is only a length limit.
    rest = compile_sub(schema.get("items", True), f"{where}/items")
    if rest is NOTHING:
        longest = min(longest, len(prefix))

    def all_valid(arrays: list) -> bool:
        fewest = 0
        if arrays:
            lengths = set(map(len, arrays))
            fewest = min(lengths)
            if fewest < shortest or max(lengths) > longest:
                return False
        # The elements at one position of all arrays are checked as one
        # list, taken at C speed when every array reaches that position.
        for index, check in enumerate(prefix):
            column = list(map(itemgetter(index), arrays)) if index < fewest else \
                [array[index] for array in arrays if index < len(array)]
            if not check.all_valid(column):
                return False
        if rest is ANYTHING or rest is NOTHING:
            return True
        after = arrays if not prefix else (array[len(prefix):] for array in arrays)
        return rest.all_valid(list(chain.from_iterable(after)))

    return all_valid


def _prefix(schema: dict, where: str, compile_sub: SubCompiler) -> list[Compiled]:
    """One compiled schema per leading position, from ``prefixItems``."""
    if "prefixItems" not in schema:
        return []
    schemas = schema["prefixItems"]
    if not isinstance(schemas, list) or not schemas:
        raise UnsupportedSchema(f"{where}/prefixItems: must be a non-empty list")
    return [compile_sub(sub, f"{where}/prefixItems/{index}") for index, sub in enumerate(schemas)]


def _objects(schema: dict, where: str, compile_sub: SubCompiler) -> Callable[[list], bool]:
    properties = schema.get("properties", {})
    required = schema.get("required", [])
    if not isinstance(properties, dict) or not isinstance(required, list) or \
            not all(isinstance(name, str) for name in required):
        raise UnsupportedSchema(f"{where}: malformed properties or required")
    checks = {name: compile_sub(sub, f"{where}/properties{pointer_to(name)}")
              for name, sub in properties.items()}
    required, known = frozenset(required), frozenset(checks)
    others = compile_sub(schema.get("additionalProperties", True), f"{where}/additionalProperties")
    # With every property required (and present), "no other names" is a count.
    closed = others is NOTHING
    counted = closed and required >= known

    def all_valid(objects: list) -> bool:
        try:
            columns = {name: list(map(itemgetter(name), objects)) for name in required}
        except KeyError:  # a required name is missing
            return False
        if counted and objects and max(map(len, objects)) > len(known):
            return False
        if closed and not counted and not all(map(le, map(dict.keys, objects), repeat(known))):
            return False
        for name, check in checks.items():
            values = columns[name] if name in columns else [obj[name] for obj in objects if name in obj]
            if not check.all_valid(values):
                return False
        if others is ANYTHING or closed:
            return True
        return others.all_valid([value for obj in objects
                                 for name, value in obj.items() if name not in known])

    return all_valid


def _number(schema: dict, keyword: str, where: str) -> int | float:
    value = schema[keyword]
    if type(value) not in (int, float):
        raise UnsupportedSchema(f"{where}/{keyword}: not a number")
    return value


def _count(schema: dict, keyword: str, where: str, default: int | float) -> int | float:
    if keyword not in schema:
        return default
    value = schema[keyword]
    if type(value) is not int or value < 0:
        raise UnsupportedSchema(f"{where}/{keyword}: not a non-negative integer")
    return value
