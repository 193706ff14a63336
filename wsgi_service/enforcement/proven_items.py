"""A jsonschema ``items`` keyword that skips the items the compiled schema proves valid.

jsonschema explains a body by walking all of it, so a 10,000-row batch with
one bad row costs a second, though only that row has anything to say. Its
``items`` keyword reports the errors of each item in turn, each found by
descending into that item alone, so an item without errors adds nothing to
what it reports. The keyword here asks the compiled items schema
(``schema_compiler``) which items it can prove valid, a whole batch at a time,
and descends into the others exactly as jsonschema's own keyword does. Every
error is still jsonschema's, with the same paths, in the same order: the
compiled schema never proves an invalid item valid, and an items schema it
cannot compile is walked in full.
"""

from collections.abc import Callable, Iterator

from jsonschema import Draft202012Validator, ValidationError
from jsonschema.validators import extend

from contract import pointer_to
from wsgi_service.enforcement.schema_compiler import UnsupportedSchema, compile_batch

_ITEMS_WALKED_IN_FULL = Draft202012Validator.VALIDATORS["items"]
# Below this many items a failed batch is checked item by item rather than
# halved again: a check has a fixed cost that halving does not pay back.
_ONE_BY_ONE = 8


def validator_skipping_proven_items(document: dict) -> type[Draft202012Validator]:
    """Draft 2020-12, its ``items`` keyword skipping what the compiled
    schemas prove valid, for the ``items`` schemas inside ``document``."""
    proofs = _item_proofs(document)

    def items(validator, items_schema, instance, schema) -> Iterator[ValidationError]:
        proof = proofs.get(id(items_schema))
        # A proof is for one schema object (an id can be reused once it is
        # gone); "prefixItems" would exempt the first items from "items".
        if proof is None or proof[0] is not items_schema or "prefixItems" in schema \
                or not validator.is_type(instance, "array"):
            yield from _ITEMS_WALKED_IN_FULL(validator, items_schema, instance, schema)
            return
        for index in unproven(instance, proof[1]):
            yield from validator.descend(instance=instance[index], schema=items_schema, path=index)

    return extend(Draft202012Validator, {"items": items})


def unproven(values: list, all_valid: Callable[[list], bool]) -> Iterator[int]:
    """The indexes of the values ``all_valid`` cannot prove valid, in order.

    A batch that fails is halved, and only failing halves are searched, so a
    few bad values among many cost a few checks of the whole batch.
    """
    pending = [(0, len(values))]
    while pending:
        start, stop = pending.pop()
        if all_valid(values[start:stop]):
            continue
        if stop - start <= _ONE_BY_ONE:
            yield from (index for index in range(start, stop) if not all_valid([values[index]]))
            continue
        middle = (start + stop) // 2
        pending += [(middle, stop), (start, middle)]  # the first half is popped first


def _item_proofs(document: dict) -> dict[int, tuple[dict, Callable[[list], bool]]]:
    """Every ``items`` schema in the document that compiles, by identity:
    jsonschema hands the keyword the very schema object it found in the document."""
    proofs = {}
    for tokens, node in _objects(document, ()):
        items_schema = node.get("items")
        if isinstance(items_schema, dict):
            try:
                proofs[id(items_schema)] = (items_schema,
                                            compile_batch(document, pointer_to(*tokens, "items")))
            except UnsupportedSchema:
                pass  # walked in full by jsonschema
    return proofs


def _objects(node: object, tokens: tuple[str, ...]) -> Iterator[tuple[tuple[str, ...], dict]]:
    """Every JSON object in ``node`` with the tokens of its pointer; a key
    named "items" that is no keyword (an example's, a property's) only adds a
    proof that nothing asks for, or fails to compile."""
    if isinstance(node, dict):
        yield tokens, node
        for key, value in node.items():
            yield from _objects(value, (*tokens, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _objects(value, (*tokens, str(index)))
