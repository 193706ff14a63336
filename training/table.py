"""Read a user's CSV into features and a target, or say exactly why not.

The rules are the service's: a feature is a JSON number in the API, so a
feature column must hold finite numbers in every row, unless the user names
it categorical (``--categorical``): then its words are the values the API
accepts for it, and the forest sees each word's index in their sorted list.
Rather than guess (impute a missing value, encode a word it was not told
about), the reader stops and names the rows and columns to fix, with the
``--drop`` or ``--categorical`` that would make the column usable.
"""

import csv
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

# Cells that mean "no value" in the CSVs people export (pandas, R, spreadsheets).
MISSING_MARKERS = frozenset({"", "na", "n/a", "nan", "null", "none", "?"})
# How many offending rows an error lists before it says "and N more".
ROWS_SHOWN = 5


class TableError(ValueError):
    """The CSV cannot be trained on as it is; the message says what to change."""


@dataclass(frozen=True)
class Table:
    feature_names: list[str]
    features: np.ndarray  # float64, rows x features, every value finite (a category: its index)
    target_name: str | None
    target: list[str]  # as written in the file (empty without a target); the task decides how to read it
    # A categorical feature's words, sorted: the forest sees a word's index here.
    categories: dict[str, list[str]]


def read_table(path: Path, target: str | None, drop: tuple[str, ...] = (), categorical: tuple[str, ...] = ()) -> Table:
    """Feature columns in file order (all but ``target`` and ``drop``), as numbers;
    the ``categorical`` ones as the index of each word among the column's sorted words.
    Without a ``target`` every column not dropped is a feature (a sample of what a model is fed)."""
    path = Path(path)
    try:
        with path.open(newline="", encoding="utf-8-sig") as file:
            records = list(csv.reader(file))
    except (OSError, UnicodeDecodeError, csv.Error) as error:
        raise TableError(f"cannot read {path}: {error}") from None
    records = [record for record in records if any(cell.strip() for cell in record)]
    if not records:
        raise TableError(f"{path} is empty: expected a header row naming the columns, then data rows")
    header, rows = [name.strip() for name in records[0]], records[1:]
    _check_header(path, header, target, drop, categorical)
    if not rows:
        raise TableError(f"{path} has a header but no data rows")
    ragged = [number for number, row in enumerate(rows, start=1) if len(row) != len(header)]
    if ragged:
        raise TableError(f"{path}: {_rows(ragged)} should have {len(header)} cells, like the header")

    target_at = header.index(target) if target is not None else None
    feature_at = [at for at, name in enumerate(header) if at != target_at and name not in drop]
    if not feature_at:
        raise TableError(f"{path}: no feature columns left besides the target {target!r}")
    columns = {at: [row[at].strip() for row in rows] for at in feature_at}
    target_cells = [row[target_at].strip() for row in rows] if target_at is not None else []

    problems = []
    missing_target = _missing(target_cells)
    if missing_target:
        problems.append(f"target {target!r} is missing in {_rows(missing_target)}")
    values = np.empty((len(rows), len(feature_at)))
    categories = {}
    for position, at in enumerate(feature_at):
        name, cells = header[at], columns[at]
        missing = _missing(cells)
        if missing:
            problems.append(f"column {name!r} is missing values in {_rows(missing)}")
            continue
        if name in categorical:
            categories[name] = sorted(set(cells))
            index = {word: code for code, word in enumerate(categories[name])}
            values[:, position] = [index[cell] for cell in cells]
            continue
        numbers, words = _numbers(cells)
        if words:
            number, word = words[0]
            problems.append(f"column {name!r} is not numeric ({word!r} in row {number}): "
                            f"drop it with --drop {_shell_word(name)}, or treat its values as "
                            f"categories with --categorical {_shell_word(name)}")
            continue
        values[:, position] = numbers
    if problems:
        raise TableError(f"{path}: " + "; ".join(problems))
    return Table([header[at] for at in feature_at], values, target, target_cells, categories)


def _check_header(path: Path, header: list[str], target: str | None, drop: tuple[str, ...],
                  categorical: tuple[str, ...]) -> None:
    if target is not None and target not in header:
        raise TableError(f"{path} has no column {target!r} to predict; its columns are {', '.join(header)}")
    unnamed = [number for number, name in enumerate(header, start=1) if not name]
    if unnamed:
        raise TableError(f"{path}: header cells {unnamed} are empty: every column needs a name")
    repeated = sorted({name for name in header if header.count(name) > 1})
    if repeated:
        raise TableError(f"{path}: column names {repeated} appear more than once")
    for option, names in (("--drop", drop), ("--categorical", categorical)):
        unknown = [name for name in names if name not in header]
        if unknown:
            raise TableError(f"{path}: {option} names columns that do not exist: {', '.join(unknown)}")
        if target in names:
            raise TableError(f"{path}: the target {target!r} is predicted, not a feature: it cannot be {option}")
    both = sorted(set(drop) & set(categorical))
    if both:
        raise TableError(f"{path}: {', '.join(both)}: both dropped and categorical")


def _missing(cells: list[str]) -> list[int]:
    """Data rows (1-based, header not counted) whose cell holds no value."""
    return [number for number, cell in enumerate(cells, start=1) if cell.lower() in MISSING_MARKERS]


def _numbers(cells: list[str]) -> tuple[list[float], list[tuple[int, str]]]:
    """The cells as floats, and the (row, cell) of any that is not a finite number."""
    numbers, words = [], []
    for number, cell in enumerate(cells, start=1):
        try:
            value = float(cell)
        except ValueError:
            value = math.nan
        if math.isfinite(value):
            numbers.append(value)
        else:
            words.append((number, cell))
    return numbers, words


def _rows(numbers: list[int]) -> str:
    shown = ", ".join(str(number) for number in numbers[:ROWS_SHOWN])
    more = f" and {len(numbers) - ROWS_SHOWN} more" if len(numbers) > ROWS_SHOWN else ""
    return f"{'row' if len(numbers) == 1 else 'rows'} {shown}{more} (data rows, counted from 1 after the header)"


def _shell_word(name: str) -> str:
    return name if name.replace("_", "").replace("-", "").isalnum() else repr(name)
