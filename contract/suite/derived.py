"""Request bodies the checks send, derived from the contract and the served manifest.

Nothing here states a constraint of its own: a violating row is one item
shorter than the Row schema's ``minItems``, an out-of-range value lies beyond
FeatureValue's ``maximum``, and so on, so the bodies follow the contract when
it changes. Valid rows come from the contract's seed-form example and from the
feature ranges the deployment's ``/model`` reports.
"""

import json
from dataclasses import dataclass

from contract.suite.documented import PREDICT, Contract


def encode(body: object) -> bytes:
    return json.dumps(body, allow_nan=False).encode()


def seed_rows(contract: Contract) -> list[list]:
    """The rows of the first request example of ``predict`` in the seed form (a bare array of rows)."""
    for example in contract.request_examples(contract.operation(PREDICT)).values():
        if isinstance(example, list):
            return example
    raise LookupError(f"the contract has no seed-form request example for {PREDICT!r}")


def range_rows(manifest: dict, seed_row: list) -> list[list]:
    """Rows at the low end, the middle and the high end of every feature's training
    range; a categorical feature takes its first, middle and last word, and a feature
    with no recorded range (a model imported without a sample) its value in ``seed_row``."""
    return [[_at_share(feature, share, seed) for feature, seed in zip(manifest["features"], seed_row, strict=True)]
            for share in (0.0, 0.5, 1.0)]


def _at_share(feature: dict, share: float, seed: float | str) -> float | str:
    if "categories" in feature:
        words = feature["categories"]
        return words[round(share * (len(words) - 1))]
    if "min" not in feature or "max" not in feature:
        return seed
    return feature["min"] + share * (feature["max"] - feature["min"])


def named(row: list, feature_names: list[str]) -> dict:
    return dict(zip(feature_names, row, strict=True))


@dataclass(frozen=True)
class Violation:
    """A body that breaks the request schema in one known place."""

    name: str
    body: object
    pointer: str


def violations(contract: Contract) -> list[Violation]:
    """One body per kind of contract violation, each a valid row followed by a broken one."""
    valid = seed_rows(contract)[0]
    row, value, named_row = contract.schema("Row"), contract.schema("FeatureValue"), contract.schema("NamedRow")
    found = [
        Violation("row one item short", [valid, valid[:row["minItems"] - 1]], "/1"),
        # FeatureValue is a number; JSON's true is not one.
        Violation("boolean for a number", [valid, [True, *valid[1:]]], "/1/0"),
    ]
    if "maximum" in value:
        beyond = value["maximum"] + abs(value["maximum"]) + 1
        found.append(Violation("value above the maximum", [valid, [beyond, *valid[1:]]], "/1/0"))
    if "minimum" in value:
        beyond = value["minimum"] - abs(value["minimum"]) - 1
        found.append(Violation("value below the minimum", [valid, [beyond, *valid[1:]]], "/1/0"))
    complete = named(valid, named_row["required"])
    missing_one = dict(list(complete.items())[1:])
    found.append(Violation("named row missing a feature", {"instances": [complete, missing_one]},
                           "/instances/1"))
    return found


def malformed(contract: Contract) -> bytes:
    """The seed example's JSON, cut short by one character."""
    return encode(seed_rows(contract))[:-1]


def too_large(contract: Contract, size: int) -> bytes:
    """A well-formed seed-form body of at least ``size`` bytes: only its size is wrong."""
    return rows_body(contract, size // (len(encode(seed_rows(contract)[0])) + 1) + 1)


def rows_body(contract: Contract, count: int) -> bytes:
    """A seed-form body of ``count`` copies of the first example row."""
    return b"[" + b",".join([encode(seed_rows(contract)[0])] * count) + b"]"
