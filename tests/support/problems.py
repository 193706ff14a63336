"""Assertions shared by tests that look at error responses."""

from contract import load_contract, pointer_to, schema_validator

PROBLEM_SCHEMA = schema_validator(load_contract(), pointer_to("components", "schemas", "Problem"))


def assert_problem(status: int, content_type: str, body: dict, expected_status: int) -> dict:
    """The response is an RFC 9457 problem of ``expected_status`` valid under the contract."""
    assert status == expected_status, body
    assert content_type == "application/problem+json"
    PROBLEM_SCHEMA.validate(body)
    assert body["status"] == expected_status
    assert "Traceback" not in str(body)
    return body
