"""What the schemathesis tests share: the served contract's refusals, the one rule no schema states,
and a workaround between the versions pinned.

Cases go as schemathesis generates them, through every built-in check, with
one exemption: the Open Inference Protocol's data holds exactly rows x
features values, which JSON Schema cannot say (the shape is one array, the
data another), so schemathesis generates schema-valid requests whose data
does not fill their shape, and the server refuses them 400 pointing at the
data, as the operation's description states. ``accepted_unless_the_data_misfits``
is ``positive_data_acceptance`` but for that refusal.
"""

from schemathesis.checks import positive_data_acceptance
from schemathesis.config._checks import NEGATIVE_DATA_REJECTION_EXPECTED_STATUSES, NegativeDataRejectionConfig

from contract import operations

V2_DATA = "/inputs/0/data"


def with_node_id(schema, request):
    """``schema``, for a test of ``request``: schemathesis 4.32's lazy loader reads and rewrites
    ``Node._nodeid``, which pytest 9.2 no longer has; only its subtest labels depend on it."""
    if not hasattr(request.node, "_nodeid"):
        request.node._nodeid = request.node.nodeid
    return schema


def refusing_as_documented(loaded):
    """``loaded`` (a schema read from a server) with invalid data expected to be refused with any 4xx its
    operations document, beside schemathesis' own list: 413 is this contract's answer to a batch over its
    maxItems or a shape over its maximum, checked before the rest of the body."""
    documented = {status for _, _, operation in operations(loaded.raw_schema)
                  for status in operation["responses"] if status.startswith("4")}
    loaded.config.checks.negative_data_rejection = NegativeDataRejectionConfig(
        expected_statuses=sorted(set(NEGATIVE_DATA_REJECTION_EXPECTED_STATUSES) | documented))
    return loaded


def misfits_its_shape(case) -> bool:
    """Whether the case is a V2 request whose first input's data does not hold rows x features values."""
    body = case.body
    inputs = body.get("inputs") if isinstance(body, dict) else None
    tensor = inputs[0] if isinstance(inputs, list) and inputs and isinstance(inputs[0], dict) else {}
    shape, data = tensor.get("shape"), tensor.get("data")
    if not (isinstance(shape, list) and len(shape) == 2 and isinstance(data, list)):
        return False
    rows, width = shape  # schemathesis writes whole numbers as 477 or 477.0: both are the contract's integers
    return all(type(size) in (int, float) for size in shape) and len(data) != rows * width


def accepted_unless_the_data_misfits(ctx, response, case):
    """``positive_data_acceptance``, but a valid request whose data misfits its shape may be refused 400
    pointing at the data (and only so)."""
    positive = case.meta is not None and case.meta.generation.mode.is_positive
    if positive and misfits_its_shape(case) and response.status_code == 400:
        pointers = [error.get("pointer") for error in response.json().get("errors", [])]
        assert V2_DATA in pointers, f"a misfitting V2 request refused without pointing at {V2_DATA}: {pointers}"
        return None
    return positive_data_acceptance(ctx, response, case)


def call_and_validate(case, additional_checks=(), **kwargs):
    """``case.call_and_validate`` with every check, the one exemption made."""
    return case.call_and_validate(excluded_checks=[positive_data_acceptance],
                                  additional_checks=[accepted_unless_the_data_misfits, *additional_checks], **kwargs)
