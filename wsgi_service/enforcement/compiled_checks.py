"""A compiled check, and the keywords that combine checks: ``enum``, ``oneOf``/``anyOf``, and a schema's keywords together.

A check (``Compiled``) says whether every value of a list is valid, so that a
batch's values are judged in one pass, and knows, where it can, the exact
Python types of the values it can accept: that is what lets a ``oneOf``
send each value to the one branch its type can match. The driver
(``schema_compiler``) resolves schemas and compiles sub-schemas; the
keywords that apply to one JSON type are in ``typed_keywords``.
"""

from collections.abc import Callable
from typing import NamedTuple

# A JSON type name and the exact Python types that JSON decoding gives it.
# Exact, never isinstance: bool is a subclass of int yet is no JSON number.
# "integer" is an int only, though jsonschema counts 1.0 as one too: the
# predicate may refuse what jsonschema accepts (its no means "ask jsonschema").
PYTHON_TYPES = {
    "null": frozenset({type(None)}),
    "boolean": frozenset({bool}),
    "number": frozenset({int, float}),
    "integer": frozenset({int}),
    "string": frozenset({str}),
    "array": frozenset({list}),
    "object": frozenset({dict}),
}
# The JSON type of each exact Python type, to tell which values an ``enum`` member can equal.
_JSON_TYPE_OF = {python_type: name for name, python_types in PYTHON_TYPES.items() if name != "integer"
                 for python_type in python_types}
_SCALAR_TYPES = ("null", "boolean", "number", "string")


class UnsupportedSchema(ValueError):
    """The schema uses something this compiler does not translate."""


class Compiled(NamedTuple):
    all_valid: Callable[[list], bool]
    """Whether every value in the list is valid (so True for an empty list)."""
    types: frozenset | None
    """The exact Python types of every value the schema can accept; None when not known."""


ANYTHING = Compiled(lambda values: True, None)
NOTHING = Compiled(lambda values: not values, frozenset())


def enumeration(members: object, where: str) -> Compiled:
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
    accepted = frozenset().union(*(PYTHON_TYPES[_JSON_TYPE_OF[type(member)]] for member in members))

    def all_valid(values: list) -> bool:
        # The type pass first: it also keeps unhashable values out of the sets.
        kinds = set(map(type, values))
        if not kinds <= accepted:
            return False
        if bool not in kinds:
            return others.issuperset(values)
        return booleans.issuperset(value for value in values if type(value) is bool) and \
            others.issuperset(value for value in values if type(value) is not bool)

    return Compiled(all_valid, accepted)


def choice(keyword: str, branches: list[Compiled]) -> Compiled:
    """``oneOf`` or ``anyOf`` over compiled ``branches``: by the value's type
    when the branches' types tell them apart, else value by value."""
    owners = _owners_by_type(branches)
    if owners is not None:
        return _dispatch(branches, owners)
    if keyword == "oneOf":
        def valid(value):
            return sum(branch.all_valid([value]) for branch in branches) == 1
    else:
        def valid(value):
            return any(branch.all_valid([value]) for branch in branches)
    types = [branch.types for branch in branches]
    return Compiled(lambda values: all(map(valid, values)),
                    None if None in types else frozenset().union(*types))


def _owners_by_type(branches: list[Compiled]) -> dict[type, int] | None:
    """Which branch each Python type can only belong to, when the branches'
    types are known and pairwise disjoint; then ``oneOf`` and ``anyOf`` both
    mean "valid under the branch of its type". None otherwise."""
    owners = {}
    for index, branch in enumerate(branches):
        if branch.types is None or not branch.types.isdisjoint(owners):
            return None
        owners.update(dict.fromkeys(branch.types, index))
    return owners


def _dispatch(branches: list[Compiled], owners: dict[type, int]) -> Compiled:
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

    return Compiled(all_valid, accepted)


def conjunction(parts: list[Compiled]) -> Compiled:
    """A schema's keywords (its type, its ``$ref``, its ``oneOf``...) all hold at once."""
    if not parts:
        return ANYTHING
    if len(parts) == 1:
        return parts[0]
    known = [part.types for part in parts if part.types is not None]
    return Compiled(lambda values: all(part.all_valid(values) for part in parts),
                    frozenset.intersection(*known) if known else None)
