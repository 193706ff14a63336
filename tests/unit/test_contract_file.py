"""The contract file itself: a valid OpenAPI 3.1 document whose examples obey its schemas."""

import pytest
from openapi_spec_validator import validate

from contract import load_contract, operations, pointer_to, schema_validator

CONTRACT = load_contract()


def examples():
    """(where, schema pointer, example value) for every example in the document."""
    for path, method, operation in operations(CONTRACT):
        bodies = [(("paths", path, method, "requestBody"), operation.get("requestBody", {}))]
        for status, response in operation["responses"].items():
            if "$ref" in response:
                name = response["$ref"].rsplit("/", 1)[-1]
                bodies.append((("components", "responses", name), CONTRACT["components"]["responses"][name]))
            else:
                bodies.append((("paths", path, method, "responses", status), response))
        for where, body in bodies:
            for media, content in body.get("content", {}).items():
                for name, example in content.get("examples", {}).items():
                    yield (f"{'/'.join(where)} {media} {name}",
                           pointer_to(*where, "content", media, "schema"), example["value"])


EXAMPLES = list(examples())


def test_document_is_valid_openapi_3_1():
    validate(CONTRACT)
    assert CONTRACT["openapi"].startswith("3.1")


def test_every_operation_has_request_and_error_examples():
    assert len(EXAMPLES) >= 8


@pytest.mark.parametrize("where, schema, value", EXAMPLES, ids=[e[0] for e in EXAMPLES])
def test_every_example_obeys_its_schema(where, schema, value):
    schema_validator(CONTRACT, schema).validate(value)


def test_served_manifest_obeys_the_manifest_schema(client):
    schema_validator(CONTRACT, pointer_to("components", "schemas", "Manifest")).validate(client.get("/model").get_json())


def test_seed_example_answers_the_documented_labels(client):
    request_examples = CONTRACT["paths"]["/predict"]["post"]["requestBody"]["content"]["application/json"]["examples"]
    response_examples = CONTRACT["paths"]["/predict"]["post"]["responses"]["200"]["content"]["application/json"]["examples"]
    answer = client.post("/predict", json=request_examples["seed"]["value"]).get_json()
    assert answer == response_examples["seed"]["value"]
