"""Where a request schema declares an integer, and those places' values taken as the integers they are.

JSON has one kind of number: JSON Schema counts ``1.0``, ``1e0`` and
``4.0E0`` as integers, so the contract admits them wherever it says
``"type": "integer"``, while Python's ``json`` decodes them as floats, which
code reading a count (a shape, a size in bytes) cannot use. ``integer_places``
finds those places by walking the schema (``$ref``, properties, items,
``oneOf``/``anyOf``/``allOf``) as patterns of path tokens, ``ANY`` standing
for any array index or object key; ``as_integers`` turns every
integer-valued float found there into its int. The places may include a few
more values than the schema holds to integer (``ANY`` under
``additionalProperties`` covers the named properties too, a branch's place
applies under every branch); that is harmless, as JSON Schema cannot tell
``1.0`` from ``1`` anywhere.
"""

from collections.abc import Iterator

from contract import at

ANY = None
Place = tuple[str | int | None, ...]


def integer_places(document: dict, pointer: str) -> list[Place]:
    """The places the schema at ``pointer`` inside ``document`` declares integer, in document order."""
    return list(dict.fromkeys(_walk(document, at(document, pointer), (), frozenset())))


def as_integers(value: object, places: list[Place]) -> object:
    """``value`` with each integer-valued float at ``places`` an int (in place; returned for a bare number)."""
    for place in places:
        value = _converted(value, place)
    return value


def _walk(document: dict, schema: object, place: Place, refs: frozenset) -> Iterator[Place]:
    if not isinstance(schema, dict):
        return
    reference = schema.get("$ref")
    if isinstance(reference, str) and reference.startswith("#") and reference not in refs:
        yield from _walk(document, at(document, reference[1:]), place, refs | {reference})
    kinds = schema.get("type")
    if kinds == "integer" or isinstance(kinds, list) and "integer" in kinds:
        yield place
    for name, sub in schema.get("properties", {}).items():
        yield from _walk(document, sub, (*place, name), refs)
    for index, sub in enumerate(schema.get("prefixItems", [])):
        yield from _walk(document, sub, (*place, index), refs)
    for keyword in ("items", "additionalProperties"):
        yield from _walk(document, schema.get(keyword), (*place, ANY), refs)
    for keyword in ("oneOf", "anyOf", "allOf"):
        for sub in schema.get(keyword, []):
            yield from _walk(document, sub, place, refs)


def _converted(node: object, place: Place) -> object:
    if not place:
        return int(node) if type(node) is float and node.is_integer() else node
    token, rest = place[0], place[1:]
    if isinstance(node, list):
        keys = range(len(node)) if token is ANY else [token] if type(token) is int and token < len(node) else []
    elif isinstance(node, dict):
        keys = list(node) if token is ANY else [token] if token in node else []
    else:
        keys = []
    for key in keys:
        node[key] = _converted(node[key], rest)
    return node
