"""How the contract documents API keys, in the form a model directory keeps and in the form a locked server serves.

The template declares the bearer scheme (``ApiKey``), the 401 answer, and
``security: []`` on the health operations, which a load balancer calls
without a key. A model's contract, as training writes it, documents the
scheme as optional (``security: [{}, {"ApiKey": []}]``: a server may run with
keys or without) and every other operation, which needs a key when keys are
on, with that 401. A server started with keys serves ``locked(contract)``:
the same document with the scheme required. The contract suite certifies a
locked deployment against ``locked`` of the same file.
"""

import copy

from contract import operations

SCHEME = "ApiKey"
_UNAUTHORIZED = {"$ref": "#/components/responses/Unauthorized"}


def document_api_keys(document: dict) -> None:
    """Document the 401 of each operation that needs a key when keys are on (all that do not
    state their own ``security``)."""
    for _, _, operation in operations(document):
        if "security" not in operation:
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
