"""How long request validation takes: the compiled contract against jsonschema and jsonschema-rs.

Run from the repository root: ``python -m bench.validation_timing``. Valid
bodies of 1, 100 and 10,000 rows in each request form are checked three
ways: ``RequestValidator.checked`` (the call a request pays: the compiled
schema, jsonschema only for a body it refuses), jsonschema alone
(``SchemaViolations``), and jsonschema-rs' ``is_valid``, a validator
compiled to native code (a yes or no, no explanation). Then one bad value in
a 10,000-row body: what each explanation costs, and what jsonschema-rs says
is wrong, and where.

Figures are medians per call over ``--rounds`` rounds; within a round every
contender is timed once, in turn, so a burst of other work on the machine
falls on all of them rather than on one. The 1-minute load average before
and after says how busy the machine was.
"""

import argparse
import os
import random
import statistics
import timeit
from collections.abc import Callable
from functools import partial

from contract import load_contract
from wsgi_service.enforcement.validation import PREDICT_REQUEST_SCHEMA, RequestValidator, SchemaViolations

BATCH_SIZES = (1, 100, 10_000)
# Where the rejected body is broken: a row in the middle, a cell inside it.
BAD_ROW, BAD_CELL = 5_000, 2


def request_bodies(features: list[str], rows: int) -> dict[str, object]:
    """One body per request form, with iris-like values as a client would send them."""
    generator = random.Random(rows)
    batch = [[round(generator.uniform(0, 8), 1) for _ in features] for _ in range(rows)]
    return {
        "seed": batch,
        "rich arrays": {"instances": batch},
        "rich named": {"instances": [dict(zip(features, row)) for row in batch]},
    }


def interleaved_medians(calls: dict[str, Callable[[], object]], rounds: int) -> dict[str, float]:
    """Each call's median seconds per call over ``rounds`` rounds, the calls taking turns."""
    timers = {name: timeit.Timer(call) for name, call in calls.items()}
    numbers = {name: timer.autorange()[0] for name, timer in timers.items()}
    samples: dict[str, list[float]] = {name: [] for name in calls}
    for _ in range(rounds):
        for name, timer in timers.items():
            samples[name].append(timer.timeit(numbers[name]) / numbers[name])
    return {name: statistics.median(values) for name, values in samples.items()}


def rust_validator(contract: dict):
    """jsonschema-rs for the /predict request schema, its ``$ref``s resolved in the whole
    contract (as ``contract.schema_validator`` resolves them), formats checked as there."""
    import jsonschema_rs  # in constraints.txt; only this benchmark uses it

    return jsonschema_rs.Draft202012Validator({**contract, "$ref": "#" + PREDICT_REQUEST_SCHEMA},
                                              validate_formats=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.validation_timing", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=7, help="interleaved rounds (default: %(default)s)")
    rounds = parser.parse_args(argv).rounds
    load_before = os.getloadavg()[0]
    contract = load_contract()
    features = contract["components"]["schemas"]["NamedRow"]["required"]
    ours, jsonschema_alone, rust = RequestValidator(contract), SchemaViolations(contract), rust_validator(contract)
    print(f"{'rows':>6}  {'form':<12} {'compiled':>10} {'jsonschema':>11} {'jsonschema-rs':>14}")
    for rows in BATCH_SIZES:
        for form, body in request_bodies(features, rows).items():
            if ours.violations(body) or not rust.is_valid(body):
                raise SystemExit(f"the {rows}-row {form} body is not valid: nothing to time")
            _report(rows, form, interleaved_medians({
                "compiled": partial(ours.checked, body), "jsonschema": partial(jsonschema_alone.find, body),
                "jsonschema-rs": partial(rust.is_valid, body)}, rounds))
    rejected = request_bodies(features, BATCH_SIZES[-1])["seed"]
    rejected[BAD_ROW][BAD_CELL] = "not a number"
    _report(len(rejected), "1 bad value", interleaved_medians({
        "compiled": partial(ours.violations, rejected), "jsonschema": partial(jsonschema_alone.find, rejected),
        "jsonschema-rs": lambda: list(rust.iter_errors(rejected))}, rounds))
    print(f"\n{rounds} rounds; load average {load_before:.1f} before, {os.getloadavg()[0]:.1f} after "
          f"({os.cpu_count()} CPUs)")
    print(f"\nwhat each says of rows[{BAD_ROW}][{BAD_CELL}] = 'not a number' in {len(rejected):,} rows:")
    print(f"  compiled, then jsonschema: {ours.violations(rejected)}")
    for error in rust.iter_errors(rejected):
        print(f"  jsonschema-rs: at {_pointer(error.instance_path)!r}, {error.kind.name}, a message of "
              f"{len(error.message):,} characters ending {error.message[-60:]!r}")
        for branch, errors in enumerate(getattr(error.kind, "context", None) or []):
            print(f"    its branch {branch}'s first error (of {len(errors)}): at {_pointer(errors[0].instance_path)!r}"
                  if errors else f"    its branch {branch}: no error")


def _pointer(path) -> str:
    return "".join(f"/{token}" for token in path)


def _report(rows: int, form: str, seconds: dict[str, float]) -> None:
    print(f"{rows:>6}  {form:<12} {_duration(seconds['compiled']):>10} {_duration(seconds['jsonschema']):>11} "
          f"{_duration(seconds['jsonschema-rs']):>14}")


def _duration(seconds: float) -> str:
    return f"{seconds * 1e6:.1f} µs" if seconds < 1e-3 else f"{seconds * 1e3:.2f} ms"


if __name__ == "__main__":
    main()
