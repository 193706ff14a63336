"""``python -m training.sample_table OUT.csv``: a small CSV to try your-own-model training on.

Coffee lots graded by a cupping panel: ten named measurements and a grade
written as words (``commercial``, ``premium``, ``specialty``), or with
``--task regression`` the panel's numeric score. The numbers are synthetic
(scikit-learn's ``make_classification`` / ``make_regression``, scaled to
plausible units) and the same seed writes the same file. The README's
walkthrough and the tests train on it.
"""

import argparse
import csv
import sys
from pathlib import Path

import numpy as np
from sklearn.datasets import make_classification, make_regression

from contract.model_directory import CLASSIFICATION, TASKS

FEATURES = ("aroma", "acidity", "body", "flavor", "aftertaste",
            "balance", "sweetness", "moisture_pct", "altitude_m", "defects")
GRADES = ("commercial", "premium", "specialty")
# Per feature: the unit interval is stretched to (low, high) and rounded to this many decimals.
UNITS = ((6, 9.5, 2), (6, 9.5, 2), (6, 9.5, 2), (6, 9.5, 2), (6, 9.5, 2),
         (6, 9.5, 2), (6, 10, 2), (8, 13, 1), (600, 2300, 0), (0, 12, 0))


def write_sample_table(path: Path, *, rows: int = 300, task: str = CLASSIFICATION, seed: int = 7) -> Path:
    if task == CLASSIFICATION:
        values, target = make_classification(n_samples=rows, n_features=len(FEATURES), n_informative=6,
                                             n_redundant=2, n_classes=len(GRADES), class_sep=1.5,
                                             random_state=seed)
        target_name, target_cells = "grade", [GRADES[label] for label in target]
    else:
        values, target = make_regression(n_samples=rows, n_features=len(FEATURES), n_informative=6,
                                         noise=5.0, random_state=seed)
        spread = (target - target.min()) / np.ptp(target)
        target_name, target_cells = "cupping_score", [f"{70 + 25 * share:.2f}" for share in spread]
    scaled = (values - values.min(axis=0)) / np.ptp(values, axis=0)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow([*FEATURES, target_name])
        for row, cell in zip(scaled, target_cells):
            writer.writerow([_in_units(share, unit) for share, unit in zip(row, UNITS)] + [cell])
    return path


def _in_units(share: float, unit: tuple) -> str:
    low, high, decimals = unit
    value = round(low + share * (high - low), decimals)
    return f"{value:.{decimals}f}" if decimals else str(int(value))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.sample_table", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out", type=Path, help="the CSV file to write")
    parser.add_argument("--rows", type=int, default=300)
    parser.add_argument("--task", choices=TASKS, default=CLASSIFICATION)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    path = write_sample_table(args.out, rows=args.rows, task=args.task, seed=args.seed)
    print(f"{path}: {args.rows} rows, {len(FEATURES)} features")
    return 0


if __name__ == "__main__":
    sys.exit(main())
