"""Probe rows for the proof, built in the space of the model's inputs.

Every covered step is column-wise, so each column reaching the final estimator is a function of
one input (:class:`.lower.Column`). For each input the probe gathers a pool of values: for a
number, the values that land on and one step either side of every split threshold of every
column it feeds (found through the steps' inverse and then checked through scikit-learn's own
preprocessing), plus ordinary, random and extreme values and a missing value where the input
is nullable; for a category, every learned category, an unseen one where the model accepts it,
and a missing one where it may be missing. Rows cycle through the pools side by side and
shuffled, and one more row is built from the path of every leaf no row reached.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
from lambdapack_runtime.links import FLOAT32_MAX

from .encoders import UNSEEN_TEXT
from .errors import Unsupported
from .lower import Column
from .tables import Export

MAX_ROWS = 200_000  # probe rows beyond which a model is too large to prove here
MIXES = 3  # shuffled copies of the pool rows, so values of different inputs meet
KZERO = 1.0000000180025095e-35  # LightGBM's kZeroThreshold (1e-35f): |x| <= it is zero to LightGBM
EXTREMES = (-FLOAT32_MAX, -1e12, -1.0, -1e-30, -0.0, 0.0, 5e-324, 1e-30, 1.0, 1e12, FLOAT32_MAX,
            -KZERO, KZERO, -1e-35, 1e-35, -1e-36, 1e-36, math.nextafter(KZERO, 1.0), -math.nextafter(KZERO, 1.0))
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
        if field["type"] == "category":
            pool = list(field["categories"])
            if field.get("unknown") == "accept":
                pool.append(UNSEEN_TEXT if isinstance(pool[0], str) else max(float(c) for c in pool) + 1.5)
            return pool + ([None] if field["nullable"] else [])
        found = [np.array([invert(float(t)) for t in targets]) for invert, targets in self._targets(origin)]
        inverted = _nudged(np.concatenate(found)) if found else np.zeros(0)
        inverted = inverted[np.isfinite(inverted)]
        lo, hi = (float(inverted.min()), float(inverted.max())) if inverted.size else (-1.0, 1.0)
        span = max(hi - lo, 1.0)
        uniform = self.rng.uniform(max(lo - span, -FLOAT32_MAX), min(hi + span, FLOAT32_MAX), size=64)
        values = np.concatenate([inverted, uniform, np.array(EXTREMES)])
        values = values[np.abs(values) <= FLOAT32_MAX]
        pool = [float(v) for v in np.unique(values)]
        return pool + ([math.nan] if field["nullable"] else [])

    def rows(self, mixes: int = MIXES) -> list[list]:
        """The pools side by side (each input cycling through its own), then shuffled copies."""
        length = max(len(p) for p in self.values)
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


# ---------------------------------------------------------------------------------------------
# Trees: every leaf reached


def leaf_paths(tables: dict, roots: list) -> dict:
    """{leaf node: [(column, threshold or category set, went_left, categorical, NaN goes left), ...]}."""
    feature, left, right, threshold = (tables[k].tolist() for k in ("feature", "left", "right", "threshold"))
    categorical = tables["categorical"].tolist() if "categorical" in tables else None
    nan_left = tables["missing_left"].tolist() if "missing_left" in tables else [0] * len(feature)
    paths: dict = {}
    for root in roots:
        stack = [(root, ())]
        while stack:
            node, path = stack.pop()
            f = feature[node]
            if f < 0:
                paths[node] = path
                continue
            is_set = categorical is not None and bool(categorical[node])
            nan = bool(nan_left[node])
            stack.append((left[node], (*path, (f, threshold[node], True, is_set, nan))))
            stack.append((right[node], (*path, (f, threshold[node], False, is_set, nan))))
    return paths


def prepared(model: dict, X: Any) -> Any:
    """The estimator's input as the trees kernel compares it (``Trees.prepare``), vectorised."""
    if model.get("float32_inputs"):
        X = X.astype(np.float32).astype(np.float64)
    if model.get("nan_as_zero") or model.get("zero_as_missing"):
        X = X.copy()
        for f in model.get("nan_as_zero") or ():
            X[np.isnan(X[:, f]), f] = 0.0
        for f in model.get("zero_as_missing") or ():
            X[np.abs(X[:, f]) <= KZERO, f] = np.nan
    return X


def in_sets(values: Any, set_index: Any, sets: list) -> Any:
    """Whether each value's integer part is in its category set (NaN and out-of-range values: no)."""
    width = max((max(s) for s in sets if s), default=-1) + 1
    table = np.zeros((len(sets), max(width, 1)), dtype=bool)
    for i, members in enumerate(sets):
        table[i, list(members)] = True
    usable = np.isfinite(values) & (values > -1.0) & (values < width)
    codes = np.where(usable, np.trunc(np.where(usable, values, 0.0)), 0).astype(np.int64)
    return usable & table[np.asarray(set_index, dtype=np.int64), codes]


def walk(tables: dict, model: dict, X: Any) -> Any:
    """(rows, trees) leaf node reached by each row of the estimator's input ``X``, vectorised."""
    X = prepared(model, X)
    feature, left, right, threshold = (tables[k] for k in ("feature", "left", "right", "threshold"))
    missing_left = tables.get("missing_left")
    categorical = tables.get("categorical")
    sets = model.get("category_sets") or []
    roots = np.asarray(model["roots"], dtype=np.int64)
    out = []
    for start in range(0, len(X), _CHUNK):
        chunk = X[start : start + _CHUNK]
        nodes = np.tile(roots, (len(chunk), 1))
        rows = np.arange(len(chunk))[:, None]
        while True:
            f = feature[nodes]
            active = f >= 0
            if not active.any():
                break
            v = chunk[rows, np.where(active, f, 0)]
            go_left = v <= threshold[nodes]
            if categorical is not None:
                cat = categorical[nodes].astype(bool) & active
                if cat.any():
                    go_left[cat] = in_sets(v[cat], threshold[nodes][cat], sets)
            if missing_left is not None:
                go_left = np.where(np.isnan(v), missing_left[nodes].astype(bool), go_left)
            else:
                go_left = np.where(np.isnan(v), False, go_left)
            nodes = np.where(active, np.where(go_left, left[nodes], right[nodes]), nodes)
        out.append(nodes)
    return np.concatenate(out) if out else np.zeros((0, len(roots)), dtype=np.int64)


def leaf_rows(pools: Pools, post: Any, rows: list[list], model: dict, tables: dict) -> tuple[list[list], int, int]:
    """Rows added so that every reachable leaf is reached: ``(new rows, leaves, unreachable leaves)``.

    ``post``: the estimator's input for the pool rows (the first ``len(pool)`` rows of each input's
    column hold that input's pool values in order).
    """
    paths = leaf_paths(tables, model["roots"])
    reached = set(np.unique(walk(tables, model, post)).tolist())
    missing = [leaf for leaf in paths if leaf not in reached]
    if len(rows) + len(missing) > MAX_ROWS:
        raise Unsupported(f"it has {len(paths):,} leaves: too many to prove exact at package time "
                          f"(limit {MAX_ROWS:,} probe rows)")
    seen = prepared(model, post)
    origins = [c.origin for c in pools.columns]
    sets = model.get("category_sets") or []
    extra, unreachable = [], 0
    for leaf in missing:
        row = _row_for_path(pools, seen, origins, paths[leaf], rows[int(pools.rng.integers(len(rows)))], sets)
        if row is None:
            unreachable += 1
        else:
            extra.append(row)
    return extra, len(paths), unreachable


def _row_for_path(pools: Pools, seen: Any, origins: list, path: tuple, base: list, sets: list) -> list | None:
    """A row down ``path``: for each input on it, a pool value meeting every split of the path (a
    number within its bounds, a category in or out of each set, or a missing value where every
    split of the path sends one its way), else None."""
    bounds: dict[int, dict[int, list]] = {}
    for column, threshold, went_left, is_set, nan_left in path:
        lo_hi = bounds.setdefault(origins[column], {}).setdefault(column, [-math.inf, math.inf, [], True])
        lo_hi[3] = lo_hi[3] and nan_left == went_left
        if is_set:
            lo_hi[2].append((int(threshold), went_left))
        elif went_left:
            lo_hi[1] = min(lo_hi[1], threshold)
        else:
            lo_hi[0] = max(lo_hi[0], threshold)
    row = list(base)
    for origin, columns in bounds.items():
        if origin is None:
            return None
        size = len(pools.values[origin])
        ok = np.ones(size, dtype=bool)
        for column, (lo, hi, memberships, nan_ok) in columns.items():
            values = seen[:size, column]
            fits = (values > lo) & (values <= hi)
            for index, went_left in memberships:
                fits &= in_sets(values, np.full(size, index), sets) == went_left
            ok &= fits | (np.isnan(values) & nan_ok)
        choices = np.flatnonzero(ok)
        if not choices.size:
            return None
        row[origin] = pools.values[origin][int(pools.rng.choice(choices))]
    return row
