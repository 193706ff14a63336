"""The contract document as the checks read it, and what "answered as documented" means.

Operations, examples and response objects are looked up where they stand in
the document, following local ``$ref``s; schemas are validated in place by
``contract.schema_validator``. A response is as documented when its status is
documented for the operation (exactly, as ``4XX``, or as ``default``), its
media type is one the response object lists (with every parameter the listed
one names, as ``text/plain; version=0.0.4``), its body (parsed as JSON for a
JSON media type, else read as text) is valid against that media type's
schema (a media type listed without one, as OpenAPI 3.1 lists bytes such as an
image, admits any body), and every header the response object lists is
present and valid against its schema. A path with parameters
(``/docs/{asset}``) is called with each value its parameters enumerate.
"""

import itertools
import re
from dataclasses import dataclass
from urllib.parse import quote, urlsplit

from jsonschema.exceptions import relevance
from jsonschema.protocols import Validator

from contract import PATH_PARAMETER, at, operations, pointer_to, schema_validator
from contract.suite.exchanges import JSON_MEDIA_TYPE, Exchange, expect, is_json, parse_media_type

SHOWN_SCHEMA_ERRORS = 3
# The operationIds whose meaning behavioural checks rely on; paths come from the document.
PREDICT, HEALTH, MODEL, SERVED_CONTRACT, INDEX, DOCS = "predict", "health", "model", "contract", "index", "docs"
V2_INFER, V2_VERSION_INFER = "v2_infer", "v2_version_infer"


@dataclass(frozen=True)
class Operation:
    path: str
    method: str
    spec: dict

    @property
    def name(self) -> str:
        return f"{self.method.upper()} {self.path}"


class Contract:
    """An OpenAPI document with the look-ups the checks need; validators are built once per schema."""

    def __init__(self, document: dict):
        self.document = document
        self._validators: dict[str, Validator] = {}
        self.operations = [Operation(*found) for found in operations(document)]

    def at(self, pointer: str) -> object:
        return at(self.document, pointer)

    def resolved(self, pointer: str) -> str:
        """The pointer where the object at ``pointer`` really stands, after its ``$ref``s."""
        while isinstance(node := self.at(pointer), dict) and "$ref" in node:
            pointer = node["$ref"].removeprefix("#")
        return pointer

    def operation(self, operation_id: str) -> Operation:
        for op in self.operations:
            if op.spec.get("operationId") == operation_id:
                return op
        raise LookupError(f"the contract documents no operation {operation_id!r}")

    def concrete_paths(self, operation: Operation) -> list[str]:
        """The operation's path with each path parameter replaced by each value its schema
        enumerates (or by its example): the paths a check calls. The path itself when it has none."""
        values = {}
        for pointer in (pointer_to("paths", operation.path), self._operation_pointer(operation)):
            for index in range(len(self.at(pointer).get("parameters", []))):
                where = self.resolved(f"{pointer}/parameters/{index}")
                parameter = self.at(where)
                if parameter["in"] == "path":
                    schema = self.at(self.resolved(where + pointer_to("schema")))
                    values[parameter["name"]] = schema.get("enum") or (
                        [parameter["example"]] if "example" in parameter else [])
        names = PATH_PARAMETER.findall(operation.path)
        for name in names:
            if not values.get(name):
                raise LookupError(f"{operation.name}: the contract gives no value for the path parameter "
                                  f"{name!r} to call it with (an enum or an example)")
        paths = []
        for chosen in itertools.product(*(values[name] for name in names)):
            value_of = dict(zip(names, chosen))
            paths.append(PATH_PARAMETER.sub(lambda found: quote(str(value_of[found[1]]), safe=""), operation.path))
        return paths

    def operation_at(self, method: str, url_path: str) -> Operation | None:
        """The operation that documents ``method`` on this concrete path (its query ignored), if any."""
        path = urlsplit(url_path).path
        for op in self.operations:
            pattern = "".join("[^/]+" if index % 2 else re.escape(part)
                              for index, part in enumerate(PATH_PARAMETER.split(op.path)))
            if op.method == method.lower() and re.fullmatch(pattern, path):
                return op
        return None

    def schema(self, name: str) -> dict:
        return self.at(self.resolved(pointer_to("components", "schemas", name)))

    def validator(self, pointer: str) -> Validator:
        if pointer not in self._validators:
            self._validators[pointer] = schema_validator(self.document, pointer)
        return self._validators[pointer]

    def request_examples(self, operation: Operation) -> dict[str, object]:
        """The operation's JSON request body examples, by name; empty when it takes no body."""
        if "requestBody" not in operation.spec:
            return {}
        body = self.resolved(self._operation_pointer(operation) + pointer_to("requestBody"))
        media = body + pointer_to("content", JSON_MEDIA_TYPE)
        return {name: self.at(self.resolved(media + pointer_to("examples", name)))["value"]
                for name in self.at(media).get("examples", {})}

    def success_status(self, operation: Operation) -> int:
        """The documented 2xx status a valid request is answered with."""
        return min(int(code) for code in operation.spec["responses"] if code.startswith("2"))

    def response_pointer(self, operation: Operation, status: int) -> str | None:
        """Where the response object documenting ``status`` for ``operation`` stands, if anywhere."""
        responses = self._operation_pointer(operation) + pointer_to("responses")
        documented = self.at(responses)
        for key in (str(status), f"{status // 100}XX", "default"):
            if key in documented:
                return self.resolved(responses + pointer_to(key))
        return None

    def request_header(self, operation: Operation, name: str) -> str | None:
        """Where the schema of the operation's header parameter ``name`` stands, if it has one."""
        parameters = self._operation_pointer(operation) + pointer_to("parameters")
        for index in range(len(operation.spec.get("parameters", []))):
            parameter = self.resolved(f"{parameters}/{index}")
            found = self.at(parameter)
            if found["in"] == "header" and found["name"].lower() == name.lower():
                return parameter + pointer_to("schema")
        return None

    def _operation_pointer(self, operation: Operation) -> str:
        return pointer_to("paths", operation.path, operation.method)


def schema_errors(contract: Contract, schema_pointer: str, value: object) -> list[str]:
    """The most relevant ways ``value`` breaks the schema, each with its JSON pointer."""
    errors = sorted(contract.validator(schema_pointer).iter_errors(value), key=relevance)
    return [f"{pointer_to(*map(str, error.absolute_path)) or '(root)'}: {error.message[:200]}"
            for error in errors[:SHOWN_SCHEMA_ERRORS]]


def expect_documented(contract: Contract, response_pointer: str, exchange: Exchange) -> object:
    """Check the exchange's response against the response object at ``response_pointer``; return its body."""
    response = contract.at(response_pointer)
    for name in response.get("headers", {}):
        value = exchange.headers.get(name)
        expect(value is not None, f"the documented header {name} is missing", exchange)
        header = contract.resolved(response_pointer + pointer_to("headers", name))
        errors = schema_errors(contract, header + pointer_to("schema"), value)
        expect(not errors, f"the header {name} breaks its documented schema: {'; '.join(errors)}", exchange)
    content = response.get("content", {})
    if not content:
        return None
    media = documenting_media_type(content, exchange.headers.get("Content-Type", ""))
    expect(media is not None,
           f"Content-Type {exchange.headers.get('Content-Type') or '(none)'} is not documented for this response; "
           f"documented: {', '.join(content)}", exchange)
    if "schema" not in content[media]:  # bytes of any kind
        return exchange.response.content
    body = exchange.json() if is_json(exchange.media_type) else exchange.text()
    errors = schema_errors(contract, response_pointer + pointer_to("content", media, "schema"), body)
    expect(not errors, f"the body breaks the documented schema: {'; '.join(errors)}", exchange)
    return body


def documenting_media_type(content: dict, content_type: str) -> str | None:
    """The key of ``content`` that documents ``content_type``: the same type, with each parameter it names."""
    sent, sent_parameters = parse_media_type(content_type)
    for key in content:
        documented, parameters = parse_media_type(key)
        if documented == sent and parameters.items() <= sent_parameters.items():
            return key
    return None


def expect_answer(contract: Contract, operation: Operation, exchange: Exchange, status: int) -> object:
    """The operation answered ``status``, as its response object for that status documents; return the body."""
    expect(exchange.status == status, f"expected status {status}, got {exchange.status}", exchange)
    response_pointer = contract.response_pointer(operation, status)
    expect(response_pointer is not None, f"{status} is not documented for {operation.name}", exchange)
    return expect_documented(contract, response_pointer, exchange)
