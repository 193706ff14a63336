"""The deployment serves the very contract this suite certifies against.

Compared as parsed JSON, so formatting does not matter; when they differ, the
report lists the JSON pointers that differ, so a stale deployment is obvious.
"""

from collections.abc import Iterator

from contract import pointer_to
from contract.suite.documented import SERVED_CONTRACT, expect_answer
from contract.suite.exchanges import expect

SHOWN_DIFFERENCES = 10


def differences(served: object, local: object, pointer: str = "") -> Iterator[str]:
    """JSON pointers where ``served`` and ``local`` differ (``true`` is not ``1`` here, unlike in Python)."""
    if isinstance(served, dict) and isinstance(local, dict):
        for key in sorted(served.keys() | local.keys()):
            where = pointer + pointer_to(key)
            if key not in served:
                yield f"{where} (missing)"
            elif key not in local:
                yield f"{where} (not in the contract)"
            else:
                yield from differences(served[key], local[key], where)
    elif isinstance(served, list) and isinstance(local, list) and len(served) == len(local):
        for index, (served_item, local_item) in enumerate(zip(served, local)):
            yield from differences(served_item, local_item, f"{pointer}/{index}")
    elif served != local or isinstance(served, bool) != isinstance(local, bool):
        yield pointer or "(root)"


def test_served_contract_equals_local(client, contract):
    operation = contract.operation(SERVED_CONTRACT)
    exchange = client.send(operation.method, operation.path)
    served = expect_answer(contract, operation, exchange, contract.success_status(operation))
    found = list(differences(served, contract.document))
    expect(not found, f"the served contract differs from the local one at {len(found)} JSON pointer(s): "
                      f"{', '.join(found[:SHOWN_DIFFERENCES])}", exchange)
