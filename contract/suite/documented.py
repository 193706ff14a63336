"""The contract document as the checks read it, and what "answered as documented" means.

Operations, examples and response objects are looked up where they stand in
the document, following local ``$ref``s; schemas are validated in place by
``contract.schema_validator``. A response is as documented when its status is
documented for the operation (exactly, as ``4XX``, or as ``default``), its
media type is one the response object lists (with every parameter the listed
one names, as ``text/plain; version=0.0.4``), its body (parsed as JSON for a
JSON media type, else read as text) is valid against that media type's
schema, and every header the response object lists is present and valid
against its schema.
"""

from dataclasses import dataclass
from urllib.parse import quote

from jsonschema.exceptions import relevance
from jsonschema.protocols import Validator

from contract import operations, pointer_to, schema_validator
from contract.suite.exchanges import JSON_MEDIA_TYPE, Exchange, expect, is_json, parse_media_type

SHOWN_SCHEMA_ERRORS = 3
# The operationIds whose meaning behavioural checks rely on; paths come from the document.
PREDICT, HEALTH, MODEL, SERVED_CONTRACT, INDEX = "predict", "health", "model", "contract", "index"
V2_INFER, V2_VERSION_INFER = "v2_infer", "v2_version_infer"


@dataclass(frozen=True)
class Operation:
    path: str
    method: str
    spec: dict
    # The path to request: each ``{parameter}`` filled with the first value its schema admits.
    target: str

    @property
    def name(self) -> str:
        return f"{self.method.upper()} {self.path}"


class Contract:
    """An OpenAPI document with the look-ups the checks need; validators are built once per schema."""

    def __init__(self, document: dict):
        self.document = document
        self._validators: dict[str, Validator] = {}
        self.operations = [Operation(path, method, spec, self._filled(path, method, spec))
                           for path, method, spec in operations(document)]

    def at(self, pointer: str) -> object:
        node = self.document
        for token in pointer.split("/")[1:]:
            token = token.replace("~1", "/").replace("~0", "~")
            node = node[int(token)] if isinstance(node, list) else node[token]
        return node

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

    def _filled(self, path: str, method: str, spec: dict) -> str:
        """``path`` with each path parameter replaced by its schema's first ``enum`` value (or ``example``)."""
        filled = path
        for index in range(len(spec.get("parameters", []))):
            parameter = self.at(self.resolved(pointer_to("paths", path, method, "parameters", str(index))))
            if parameter["in"] == "path":
                schema = parameter.get("schema", {})
                value = schema["enum"][0] if "enum" in schema else parameter.get("example", schema.get("example"))
                filled = filled.replace(f"{{{parameter['name']}}}", quote(str(value), safe=""))
        return filled


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
