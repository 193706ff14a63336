"""The limits a server enforces, written into the contract it serves.

A model's contract, as training writes it, names the limits
(MAX_BATCH_ROWS, MAX_BODY_BYTES) but states no value: they are the server's
settings, not the model's. A server serves ``with_limits(contract, limits)``:
the same document with the values where a schema can say them, the batch
arrays' ``maxItems`` (the seed form's rows, the rich form's ``instances``, a
V2 tensor's data, rows x features values) and the V2 shape's first dimension's
``maximum``, and, since no schema keyword bounds a body's bytes, the
``x-max-body-bytes`` extension on each request body, both values also in the
words of each operation that takes a body. The server validates against that
same document, and the contract suite reads the limits back from a served one
(``limits_of``) to certify it.
"""

import copy
from typing import NamedTuple

from contract import operations

BODY_BYTES = "x-max-body-bytes"


class Limits(NamedTuple):
    max_batch_rows: int
    max_body_bytes: int


def with_limits(document: dict, limits: Limits) -> dict:
    """``document`` as a server with ``limits`` serves it."""
    served = copy.deepcopy(document)
    schemas = served["components"]["schemas"]
    schemas["SeedRequest"]["maxItems"] = limits.max_batch_rows
    schemas["RichRequest"]["properties"]["instances"]["maxItems"] = limits.max_batch_rows
    tensor = schemas.get("V2InputTensor")
    if tensor is not None:  # a model over numbers only has the Open Inference Protocol
        rows, width = tensor["properties"]["shape"]["prefixItems"]
        rows["maximum"] = limits.max_batch_rows
        tensor["properties"]["data"]["maxItems"] = limits.max_batch_rows * width["enum"][0]
    for _, _, operation in operations(served):
        if "requestBody" in operation:
            operation["requestBody"][BODY_BYTES] = limits.max_body_bytes
            operation["description"] = (
                f"{operation.get('description', '')} On this server MAX_BATCH_ROWS is {limits.max_batch_rows} "
                f"(the batch's maxItems; a V2 shape's first dimension's maximum) and MAX_BODY_BYTES is {limits.max_body_bytes} (the request body's "
                f"{BODY_BYTES}).").lstrip()
    return served


def limits_of(served: dict) -> Limits | None:
    """The limits a served document states; None when it states none (a document as training wrote it)."""
    try:
        rows = served["components"]["schemas"]["SeedRequest"]["maxItems"]
        body = next(operation["requestBody"][BODY_BYTES] for _, _, operation in operations(served)
                    if "requestBody" in operation)
    except (KeyError, TypeError, StopIteration):
        return None
    return Limits(rows, body)
