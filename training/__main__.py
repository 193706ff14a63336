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

# The subcommand that packages a model fitted elsewhere.
IMPORT = "import"
DEFAULT_VERSION = "1.0.0"


# Options of training a model: given with ``import`` they would be ignored, so they are refused.
TRAINING_ONLY = ("csv", "task", "drop", "categorical", "seed", "n_estimators", "if_missing")


def main(argv: list[str] | None = None) -> int:
    parser = command_line()
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    if args.command == IMPORT:
        given = [f"--{dest.replace('_', '-')}" for dest in TRAINING_ONLY
                 if getattr(args, dest) != parser.get_default(dest)]
        if given:
            args.parser.error(f"{', '.join(given)} {'is an option' if len(given) == 1 else 'are options'} "
                              f"of training, not of {IMPORT}")
        return import_model(args)
    return train(args, parser)


def command_line() -> argparse.ArgumentParser:
    """``python -m training [OPTIONS]`` trains; ``python -m training import MODEL_FILE [OPTIONS]`` imports."""
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
    parser.add_argument("--version", default=DEFAULT_VERSION, help="model version recorded in the manifest "
                                                                      "(default: %(default)s)")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--n-estimators", type=int, default=DEFAULT_N_ESTIMATORS)
    parser.add_argument("--if-missing", action="store_true",
                        help="do nothing when the directory already holds a trained model")
    commands = parser.add_subparsers(title="commands", dest="command", parser_class=_ImportParser,
                                     description=f"without one, it trains; `python -m training {IMPORT} --help` "
                                                 f"shows the options of importing")
    _add_import(commands.add_parser(IMPORT, help="package a model you fitted yourself (joblib.dump) instead",
                                    prog=f"python -m training {IMPORT}",
                                    formatter_class=argparse.RawDescriptionHelpFormatter))
    return parser


class _ImportParser(argparse.ArgumentParser):
    """The ``import`` command's parser. Its description is ``training.importing``'s docstring, read
    only when the help is shown: that module reads the file through the service's allow-list
    unpickler, and training alone (the Docker build's first stage) has only contract/ and
    training/ to import. It refuses what it does not know itself, with its own usage, where
    argparse would hand it to the training parser's."""

    def format_help(self) -> str:
        from training import importing

        self.description = importing.__doc__
        return super().format_help()

    def parse_known_args(self, args=None, namespace=None):
        parsed, unknown = super().parse_known_args(args, namespace)
        if unknown:
            self.error(f"unrecognized arguments: {' '.join(unknown)}")
        return parsed, unknown


def _add_import(importer: argparse.ArgumentParser) -> None:
    # The options training has too default to training's (argparse.SUPPRESS): given before
    # `import`, they are not overwritten by the import command's defaults.
    kept = argparse.SUPPRESS
    importer.add_argument("model_file", type=Path, metavar="MODEL_FILE", help="a fitted model, as joblib.dump wrote it")
    importer.add_argument("--out", type=Path, default=kept, help="model directory to write (default: models/NAME)")
    importer.add_argument("--name", default=kept, help="model name (default: the file's stem)")
    importer.add_argument("--version", default=kept,
                          help=f"model version recorded in the manifest (default: {DEFAULT_VERSION})")
    importer.add_argument("--features", help="the feature names in model order, comma-separated "
                                             "(when the model does not record them)")
    importer.add_argument("--sample", type=Path, help="a CSV of rows the model is fed: its header names the "
                                                      "features, its rows give their ranges")
    importer.add_argument("--target", default=kept,
                          help="the --sample column holding the true values: metrics on the sample")
    importer.add_argument("--class-names", metavar="LABEL=NAME,...",
                          help="readable class names, e.g. 0=setosa,1=versicolor")
    importer.set_defaults(parser=importer)


def train(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
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


def import_model(args: argparse.Namespace) -> int:
    # Imported here: see _ImportParser.
    from training import importing
    from wsgi_service.errors import StartupError
    from wsgi_service.operations.settings import allows_sklearn_version_mismatch

    if args.target and not args.sample:
        args.parser.error("--target names a column of --sample: give --sample too")
    try:
        class_names = dict(pair.split("=", 1) for pair in args.class_names.split(",")) if args.class_names else None
    except ValueError:
        args.parser.error("--class-names takes LABEL=NAME pairs separated by commas")
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
