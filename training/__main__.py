"""``python -m training``: train the default iris forest into a model directory."""

import argparse
import sys
from pathlib import Path

from training.artifacts import MANIFEST_FILENAME, MODEL_FILENAME
from training.train import DEFAULT_MODEL_DIR, DEFAULT_N_ESTIMATORS, DEFAULT_SEED, train_iris


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training", description=__doc__)
    parser.add_argument("--out", type=Path, default=DEFAULT_MODEL_DIR,
                        help="model directory to write (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--n-estimators", type=int, default=DEFAULT_N_ESTIMATORS)
    parser.add_argument("--name", default="iris")
    parser.add_argument("--version", default="1.0.0", help="model version recorded in the manifest")
    parser.add_argument("--if-missing", action="store_true",
                        help="do nothing when the directory already holds a model and manifest")
    args = parser.parse_args(argv)

    if args.if_missing and (args.out / MODEL_FILENAME).is_file() and (args.out / MANIFEST_FILENAME).is_file():
        print(f"{args.out}: model present, not retrained")
        return 0
    manifest = train_iris(args.out, seed=args.seed, n_estimators=args.n_estimators,
                          name=args.name, version=args.version)
    print(f"{args.out}: {manifest['name']} {manifest['version']} "
          f"test_accuracy={manifest['metrics']['test_accuracy']:.3f} sha256={manifest['sha256'][:12]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
