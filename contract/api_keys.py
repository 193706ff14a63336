"""How the contract documents API keys, in the form a model directory keeps and in the form a locked server serves.

The template declares the bearer scheme (``ApiKey``) and the 401 answer. A
model's contract, as training writes it, documents the scheme as optional
(``security: [{}, {"ApiKey": []}]``: a server may run with keys or without),
every operation that needs a key when keys are on with that 401, and the
health operations, which a load balancer calls without one, with
``security: []``. A server started with keys serves ``locked(contract)``:
the same document with the scheme required. The contract suite certifies a
locked deployment against ``locked`` of the same file.
"""

import copy

from contract import operations

SCHEME = "ApiKey"
# The operations a health check calls: they never need a key.
OPEN_OPERATIONS = ("health", "v2_server_live", "v2_server_ready")
_UNAUTHORIZED = {"$ref": "#/components/responses/Unauthorized"}


def document_api_keys(document: dict) -> None:
    """Mark each operation of ``document`` as open (no key ever) or as answering 401 without a key."""
    for _, _, operation in operations(document):
        if operation["operationId"] in OPEN_OPERATIONS:
            operation["security"] = []
        else:
            operation["responses"] = {**{status: response for status, response in operation["responses"].items()
                                         if status < "401"}, "401": _UNAUTHORIZED,
                                      **{status: response for status, response in operation["responses"].items()
                                         if status > "401"}}


def locked(document: dict) -> dict:
    """``document`` as a server with keys serves it: the scheme required wherever it is not waived."""
    served = copy.deepcopy(document)
    served["security"] = [{SCHEME: []}]
    return served


def needs_key(document: dict, operation: dict) -> bool:
    """Whether ``operation`` needs a key in ``document`` (its own ``security``, else the document's)."""
    requirements = operation.get("security", document.get("security", []))
    return bool(requirements) and {} not in requirements
