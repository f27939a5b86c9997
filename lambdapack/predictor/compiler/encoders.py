"""OneHotEncoder and OrdinalEncoder: each column's category table, read off the fitted encoder itself.

Rather than re-deriving scikit-learn's rules (``drop``, infrequent categories from
``min_frequency``/``max_categories``, ``handle_unknown``, ``unknown_value``,
``encoded_missing_value``), the front end asks the encoder: it transforms every learned
category, one unseen value and a missing value, and records what comes out. The proof then
checks the whole pipeline on the same values.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .errors import Unsupported
from .lower import Column, Facts

UNSEEN_TEXT = "\x00lambdapack-unseen"


def _scalar(value: Any) -> Any:
    return value.item() if hasattr(value, "item") else value


def _is_missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _unseen(categories: list) -> Any:
    numbers = [c for c in categories if isinstance(c, (int, float)) and not isinstance(c, bool)]
    if numbers and len(numbers) == len(categories):
        return max(numbers) + 1.5
    return UNSEEN_TEXT


def _probe_values(categories: list) -> tuple[list, Any]:
    """The learned categories without the missing one, and one value the encoder never saw."""
    known = [c for c in categories if not _is_missing(c)]
    return known, _unseen(known)


def _transform(est: Any, column: int, values: list, others: list) -> Any:
    """``est`` on rows where ``column`` takes each of ``values`` and the other columns a learned category."""
    numeric = all(getattr(c, "dtype", np.dtype(object)).kind in "iuf" for c in est.categories_)
    X = np.empty((len(values), len(others)), dtype=np.float64 if numeric else object)
    for j, other in enumerate(others):
        X[:, j] = other
    for r, value in enumerate(values):
        X[r, column] = np.nan if value is None else value
    out = est.transform(X)
    return out.toarray() if hasattr(out, "toarray") else np.asarray(out)


def _accepts(est: Any, column: int, value: Any, others: list) -> Any:
    """The encoder's output row for ``value``, or None when it refuses it."""
    try:
        return _transform(est, column, [value], others)[0]
    except ValueError:
        return None


def _known_unknown_missing(est: Any, column: int, others: list, read: Any) -> dict:
    known, unseen = _probe_values([_scalar(c) for c in est.categories_[column]])
    outputs = _transform(est, column, known, others)
    table = {"known": [[value, read(row)] for value, row in zip(known, outputs, strict=True)]}
    unseen_row = _accepts(est, column, unseen, others)
    table["unknown_ok"] = unseen_row is not None
    table["unknown"] = read(unseen_row) if unseen_row is not None else None
    missing_row = _accepts(est, column, None, others)
    table["missing"] = read(missing_row) if missing_row is not None else None
    table["missing_ok"] = missing_row is not None
    return table


def lower(est: Any, columns: list[Column], facts: Facts) -> tuple[dict, list[Column]]:
    if est.n_features_in_ != len(columns):
        raise Unsupported(f"it takes {est.n_features_in_} columns and is given {len(columns)}")
    others = [_scalar(next(c for c in cats if not _is_missing(_scalar(c)))) for cats in est.categories_]
    onehot = type(est).__name__ == "OneHotEncoder"
    tables, out = [], []
    for i, column in enumerate(columns):
        if onehot:
            width = int(est._n_features_outs[i])
            start = sum(int(w) for w in est._n_features_outs[:i])

            def read(row: Any, start: int = start, width: int = width) -> int:
                block = row[start : start + width]
                hot = np.flatnonzero(block)
                return int(hot[0]) if hot.size else -1

            table = dict(_known_unknown_missing(est, i, others, read), width=width)
            out += [Column(column.origin, "number", None)] * width
        else:
            def read(row: Any, i: int = i) -> float | None:
                value = float(row[i])
                return None if math.isnan(value) else value

            table = _known_unknown_missing(est, i, others, read)
            out.append(Column(column.origin, "number", None))
        facts.category(column.origin, [v for v, _ in table["known"]], table["unknown_ok"])
        tables.append(table)
    return {"op": "onehot" if onehot else "ordinal", "columns": tables}, out
