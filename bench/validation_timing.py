"""How long request validation takes: jsonschema alone versus the compiled contract.

Run from the repository root: ``python -m bench.validation_timing``. Valid
bodies of 1, 100 and 10,000 rows in each request form are checked both ways;
a last line shows what a rejected body costs, since it pays for the compiled
check and then for jsonschema. Figures are the best of several runs, per call.
"""

import random
import timeit
from collections.abc import Callable
from functools import partial

from contract import load_contract
from wsgi_service.enforcement.validation import RequestValidator, SchemaViolations

BATCH_SIZES = (1, 100, 10_000)


def request_bodies(features: list[str], rows: int) -> dict[str, object]:
    """One body per request form, with iris-like values as a client would send them."""
    generator = random.Random(rows)
    batch = [[round(generator.uniform(0, 8), 1) for _ in features] for _ in range(rows)]
    return {
        "seed": batch,
        "rich arrays": {"instances": batch},
        "rich named": {"instances": [dict(zip(features, row)) for row in batch]},
    }


def seconds_per_call(call: Callable[[], object]) -> float:
    timer = timeit.Timer(call)
    number, _ = timer.autorange()
    return min(timer.repeat(repeat=3, number=number)) / number


def main() -> None:
    contract = load_contract()
    features = contract["components"]["schemas"]["NamedRow"]["required"]
    jsonschema_alone = SchemaViolations(contract).find
    compiled_first = RequestValidator(contract).violations
    print(f"{'rows':>6}  {'form':<12} {'jsonschema':>12} {'compiled':>12} {'speed-up':>9}")
    for rows in BATCH_SIZES:
        for form, body in request_bodies(features, rows).items():
            _report(rows, form, seconds_per_call(partial(jsonschema_alone, body)),
                    seconds_per_call(partial(compiled_first, body)))
    rejected = request_bodies(features, BATCH_SIZES[-1])["seed"]
    rejected[-1][-1] = "not a number"
    _report(len(rejected), "rejected", seconds_per_call(partial(jsonschema_alone, rejected)),
            seconds_per_call(partial(compiled_first, rejected)))


def _report(rows: int, form: str, old: float, new: float) -> None:
    print(f"{rows:>6}  {form:<12} {_milliseconds(old):>12} {_milliseconds(new):>12} {old / new:>8.2f}x")


def _milliseconds(seconds: float) -> str:
    return f"{seconds * 1e3:.3f} ms"


if __name__ == "__main__":
    main()
