"""Probe rows for the proof, built in the space of the model's inputs.

Every covered step is column-wise, so each column reaching the final estimator is a function of
one input (:class:`.lower.Column`). For each input the probe gathers a pool of values: for a
number, the values that land on and one step either side of every split threshold of every
column it feeds (found through the steps' inverse and then checked through scikit-learn's own
preprocessing), plus ordinary, random and extreme values and a missing value where the input
is nullable; for a category, every learned category, an unseen one where the model accepts it,
and a missing one where it may be missing. Rows cycle through the pools side by side and
shuffled. Trees add a row per leaf no row reached (:mod:`.leaves`), linear models rows that
weigh every coefficient and straddle every decision boundary (:mod:`.boundaries`).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
from lambdapack_runtime.links import FLOAT32_MAX
from lambdapack_runtime.trees import KZERO  # LightGBM's zero: values on both sides of it

from .encoders import UNSEEN_TEXT
from .errors import Unsupported
from .lower import Column, identity
from .tables import Export

MAX_ROWS = 200_000  # probe rows beyond which a model is too large to prove here
MIXES = 3  # shuffled copies of the pool rows, so values of different inputs meet...
MIXED_ROWS = 20_000  # ...while the rows stay under this many (a large pool meets itself enough in one copy)
EXTREMES = (-FLOAT32_MAX, -1e12, -1.0, -1e-30, -0.0, 0.0, 5e-324, 1e-30, 1.0, 1e12, FLOAT32_MAX,
            -KZERO, KZERO, -1e-35, 1e-35, -1e-36, 1e-36, math.nextafter(KZERO, 1.0), -math.nextafter(KZERO, 1.0))
# Linear models: values each column takes after the steps (a standardised column's mean, 1, 3, 1e6
# standard deviations away): every coefficient weighed alone, the pools' range where no split gives one
SPREAD = (0.0, 1e-3, -1e-3, 0.5, -0.5, 1.0, -1.0, 2.0, -2.0, 3.0, -3.0, 10.0, -10.0, 1e3, -1e3, 1e6, -1e6)
TYPICAL = (-3.0, 3.0)
_CHUNK = 4096


def _f32_at_most(values: Any) -> Any:
    f = values.astype(np.float32)
    over = f.astype(np.float64) > values
    f[over] = np.nextafter(f[over], np.float32(-np.inf))
    return f.astype(np.float64)


def _f32_above(values: Any) -> Any:
    f = values.astype(np.float32)
    under = f.astype(np.float64) <= values
    f[under] = np.nextafter(f[under], np.float32(np.inf))
    return f.astype(np.float64)


def threshold_targets(thresholds: Any, float32: bool) -> Any:
    """Each threshold and the values just either side of it, in the precision the model compares in."""
    t = thresholds[np.isfinite(thresholds)]
    below, above = (_f32_at_most(t), _f32_above(t)) if float32 else (np.nextafter(t, -np.inf), np.nextafter(t, np.inf))
    near = [t, below, above]
    return np.unique(np.concatenate(near)) if t.size else t


def _nudged(values: Any, steps: int = 2) -> Any:
    out = [values]
    up = down = values
    for _ in range(steps):
        up, down = np.nextafter(up, np.inf), np.nextafter(down, -np.inf)
        out += [up, down]
    return np.concatenate(out)


class Pools:
    """Candidate values of each input, and the rows they make."""

    def __init__(self, fields: list[dict], columns: list[Column], export: Export, rng: Any) -> None:
        self.fields = fields
        self.columns = columns
        self.export = export
        self.rng = rng
        self.float32 = bool(export.model.get("float32_inputs"))
        self.values: list[list] = [self._pool(i, f) for i, f in enumerate(fields)]

    def _targets(self, origin: int) -> list[tuple[Callable[[float], float], Any]]:
        """For each column fed by ``origin`` with splits: its inverse and the values to hit (both sides of
        every threshold; every category a categorical split names, and its neighbours)."""
        tables = self.export.tables
        if "feature" not in tables:
            return []
        out = []
        for j, column in enumerate(self.columns):
            if column.origin != origin or column.invert is None:
                continue
            cuts = tables["threshold"][(tables["feature"] == j) & self._numeric_nodes()]
            if cuts.size:
                out.append((column.invert, threshold_targets(np.unique(cuts), self.float32)))
            named = self._categories_split(j)
            if named.size:
                out.append((column.invert, np.concatenate([named, named + 0.5, named - 0.5, named + 1.0])))
        return out

    def _categories_split(self, column: int) -> Any:
        """Every category a categorical split of ``column`` sends left (the integers its sets name)."""
        categorical = self.export.tables.get("categorical")
        if categorical is None:
            return np.zeros(0)
        tables, sets = self.export.tables, self.export.model.get("category_sets") or []
        indices = np.unique(tables["threshold"][(tables["feature"] == column) & (categorical != 0)])
        members = {int(m) for i in indices.astype(np.int64).tolist() for m in sets[i]}
        return np.array(sorted(members), dtype=np.float64)

    def _numeric_nodes(self) -> Any:
        categorical = self.export.tables.get("categorical")
        return np.ones(len(self.export.tables["feature"]), dtype=bool) if categorical is None else categorical == 0

    def _pool(self, origin: int, field: dict) -> list:
        if field["type"] == "unused":  # dropped before the estimator: any value, or none, gives the same answer
            return [None, "x", 1.0]
        if field["type"] == "category":
            pool = list(field["categories"])
            if field.get("unknown") == "accept":
                pool.append(UNSEEN_TEXT if isinstance(pool[0], str) else max(float(c) for c in pool) + 1.5)
            return pool + ([None] if field["nullable"] else [])
        found = []
        for invert, targets in self._targets(origin):
            back = np.array([invert(float(t)) for t in targets])
            # through a step the inverse is only close: the values a step or two around it land either side
            found.append(back if invert is identity else _nudged(back))
        inverted = np.concatenate(found) if found else np.zeros(0)
        inverted = inverted[np.isfinite(inverted)]
        spread, typical = self.spread(origin, SPREAD), self.spread(origin, TYPICAL)
        ranged = inverted if inverted.size else typical
        lo, hi = (float(ranged.min()), float(ranged.max())) if ranged.size else (-1.0, 1.0)
        span = max(hi - lo, 1.0)
        uniform = self.rng.uniform(max(lo - span, -FLOAT32_MAX), min(hi + span, FLOAT32_MAX), size=64)
        values = np.concatenate([inverted, uniform, np.array(EXTREMES), spread])
        values = values[np.abs(values) <= FLOAT32_MAX]
        pool = [float(v) for v in np.unique(values)]
        return pool + ([math.nan] if field["nullable"] else [])

    def spread(self, origin: int, targets: tuple) -> Any:
        """Linear models: the values of input ``origin`` that give ``targets`` in each column it feeds."""
        if self.export.model.get("kind") != "linear":
            return np.zeros(0)
        found = [column.invert(t) for column in self.columns if column.origin == origin and column.invert is not None
                 for t in targets]
        values = np.array(found, dtype=np.float64)
        return values[np.abs(values) <= FLOAT32_MAX]  # the inputs a request can send

    def rows(self, mixes: int = MIXES) -> list[list]:
        """The pools side by side (each input cycling through its own), then shuffled copies."""
        length = max(len(p) for p in self.values)
        mixes = min(mixes, max(1, MIXED_ROWS // length - 1)) if mixes else 0
        if length * (1 + mixes) > MAX_ROWS:
            raise Unsupported(f"its inputs need {length * (1 + mixes):,} probe rows: too many to prove exact at "
                              f"package time (limit {MAX_ROWS:,})")
        columns = [[pool[i % len(pool)] for i in range(length)] for pool in self.values]
        rows = [list(r) for r in zip(*columns, strict=True)]
        for _ in range(mixes):
            shuffled = [[c[i] for i in self.rng.permutation(length)] for c in columns]
            rows += [list(r) for r in zip(*shuffled, strict=True)]
        return rows

    def drop(self, keep: Callable[[int, int], bool]) -> None:
        """Keep only the pool values ``keep(input, index)`` accepts (those whose steps stay finite)."""
        self.values = [[v for k, v in enumerate(pool) if keep(i, k)] or pool[:1] for i, pool in enumerate(self.values)]
