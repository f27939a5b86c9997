"""The preprocessing steps of a pipeline, one row at a time, in scikit-learn's own float arithmetic.

Every step is column-wise and elementwise: scalers subtract, divide, multiply and add in the
order scikit-learn does (float64, NaN passing through), imputers replace a missing value by the
learned statistic and may append indicator columns, encoders look a category up in the table
the compiler read off the fitted encoder itself, and a column transformer runs its parts on
their columns and lays their outputs side by side. A row is a list: numbers (NaN when missing)
and, for category inputs, the category (``None`` when missing).
"""

from __future__ import annotations

import math


def _missing(value: object) -> bool:
    return value is None or value != value


class Affine:
    """(x - sub) / div * mul + add, then clip: every scaler scikit-learn has, in its order."""

    def __init__(self, spec: dict) -> None:
        self.ops = [(name, spec[name]) for name in ("sub", "div", "mul", "add") if spec.get(name) is not None]
        self.clip = spec.get("clip")

    def __call__(self, row: list) -> list:
        out = list(row)
        for name, values in self.ops:
            if name == "sub":
                out = [v - s for v, s in zip(out, values, strict=True)]
            elif name == "div":
                out = [_divide(v, s) for v, s in zip(out, values, strict=True)]
            elif name == "mul":
                out = [v * m for v, m in zip(out, values, strict=True)]
            else:
                out = [v + a for v, a in zip(out, values, strict=True)]
        if self.clip is not None:
            low, high = self.clip
            out = [v if v != v else (low if v < low else high if v > high else v) for v in out]
        return out


def _divide(v: float, s: float) -> float:
    if s == 0.0:  # numpy: x/0 is ±inf, 0/0 and nan/0 are nan (scikit-learn's scalers never store 0)
        return math.nan if v == 0.0 or v != v else math.copysign(math.inf, v) * math.copysign(1.0, s)
    return v / s


class Impute:
    """SimpleImputer: missing -> the learned value; kept columns, then the missing indicators."""

    def __init__(self, spec: dict) -> None:
        self.marker = spec.get("missing")  # None: NaN (or None) is missing; else that value
        self.fill = spec["fill"]
        self.keep = spec["keep"]
        self.indicator = spec.get("indicator") or []

    def _is_missing(self, value: object) -> bool:
        return _missing(value) if self.marker is None else value == self.marker

    def __call__(self, row: list) -> list:
        out = [self.fill[i] if self._is_missing(row[i]) else row[i] for i in self.keep]
        return out + [1.0 if self._is_missing(row[i]) else 0.0 for i in self.indicator]


class _Lookup:
    """One column's category table: each learned category, an unseen one, and a missing one."""

    def __init__(self, spec: dict) -> None:
        self.known = {value: out for value, out in spec["known"]}
        self.unknown = spec.get("unknown")
        self.unknown_ok = bool(spec.get("unknown_ok"))
        self.missing = spec.get("missing")

    def get(self, value: object) -> object:
        if _missing(value):
            return self.missing
        try:
            return self.known[value]
        except (KeyError, TypeError):
            if not self.unknown_ok:
                raise ValueError(f"unknown category {value!r}") from None
            return self.unknown


class OneHot:
    """OneHotEncoder: each column's category -> a position in its block (-1: all zeros)."""

    def __init__(self, spec: dict) -> None:
        self.columns = [(_Lookup(c), int(c["width"])) for c in spec["columns"]]

    def __call__(self, row: list) -> list:
        out: list = []
        for value, (lookup, width) in zip(row, self.columns, strict=True):
            block = [0.0] * width
            position = lookup.get(value)
            if position is not None and position >= 0:
                block[position] = 1.0
            out += block
        return out


class Ordinal:
    """OrdinalEncoder: each column's category -> its code (null in the table: NaN)."""

    def __init__(self, spec: dict) -> None:
        self.columns = [_Lookup(c) for c in spec["columns"]]

    def __call__(self, row: list) -> list:
        out = []
        for value, lookup in zip(row, self.columns, strict=True):
            code = lookup.get(value)
            out.append(math.nan if code is None else code)
        return out


class Columns:
    """ColumnTransformer: each part's steps on its columns, outputs side by side (remainder last)."""

    def __init__(self, spec: dict) -> None:
        self.parts = [(part["columns"], build(part.get("steps") or [])) for part in spec["parts"]]

    def __call__(self, row: list) -> list:
        out: list = []
        for columns, steps in self.parts:
            out += steps([row[i] for i in columns])
        return out


OPS = {"affine": Affine, "impute": Impute, "onehot": OneHot, "ordinal": Ordinal, "columns": Columns}


def build(specs: list):
    """The steps as one function of a row."""
    steps = []
    for spec in specs:
        op = OPS.get(spec.get("op"))
        if op is None:
            raise ValueError(f"unknown step {spec.get('op')!r}")
        steps.append(op(spec))
    if not steps:
        return lambda row: row

    def run(row: list) -> list:
        for step in steps:
            row = step(row)
        return row

    return run
