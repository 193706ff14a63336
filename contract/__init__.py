"""The service's contract: one OpenAPI 3.1 document, and how to read it.

``openapi.json`` beside this file is the single source of truth for every
request and response body. The service validates against it; the contract
suite (``python -m contract``) certifies a deployment against it over HTTP.
Nothing here knows the service's code.
"""

import json
import re
from collections.abc import Iterator
from pathlib import Path

from jsonschema import Draft202012Validator, FormatChecker
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

CONTRACT_PATH = Path(__file__).with_name("openapi.json")
_DOCUMENT_URI = "urn:contract:openapi"
# The keys of an OpenAPI path item that name operations (the others are shared fields).
HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
# A path parameter in a path template, ``{name}``: one path segment.
PATH_PARAMETER = re.compile(r"\{([^}/]+)\}")


def load_contract(path: Path = CONTRACT_PATH) -> dict:
    return json.loads(Path(path).read_text(encoding="utf-8"))


def pointer_to(*tokens: str) -> str:
    """An RFC 6901 pointer from raw tokens: ``pointer_to("paths", "/predict")``."""
    return "".join("/" + token.replace("~", "~0").replace("/", "~1") for token in tokens)


def at(document: dict, pointer: str) -> object:
    """The value at the RFC 6901 ``pointer`` inside ``document`` (no ``$ref`` followed)."""
    node = document
    for token in pointer.split("/")[1:]:
        token = token.replace("~1", "/").replace("~0", "~")
        node = node[int(token)] if isinstance(node, list) else node[token]
    return node


def schema_validator(document: dict, pointer: str,
                     validator_class: type[Draft202012Validator] = Draft202012Validator
                     ) -> Draft202012Validator:
    """A Draft 2020-12 validator for the schema at ``pointer`` inside ``document``.

    ``$ref``s such as ``#/components/schemas/Row`` resolve against the whole
    OpenAPI document, so schemas are used where they stand, never copied.
    ``validator_class`` may be Draft 2020-12 with a keyword reimplemented
    (``jsonschema.validators.extend``).
    """
    resource = Resource.from_contents(document, default_specification=DRAFT202012)
    registry = Registry().with_resource(_DOCUMENT_URI, resource)
    return validator_class(
        {"$ref": f"{_DOCUMENT_URI}#{pointer}"}, registry=registry, format_checker=FormatChecker()
    )


def operations(document: dict) -> Iterator[tuple[str, str, dict]]:
    """Every ``(path, method, operation)`` the document defines, in document order."""
    for path, item in document["paths"].items():
        for method in HTTP_METHODS:
            if method in item:
                yield path, method, item[method]
