"""Training data: the datasets bundled with scikit-learn, or a CSV file with a target column.

Nothing is downloaded: the bundled loaders read files shipped inside scikit-learn. A CSV is
validated before any model sees it, and every refusal names the column and the line.
"""

from __future__ import annotations

import csv
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lambdapack.errors import ModelError

# name -> (loader in sklearn.datasets, task)
BUNDLED: dict[str, tuple[str, str]] = {
    "iris": ("load_iris", "classification"),
    "wine": ("load_wine", "classification"),
    "breast_cancer": ("load_breast_cancer", "classification"),
    "digits": ("load_digits", "classification"),
    "diabetes": ("load_diabetes", "regression"),
}
# The guide's event names the iris measurements sl, sw, pl, pw.
IRIS_ALIASES = ("sl", "sw", "pl", "pw")


@dataclass(frozen=True)
class Dataset:
    """Features as rows of floats, the target, and how to name both."""

    name: str
    source: str
    task: str  # the natural task for the target: classification or regression
    X: Sequence[Sequence[float]]
    y: Sequence[Any]
    feature_names: tuple[str, ...]
    aliases: tuple[str | None, ...]
    target_names: tuple[str, ...] | None  # display names for integer class labels 0..n-1
    target: str | None = None  # the CSV column; None for bundled data

    @property
    def rows(self) -> int:
        return len(self.X)


def short_alias(name: str) -> str | None:
    """A snake_case alias for a feature name that isn't one already (``mean radius`` -> ``mean_radius``)."""
    alias = re.sub(r"[^0-9a-zA-Z]+", "_", name).strip("_").lower()
    if not alias or alias == name or alias[0].isdigit():
        return None
    return alias


def aliases_for(names: Sequence[str]) -> tuple[str | None, ...]:
    aliases = [short_alias(n) for n in names]
    # an alias that collides with another feature's name or alias would make input ambiguous
    taken = set(names)
    out: list[str | None] = []
    for alias in aliases:
        if alias is None or alias in taken or aliases.count(alias) > 1:
            out.append(None)
        else:
            out.append(alias)
            taken.add(alias)
    return tuple(out)


def load_bundled(name: str) -> Dataset:
    if name not in BUNDLED:
        raise ModelError(f"unknown dataset {name!r}",
                         hint="choose one of: " + ", ".join(BUNDLED) + ", or pass --csv PATH --target COLUMN")
    loader_name, task = BUNDLED[name]
    import sklearn.datasets

    bunch = getattr(sklearn.datasets, loader_name)()
    feature_names = tuple(str(n) for n in bunch.feature_names)
    aliases = IRIS_ALIASES if name == "iris" else aliases_for(feature_names)
    target_names = tuple(str(t) for t in bunch.target_names) if task == "classification" else None
    return Dataset(
        name=name,
        source=f"sklearn.datasets.{loader_name}",
        task=task,
        X=bunch.data,
        y=bunch.target,
        feature_names=feature_names,
        aliases=aliases,
        target_names=target_names,
    )


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def load_csv(path: Path, target: str | None, task: str) -> Dataset:
    """Read a CSV with a header row; every column but ``target`` is a numeric feature.

    ``task`` decides how the target is read: class labels (kept as text, or as integers when
    every label is one) or numbers for a regressor.
    """
    path = Path(path)
    if not target:
        raise ModelError("--csv needs --target COLUMN", hint="name the column that holds what the model predicts")
    header, data = _csv_table(path, _read_csv_rows(path))
    target_index = _target_index(path, header, target, data)
    X: list[list[float]] = []
    labels: list[str] = []
    for line, row in data:
        features, label = _csv_row(path, header, target_index, line, row)
        X.append(features)
        labels.append(label)
    feature_names = tuple(h for i, h in enumerate(header) if i != target_index)
    y = _regression_target(path, target, data, labels) if task == "regression" else \
        _class_target(path, target, labels)
    return Dataset(
        name=path.name,
        source="csv",
        task=task,
        X=X,
        y=y,
        feature_names=feature_names,
        aliases=aliases_for(feature_names),
        target_names=None,
        target=target,
    )


def _read_csv_rows(path: Path) -> list[list[str]]:
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            return list(csv.reader(fh))
    except FileNotFoundError:
        raise ModelError(f"{path}: no such file", hint="check the --csv path") from None
    except IsADirectoryError:
        raise ModelError(f"{path}: is a directory", hint="pass a CSV file") from None
    except UnicodeDecodeError as exc:
        raise ModelError(f"{path}: not UTF-8 text (byte {exc.start})", hint="save the file as UTF-8 CSV") from None
    except csv.Error as exc:
        raise ModelError(f"{path}: malformed CSV ({exc})", hint="check the quoting on that line") from None
    except OSError as exc:
        raise ModelError(f"{path}: cannot read ({exc.strerror})", hint="check the path and its permissions") from None


def _csv_table(path: Path, rows: list[list[str]]) -> tuple[list[str], list[tuple[int, list[str]]]]:
    """The header's column names and the numbered data rows under it."""
    # blank lines carry no data; line numbers below count them anyway, as an editor does
    numbered = [(i, row) for i, row in enumerate(rows, start=1) if any(cell.strip() for cell in row)]
    if not numbered:
        raise ModelError(f"{path}: the file is empty", hint="a CSV with a header row and data rows is needed")
    header = [h.strip() for h in numbered[0][1]]
    if any(not h for h in header):
        raise ModelError(f"{path}: column {header.index('') + 1} of the header has no name",
                         hint="give every column a name in the first line")
    dupes = sorted({h for h in header if header.count(h) > 1})
    if dupes:
        raise ModelError(f"{path}: the header repeats column {dupes[0]!r}", hint="give every column a unique name")
    return header, numbered[1:]


def _target_index(path: Path, header: list[str], target: str, data: list[tuple[int, list[str]]]) -> int:
    if target not in header:
        raise ModelError(f"{path}: no column {target!r} (columns: {', '.join(header)})",
                         hint="pass --target with one of the header's column names")
    if not data:
        raise ModelError(f"{path}: the header has no data rows under it", hint="add data rows")
    if len(header) < 2:
        raise ModelError(f"{path}: only the target column, no features", hint="add at least one feature column")
    return header.index(target)


def _csv_row(path: Path, header: list[str], target_index: int, line: int,
             row: list[str]) -> tuple[list[float], str]:
    """One data row as (feature values, target text)."""
    if len(row) != len(header):
        raise ModelError(f"{path}: line {line} has {len(row)} fields, the header has {len(header)}",
                         hint="every row needs one value per column")
    features: list[float] = []
    label = ""
    for i, cell in enumerate(row):  # in column order, so the first bad cell is the one reported
        text = cell.strip()
        if i != target_index:
            features.append(_feature(path, line, header[i], text))
        elif not text:
            raise ModelError(f"{path}: line {line}: target column {header[i]!r} is empty",
                             hint="fill in or drop rows without a target")
        else:
            label = text
    return features, label


def _feature(path: Path, line: int, column: str, text: str) -> float:
    value = _number(text)
    if value is None:
        shown = repr(text) if text else "an empty cell"
        raise ModelError(f"{path}: line {line}, column {column!r}: {shown} is not a number",
                         hint="features must be numeric: encode categories as numbers or drop the column")
    if not math.isfinite(value):
        raise ModelError(f"{path}: line {line}, column {column!r}: {text} is not a finite number",
                         hint="drop or impute rows with NaN/inf before training")
    return value


def _regression_target(path: Path, target: str, data: list[tuple[int, list[str]]], labels: list[str]) -> list[Any]:
    y = []
    for (line, _), label in zip(data, labels, strict=True):
        value = _number(label)
        if value is None or not math.isfinite(value):
            raise ModelError(f"{path}: line {line}: target {target!r} value {label!r} is not a finite number",
                             hint="a regressor needs a numeric target; use a classifier for labels")
        y.append(value)
    return y


def _class_target(path: Path, target: str, labels: list[str]) -> list[Any]:
    distinct = sorted(set(labels))
    if len(distinct) < 2:
        raise ModelError(f"{path}: target column {target!r} has a single class ({distinct[0]!r})",
                         hint="a classifier needs at least two classes in the target column")
    # integer labels stay integers, so the model predicts 0/1, not "0"/"1"
    return [int(label) for label in labels] if all(_is_int(label) for label in distinct) else labels


def _is_int(text: str) -> bool:
    try:
        int(text)
    except ValueError:
        return False
    return True
