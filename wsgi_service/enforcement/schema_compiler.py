"""Compile a JSON Schema inside the contract into a fast Python predicate.

jsonschema walks the schema anew for every value it checks, which costs
seconds for a batch of 10,000 rows. Here a schema is translated once, at
start, into closures that check a whole list of values at a time: the types of
all values in one C-level pass, bounds through ``min()`` and ``max()``, an
``enum`` through one set lookup, the cells of every row of a batch as one
flattened list (or, under ``prefixItems``, one list per position), and a
``oneOf`` whose branches take different JSON types by sending each value to
its branch.

Only the keywords named in ``SUPPORTED`` are understood. Any other keyword
(``format``, ``pattern``, ``multipleOf``, ...) makes ``compile_schema``
raise ``UnsupportedSchema``, and the caller keeps using jsonschema alone.

The predicate is sound but not complete: it never accepts what jsonschema
(Draft 2020-12) rejects, but may reject an oddity jsonschema accepts (a NaN, a
subclass of int, a schema recursing deeper than the stack). Callers must read
a rejection as "ask jsonschema".
"""

from collections.abc import Callable, Iterable
from itertools import chain, repeat
from math import inf
from operator import ge, gt, itemgetter, le, lt
from typing import NamedTuple
from urllib.parse import unquote

from contract import pointer_to

# A JSON type name and the exact Python types that JSON decoding gives it.
# Exact, never isinstance: bool is a subclass of int yet is no JSON number.
# "integer" is an int only, though jsonschema counts 1.0 as one too: the
# predicate may refuse what jsonschema accepts (its no means "ask jsonschema").
_PYTHON_TYPES = {
    "null": frozenset({type(None)}),
    "boolean": frozenset({bool}),
    "number": frozenset({int, float}),
    "integer": frozenset({int}),
    "string": frozenset({str}),
    "array": frozenset({list}),
    "object": frozenset({dict}),
}
# Keywords that only annotate a schema: no value is ever invalid because of them.
_ANNOTATIONS = frozenset({"title", "description", "examples", "example", "default",
                          "deprecated", "readOnly", "writeOnly", "$comment"})
# Keywords that constrain values of one JSON type, and that type. They are
# compiled only beside a ``type`` naming exactly that type, so that "applies
# only to numbers" needs no code of its own.
_TYPED_KEYWORDS = {
    "minimum": "number", "exclusiveMinimum": "number",
    "maximum": "number", "exclusiveMaximum": "number",
    "prefixItems": "array", "items": "array", "minItems": "array", "maxItems": "array",
    "properties": "object", "required": "object", "additionalProperties": "object",
}
# Each bound: which end of a list of numbers it limits, and the test that end must pass.
_BOUNDS = {"minimum": (min, ge), "exclusiveMinimum": (min, gt),
           "maximum": (max, le), "exclusiveMaximum": (max, lt)}
SUPPORTED = _ANNOTATIONS | _TYPED_KEYWORDS.keys() | {"type", "enum", "$ref", "oneOf", "anyOf"}
# The JSON type of each exact Python type, to tell which values an ``enum`` member can equal.
_JSON_TYPE_OF = {python_type: name for name, python_types in _PYTHON_TYPES.items() if name != "integer"
                 for python_type in python_types}
_SCALAR_TYPES = ("null", "boolean", "number", "string")


class UnsupportedSchema(ValueError):
    """The schema uses something this compiler does not translate."""


class _Compiled(NamedTuple):
    all_valid: Callable[[list], bool]
    """Whether every value in the list is valid (so True for an empty list)."""
    types: frozenset | None
    """The exact Python types of every value the schema can accept; None when not known."""


_ANYTHING = _Compiled(lambda values: True, None)
_NOTHING = _Compiled(lambda values: not values, frozenset())


def compile_schema(document: dict, pointer: str) -> Callable[[object], bool]:
    """A predicate that is True only for values the schema at ``pointer`` accepts.

    ``pointer`` is a URI fragment, as in a ``$ref``. ``$ref``s resolve inside
    ``document``, as ``contract.schema_validator`` resolves them. Raises
    ``UnsupportedSchema`` rather than guess.
    """
    all_valid = compile_batch(document, unquote(pointer))
    return lambda instance: all_valid([instance])


def compile_batch(document: dict, pointer: str) -> Callable[[list], bool]:
    """A predicate on a list, True only when the schema at the JSON pointer
    ``pointer`` accepts every value in it: one pass for a whole batch of
    values, where calling ``compile_schema``'s predicate per value would pay
    its overhead per value. Raises ``UnsupportedSchema`` rather than guess.
    """
    check = _Compiler(document).at(pointer)

    def all_valid(values: list) -> bool:
        try:
            return check.all_valid(values)
        except RecursionError:
            # Only a recursive schema recurses with the value; too deep a
            # value is left to jsonschema, which says so in its own way.
            return False

    return all_valid


class _Compiler:
    def __init__(self, document: dict):
        self._document = document
        self._by_pointer: dict[str, _Compiled] = {}

    def at(self, pointer: str) -> _Compiled:
        """The schema at ``pointer``, compiled once however often it is referenced."""
        if pointer not in self._by_pointer:
            # A schema that refers back to itself finds this forward until it is
            # done. Checks pass empty lists along too; the recursion ends there.
            done = []
            self._by_pointer[pointer] = _Compiled(
                lambda values: not values or done[0].all_valid(values), None)
            done.append(self._compile(_resolve(self._document, pointer), pointer))
            self._by_pointer[pointer] = done[0]
        return self._by_pointer[pointer]

    def _compile(self, schema: object, where: str) -> _Compiled:
        if schema is True:
            return _ANYTHING
        if schema is False:
            return _NOTHING
        if not isinstance(schema, dict):
            raise UnsupportedSchema(f"{where}: a schema must be an object or a boolean")
        unknown = schema.keys() - SUPPORTED
        if unknown:
            raise UnsupportedSchema(f"{where}: unsupported keywords {sorted(unknown)}")
        parts = []
        if "type" in schema:
            parts.append(self._typed(schema, where))
        elif schema.keys() & _TYPED_KEYWORDS.keys():
            raise UnsupportedSchema(f"{where}: {sorted(schema.keys() & _TYPED_KEYWORDS.keys())} "
                                    "without a type")
        if "enum" in schema:
            parts.append(_enumeration(schema["enum"], f"{where}/enum"))
        if "$ref" in schema:
            parts.append(self._reference(schema["$ref"], where))
        for keyword in ("oneOf", "anyOf"):
            if keyword in schema:
                parts.append(self._choice(keyword, schema[keyword], f"{where}/{keyword}"))
        return _conjunction(parts)

    def _typed(self, schema: dict, where: str) -> _Compiled:
        names = [schema["type"]] if isinstance(schema["type"], str) else schema["type"]
        if not isinstance(names, list) or not names or not all(name in _PYTHON_TYPES for name in names):
            raise UnsupportedSchema(f"{where}: unsupported type {schema['type']!r}")
        accepted = frozenset().union(*(_PYTHON_TYPES[name] for name in names))
        keywords = schema.keys() & _TYPED_KEYWORDS.keys()
        kinds = {"number" if name == "integer" else name for name in names}  # an integer's bounds are a number's
        if keywords and {_TYPED_KEYWORDS[keyword] for keyword in keywords} != kinds:
            raise UnsupportedSchema(f"{where}: {sorted(keywords)} beside type {schema['type']!r}")
        contents_valid = {"number": self._numbers, "array": self._arrays,
                          "object": self._objects}[kinds.pop()](schema, where) if keywords else None

        def all_valid(values: list) -> bool:
            # The type pass first, so that the contents checks see only their own type.
            return accepted.issuperset(map(type, values)) and (
                contents_valid is None or contents_valid(values))

        return _Compiled(all_valid, accepted)

    @staticmethod
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

    def _arrays(self, schema: dict, where: str) -> Callable[[list], bool]:
        shortest = _count(schema, "minItems", where, default=0)
        longest = _count(schema, "maxItems", where, default=inf)
        prefix = self._prefix(schema, where)
        # 2020-12 "items" holds the elements after the prefix (all of them when
        # there is none) to one schema; "items": false is only a length limit.
        rest = self._compile(schema.get("items", True), f"{where}/items")
        if rest is _NOTHING:
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
            if rest is _ANYTHING or rest is _NOTHING:
                return True
            after = arrays if not prefix else (array[len(prefix):] for array in arrays)
            return rest.all_valid(list(chain.from_iterable(after)))

        return all_valid

    def _prefix(self, schema: dict, where: str) -> list[_Compiled]:
        """One compiled schema per leading position, from ``prefixItems``."""
        if "prefixItems" not in schema:
            return []
        schemas = schema["prefixItems"]
        if not isinstance(schemas, list) or not schemas:
            raise UnsupportedSchema(f"{where}/prefixItems: must be a non-empty list")
        return [self._compile(sub, f"{where}/prefixItems/{index}") for index, sub in enumerate(schemas)]

    def _objects(self, schema: dict, where: str) -> Callable[[list], bool]:
        properties = schema.get("properties", {})
        required = schema.get("required", [])
        if not isinstance(properties, dict) or not isinstance(required, list) or \
                not all(isinstance(name, str) for name in required):
            raise UnsupportedSchema(f"{where}: malformed properties or required")
        checks = {name: self._compile(sub, f"{where}/properties{pointer_to(name)}")
                  for name, sub in properties.items()}
        required, known = frozenset(required), frozenset(checks)
        others = self._compile(schema.get("additionalProperties", True), f"{where}/additionalProperties")
        # With every property required (and present), "no other names" is a count.
        closed = others is _NOTHING
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
            if others is _ANYTHING or closed:
                return True
            return others.all_valid([value for obj in objects
                                     for name, value in obj.items() if name not in known])

        return all_valid

    def _reference(self, ref: object, where: str) -> _Compiled:
        if not isinstance(ref, str) or not ref.startswith("#"):
            raise UnsupportedSchema(f"{where}: $ref {ref!r} does not point inside the document")
        return self.at(unquote(ref[1:]))

    def _choice(self, keyword: str, branches: object, where: str) -> _Compiled:
        if not isinstance(branches, list) or not branches:
            raise UnsupportedSchema(f"{where}: must be a non-empty list")
        compiled = [self._compile(branch, f"{where}/{index}") for index, branch in enumerate(branches)]
        owners = _owners_by_type(compiled)
        if owners is not None:
            return _dispatch(compiled, owners)
        if keyword == "oneOf":
            def valid(value):
                return sum(branch.all_valid([value]) for branch in compiled) == 1
        else:
            def valid(value):
                return any(branch.all_valid([value]) for branch in compiled)
        types = [branch.types for branch in compiled]
        return _Compiled(lambda values: all(map(valid, values)),
                         None if None in types else frozenset().union(*types))


def _enumeration(members: object, where: str) -> _Compiled:
    """``enum`` of JSON scalars (null, booleans, numbers, strings); arrays
    and objects among the members are refused rather than compared."""
    if not isinstance(members, list) or \
            not all(_JSON_TYPE_OF.get(type(member)) in _SCALAR_TYPES for member in members):
        raise UnsupportedSchema(f"{where}: compiled only as a list of nulls, booleans, numbers and strings")
    # JSON equality is Python's but for booleans: true is not 1, false is not
    # 0, though Python's == says they are. So booleans are looked up apart,
    # and a set of the other members does the rest: 1 finds 1.0 (equal
    # numbers hash alike), a string finds only an equal string, and a set
    # tries identity before ==, as jsonschema's equal() does.
    booleans = frozenset(member for member in members if type(member) is bool)
    others = frozenset(member for member in members if type(member) is not bool)
    accepted = frozenset().union(*(_PYTHON_TYPES[_JSON_TYPE_OF[type(member)]] for member in members))

    def all_valid(values: list) -> bool:
        # The type pass first: it also keeps unhashable values out of the sets.
        kinds = set(map(type, values))
        if not kinds <= accepted:
            return False
        if bool not in kinds:
            return others.issuperset(values)
        return booleans.issuperset(value for value in values if type(value) is bool) and \
            others.issuperset(value for value in values if type(value) is not bool)

    return _Compiled(all_valid, accepted)


def _owners_by_type(branches: list[_Compiled]) -> dict[type, int] | None:
    """Which branch each Python type can only belong to, when the branches'
    types are known and pairwise disjoint; then ``oneOf`` and ``anyOf`` both
    mean "valid under the branch of its type". None otherwise."""
    owners = {}
    for index, branch in enumerate(branches):
        if branch.types is None or not branch.types.isdisjoint(owners):
            return None
        owners.update(dict.fromkeys(branch.types, index))
    return owners


def _dispatch(branches: list[_Compiled], owners: dict[type, int]) -> _Compiled:
    """Each value checked by the one branch its type can match, a batch at a time."""
    accepted = frozenset(owners)

    def all_valid(values: list) -> bool:
        kinds = set(map(type, values))
        if not kinds <= accepted:
            return False
        chosen = {owners[kind] for kind in kinds}
        if len(chosen) == 1:  # the usual batch: every row in one form
            return branches[chosen.pop()].all_valid(values)
        return all(branches[index].all_valid([value for value in values if owners[type(value)] == index])
                   for index in chosen)

    return _Compiled(all_valid, accepted)


def _conjunction(parts: list[_Compiled]) -> _Compiled:
    """A schema's keywords (its type, its ``$ref``, its ``oneOf``...) all hold at once."""
    if not parts:
        return _ANYTHING
    if len(parts) == 1:
        return parts[0]
    known = [part.types for part in parts if part.types is not None]
    return _Compiled(lambda values: all(part.all_valid(values) for part in parts),
                     frozenset.intersection(*known) if known else None)


def _resolve(document: dict, pointer: str) -> object:
    """The value at an RFC 6901 pointer; refused through an ``$id`` or a
    ``$schema``, which would change what the schemas below them mean."""
    if pointer and not pointer.startswith("/"):
        raise UnsupportedSchema(f"{pointer!r} is not a JSON pointer")
    node = document
    for token in _tokens(pointer):
        if isinstance(node, dict) and node.keys() & {"$id", "$schema"}:
            raise UnsupportedSchema(f"{pointer}: passes through an $id or a $schema")
        try:
            node = node[int(token) if isinstance(node, list) else token]
        except (KeyError, IndexError, ValueError, TypeError):
            raise UnsupportedSchema(f"{pointer}: nothing there") from None
    return node


def _tokens(pointer: str) -> Iterable[str]:
    return (token.replace("~1", "/").replace("~0", "~") for token in pointer.split("/")[1:])


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
