"""``python -m training``: train a random forest into a model directory, or import one.

Without ``--csv`` it trains the default iris model. With ``--csv FILE
--target COLUMN`` it trains on your table: every other column is a numeric
feature, in file order (``--drop`` leaves columns out, ``--categorical``
takes a column of words). ``python -m training import MODEL_FILE`` packages
a model you fitted yourself (``joblib.dump``) instead.
"""

import argparse
import sys
from pathlib import Path

from contract.model_directory import (
    CLASSIFICATION, CONTRACT_FILENAME, DEFAULT_MODEL_DIR, MANIFEST_FILENAME, MODEL_FILENAME, TASKS,
)
from training.table import TableError, read_table
from training.train import (
    DEFAULT_N_ESTIMATORS, DEFAULT_SEED, TrainingError, train_forest, train_iris,
)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["import"]:
        return import_main(argv[1:])
    parser = argparse.ArgumentParser(prog="python -m training", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--csv", type=Path, help="train on this CSV (a header row names the columns)")
    parser.add_argument("--target", help="the CSV column to predict (required with --csv)")
    parser.add_argument("--task", choices=TASKS, default=CLASSIFICATION,
                        help="classify the target's values, or predict it as a number (default: %(default)s)")
    parser.add_argument("--drop", action="append", default=[], metavar="COLUMN",
                        help="leave this CSV column out of the features (repeatable)")
    parser.add_argument("--categorical", action="append", default=[], metavar="COLUMN",
                        help="a CSV column of words (repeatable): the API accepts its words as they are "
                             "written; the forest sees each word's index among them, sorted")
    parser.add_argument("--out", type=Path,
                        help=f"model directory to write (default: {DEFAULT_MODEL_DIR}, or models/NAME with --csv)")
    parser.add_argument("--name", help="model name (default: iris, or the CSV file's stem)")
    parser.add_argument("--version", default="1.0.0", help="model version recorded in the manifest")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--n-estimators", type=int, default=DEFAULT_N_ESTIMATORS)
    parser.add_argument("--if-missing", action="store_true",
                        help="do nothing when the directory already holds a trained model")
    args = parser.parse_args(argv)
    if args.csv is None and (args.target or args.drop or args.categorical or args.task != CLASSIFICATION):
        parser.error("--target, --drop, --categorical and --task describe a CSV: give --csv too")
    if args.csv is not None and not args.target:
        parser.error("--csv needs --target COLUMN: the column to predict")

    name = args.name or (args.csv.stem if args.csv else "iris")
    out = args.out or (Path("models") / name if args.csv else DEFAULT_MODEL_DIR)
    if args.if_missing and all((out / file).is_file() for file in (MODEL_FILENAME, MANIFEST_FILENAME,
                                                                      CONTRACT_FILENAME)):
        print(f"{out}: model present, not retrained")
        return 0
    try:
        if args.csv is None:
            manifest = train_iris(out, seed=args.seed, n_estimators=args.n_estimators,
                                  name=name, version=args.version)
        else:
            table = read_table(args.csv, args.target, tuple(args.drop), tuple(args.categorical))
            manifest = train_forest(out, table.feature_names, table.features, table.target,
                                    task=args.task, target_name=table.target_name, dataset=str(args.csv),
                                    name=name, version=args.version, seed=args.seed,
                                    n_estimators=args.n_estimators, categories=table.categories)
    except (TableError, TrainingError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"{out}: {manifest['name']} {manifest['version']} ({manifest['task']}, "
          f"{len(manifest['features'])} features) {_metrics(manifest)}sha256={manifest['sha256'][:12]}")
    return 0


def import_main(argv: list[str]) -> int:
    # Imported here: it reads the file through the service's allow-list unpickler, and training
    # alone (the Docker build's first stage) has only contract/ and training/ to import.
    from training import importing
    from wsgi_service.errors import StartupError
    from wsgi_service.operations.settings import allows_sklearn_version_mismatch

    parser = argparse.ArgumentParser(prog="python -m training import", description=importing.__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model_file", type=Path, metavar="MODEL_FILE", help="a fitted model, as joblib.dump wrote it")
    parser.add_argument("--out", type=Path, help="model directory to write (default: models/NAME)")
    parser.add_argument("--name", help="model name (default: the file's stem)")
    parser.add_argument("--version", default="1.0.0", help="model version recorded in the manifest")
    parser.add_argument("--features", help="the feature names in model order, comma-separated "
                                           "(when the model does not record them)")
    parser.add_argument("--sample", type=Path, help="a CSV of rows the model is fed: its header names the "
                                                    "features, its rows give their ranges")
    parser.add_argument("--target", help="the --sample column holding the true values: metrics on the sample")
    parser.add_argument("--class-names", metavar="LABEL=NAME,...", help="readable class names, e.g. 0=setosa,1=versicolor")
    args = parser.parse_args(argv)
    if args.target and not args.sample:
        parser.error("--target names a column of --sample: give --sample too")
    try:
        class_names = dict(pair.split("=", 1) for pair in args.class_names.split(",")) if args.class_names else None
    except ValueError:
        parser.error("--class-names takes LABEL=NAME pairs separated by commas")
    name = args.name or args.model_file.stem
    out = args.out or Path("models") / name
    try:
        manifest = importing.import_model(args.model_file, out, name=name, version=args.version,
                                          features=args.features.split(",") if args.features else None,
                                          sample=args.sample, target=args.target, class_names=class_names,
                                          allow_other_release=allows_sklearn_version_mismatch())
    except (TableError, TrainingError, StartupError) as error:  # StartupError: a bad ALLOW_SKLEARN_VERSION_MISMATCH
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"{out}: {manifest['name']} {manifest['version']} ({manifest['task']}, {len(manifest['features'])} "
          f"features, pickled by scikit-learn {manifest['versions']['scikit-learn']}) {_metrics(manifest)}"
          f"sha256={manifest['sha256'][:12]}")
    return 0


def _metrics(manifest: dict) -> str:
    return "".join(f"{key}={value:.3f} " for key, value in manifest["metrics"].items()
                   if key.startswith("test_") and isinstance(value, float))


if __name__ == "__main__":
    sys.exit(main())
