"""Request validation driven by the contract file.

The request schema is looked up in the OpenAPI document. At start it is also
compiled into a fast predicate (``schema_compiler``) that proves a valid body
valid in milliseconds (a schema it cannot compile is an ``UncompiledSchema``
warning); a body it does not accept goes to a real JSON Schema
(Draft 2020-12) validator, which decides and says what is wrong. So the
errors a client reads come from jsonschema alone, though it skips the array
items the compiled schema proves valid (``proven_items``), so that one bad row
in a large batch is explained in milliseconds too. This module only turns the
validator's findings into pointers and short messages a client can act on;
it holds no constraint of its own. Before any check, the values at the places
the schema declares integer that are integer-valued floats (``2.0``, ``2e0``)
become ints (``contract.integers``): JSON Schema admits them as integers, and
the code that reads a count after validation can then use it as one.
"""

import reprlib
import warnings
from collections import defaultdict
from collections.abc import Callable, Iterator

from jsonschema import Draft202012Validator, ValidationError

from contract import pointer_to, schema_validator
from contract.integers import as_integers, integer_places
from wsgi_service.errors import ContractViolation, MalformedJson
from wsgi_service.enforcement.proven_items import validator_skipping_proven_items
from wsgi_service.enforcement.schema_compiler import UnsupportedSchema, compile_schema

PREDICT_REQUEST_SCHEMA = pointer_to("paths", "/predict", "post", "requestBody", "content",
                                    "application/json", "schema")


def _bounded_repr() -> reprlib.Repr:
    bounded = reprlib.Repr()  # keyword arguments arrive only in Python 3.12
    bounded.maxlevel, bounded.maxlist, bounded.maxdict = 2, 4, 4
    bounded.maxstring = bounded.maxother = 40
    return bounded


_excerpt = _bounded_repr().repr


class RequestValidator:
    """Checks a decoded request body against the contract's request schema.

    The compiled schema never accepts an invalid body, so its yes is final;
    its no only sends the body to jsonschema, which may still find it valid.
    """

    def __init__(self, contract: dict, schema_pointer: str = PREDICT_REQUEST_SCHEMA,
                 refusal: type[ContractViolation] = ContractViolation):
        self._refusal = refusal
        self._integer_places = integer_places(contract, schema_pointer)
        self._proves_valid = _compiled_or_nothing(contract, schema_pointer)
        self._schema_violations = SchemaViolations(contract, schema_pointer, skip_proven_items=True)

    def with_integers(self, body: object) -> object:
        """``body`` with the integer-valued floats where the schema declares integer as ints (in place)."""
        return as_integers(body, self._integer_places)

    def violations(self, body: object) -> list[tuple[str, str]]:
        """Every ``(pointer, message)`` the body breaks; empty when it is valid."""
        if self._proves_valid(body):
            return []
        return self._schema_violations.find(body)

    def checked(self, body: object) -> object:
        """``body``, its integers as ints (``with_integers``), once it is valid; else the refusal."""
        body = self.with_integers(body)
        errors = self.violations(body)
        if errors:
            places = "place" if len(errors) == 1 else "places"
            raise self._refusal(f"The body breaks the contract in {len(errors)} {places}.", errors=errors)
        return body


class UncompiledSchema(UserWarning):
    """A request schema the compiler cannot translate: every body is checked by jsonschema alone.

    A warning, not a refusal to start: jsonschema decides every body either
    way, so the service still answers exactly what the contract says, only
    slower (hundreds of times slower on a large batch: figures in
    ``schema_compiler``), and a contract a user edited by hand keeps
    serving. The service's logging captures warnings, so it is a line in
    the log at start; the tests run with ``filterwarnings = error``, so
    there it fails whatever test builds the validator, with the reason.
    """


def _compiled_or_nothing(contract: dict, schema_pointer: str) -> Callable[[object], bool]:
    """The compiled schema; for one the compiler cannot translate, an ``UncompiledSchema``
    warning and a predicate that sends every body to jsonschema."""
    try:
        return compile_schema(contract, schema_pointer)
    except UnsupportedSchema as reason:
        warnings.warn(f"request schema {schema_pointer} not compiled ({reason}); "
                      "every body is checked by jsonschema alone", UncompiledSchema, stacklevel=3)
        return lambda body: False


class SchemaViolations:
    """What jsonschema finds wrong with a body, as pointers and short messages.

    With ``skip_proven_items`` the same findings come without walking the
    array items the compiled schema proves valid; without it jsonschema walks
    the whole body, the reference the fast way is tested against.
    """

    def __init__(self, contract: dict, schema_pointer: str = PREDICT_REQUEST_SCHEMA, *,
                 skip_proven_items: bool = False):
        self._validator = schema_validator(contract, schema_pointer, validator_skipping_proven_items(contract)
                                           if skip_proven_items else Draft202012Validator)

    def find(self, body: object) -> list[tuple[str, str]]:
        """Every ``(pointer, message)`` the body breaks; empty when it is valid."""
        try:
            found = [(pointer_to(*map(str, error.absolute_path)), _message(error))
                     for top in self._validator.iter_errors(body) for error in _leaves(top)]
        except RecursionError:
            # The validator recurses into what it reports on; a body nested
            # just short of the decoder's limit can still exhaust the stack.
            raise MalformedJson("The body is nested too deeply.",
                                errors=[("", "nesting too deep")]) from None
        return list(dict.fromkeys(found))  # one "missing" message per object, not per name


def _leaves(error: ValidationError) -> Iterator[ValidationError]:
    """Replace a failed ``oneOf``/``anyOf`` by the errors of the branch that was meant.

    "Not valid under any of the given schemas" points at a whole body. The
    branch whose type matched the value (an array row rather than a named
    one) says what is actually wrong, and where.
    """
    # A ``false`` branch's error carries no schema path (jsonschema drops
    # it), so which branch it came from is unknown: keep the whole choice.
    if error.validator not in ("oneOf", "anyOf") or not error.context or \
            not all(sub.relative_schema_path for sub in error.context):
        yield error
        return
    by_branch = defaultdict(list)
    for sub in error.context:
        by_branch[sub.relative_schema_path[0]].append(sub)
    meant = [subs for subs in by_branch.values()
             if not any(sub.validator == "type" and not sub.relative_path for sub in subs)]
    if len(meant) != 1:
        yield error
        return
    for sub in meant[0]:
        yield from _leaves(sub)


def _message(error: ValidationError) -> str:
    """A short message that never echoes more than a bounded excerpt of the input."""
    kind, limit, value = error.validator, error.validator_value, error.instance
    if kind == "type":
        return f"expected {_type_names(limit)}, got {_json_type(value)}"
    if kind in ("oneOf", "anyOf"):
        types = [sub.validator_value for sub in error.context
                 if sub.validator == "type" and not sub.relative_path]
        if len(types) == len(limit):
            return f"expected {' or '.join(map(_type_names, types))}, got {_json_type(value)}"
        branches = " or ".join(map(_branch_name, limit))
        return f"matches none of: {branches}"
    if kind == "minItems":
        return f"has {len(value)} items, needs at least {limit}"
    if kind == "maxItems":
        return f"has {len(value)} items, allows at most {limit}"
    if kind == "minimum":
        return f"{_number(value)} is below the minimum {limit!r}"
    if kind == "maximum":
        return f"{_number(value)} is above the maximum {limit!r}"
    if kind == "required":
        missing = [name for name in limit if name not in value]
        return f"missing required {', '.join(map(repr, missing))}"
    if kind == "additionalProperties":
        allowed = set(error.schema.get("properties", ()))
        unexpected = [name for name in value if name not in allowed]
        return f"unexpected {', '.join(_excerpt(name) for name in unexpected[:4])}"
    return f"fails {kind!r}: {_excerpt(value)}"


def _type_names(types: str | list[str]) -> str:
    return " or ".join(types) if isinstance(types, list) else types


def _branch_name(schema: object) -> str:
    """The name a client knows a branch by: the last part of its ``$ref``."""
    if isinstance(schema, bool):
        return str(schema).lower()
    return str(schema.get("$ref", "?")).rsplit("/", 1)[-1]


def _number(value: float) -> str:
    if value in (float("inf"), float("-inf")):
        return "a number beyond the range of a 64-bit float"
    return repr(value)


def _json_type(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    return {str: "string", list: "array", dict: "object"}.get(type(value), type(value).__name__)
