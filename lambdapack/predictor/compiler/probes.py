"""Probe rows for the proof, built in the space of the model's inputs.

Every covered step is column-wise, so each column reaching the final estimator is a function of
one input (:class:`.lower.Column`). For each input the probe gathers a pool of values: for a
number, the values that land on and one step either side of every split threshold of every
column it feeds (found through the steps' inverse and then checked through scikit-learn's own
preprocessing), plus ordinary, random and extreme values and a missing value where the input
is nullable; for a category, every learned category, an unseen one where the model accepts it,
and a missing one where it may be missing. Rows cycle through the pools side by side and
shuffled. Trees: one more row is built from the path of every leaf no row reached. Linear
models: each number also takes the values that put its columns at a spread of values after the
steps, one input at a time moves away from a neutral row (every coefficient weighed alone), and
rows are placed on both sides of every decision boundary, just past the scores' bound.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from lambdapack_runtime.links import FLOAT32_MAX

from .encoders import UNSEEN_TEXT
from .errors import Unsupported
from .lower import Column, identity
from .tables import Export

MAX_ROWS = 200_000  # probe rows beyond which a model is too large to prove here
MIXES = 3  # shuffled copies of the pool rows, so values of different inputs meet...
MIXED_ROWS = 20_000  # ...while the rows stay under this many (a large pool meets itself enough in one copy)
KZERO = 1.0000000180025095e-35  # LightGBM's kZeroThreshold (1e-35f): |x| <= it is zero to LightGBM
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


# ---------------------------------------------------------------------------------------------
# Trees: every leaf reached, every default direction taken


@dataclass(frozen=True)
class Coverage:
    """What the tree rows reach: leaves, and the nodes a missing value passes through."""

    leaves: int
    unreachable_leaves: int  # no row of the inputs' pools can reach them
    missing_nodes: int = 0  # nodes testing an input that may be missing
    missing_unreached: int = 0  # of those, the ones no row reaches with the value missing


class _Parents:
    """Each node's parent and side, so the path to any node is read back up: memory in nodes, not paths."""

    def __init__(self, tables: dict) -> None:
        feature, left, right = (np.asarray(tables[k]) for k in ("feature", "left", "right"))
        internal = np.flatnonzero(feature >= 0)  # a leaf's "left" is its offset in the values, not a child
        self.parent = np.full(len(feature), -1, dtype=np.int64)
        self.went_left = np.zeros(len(feature), dtype=bool)
        self.parent[left[internal]] = internal
        self.parent[right[internal]] = internal
        self.went_left[left[internal]] = True
        self.parent, self.went_left = self.parent.tolist(), self.went_left.tolist()

    def path(self, node: int) -> tuple:
        """``((ancestor, went_left), ...)`` from the root down to ``node``."""
        steps = []
        while self.parent[node] >= 0:
            steps.append((self.parent[node], self.went_left[node]))
            node = self.parent[node]
        return tuple(reversed(steps))


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


def in_sets(values: Any, sets: list) -> Any:
    """Whether each value's integer part is in ``sets`` (the kernel's ``int(v) in set``; NaN: no)."""
    members = np.asarray(sorted(sets), dtype=np.float64)
    usable = np.isfinite(values) & (values > -1.0)
    return usable & np.isin(np.trunc(np.where(usable, values, 0.0)), members)


def _set_table(sets: list) -> Any:
    """``table[set, category]``: whether the category set holds the category."""
    width = max((max(s) for s in sets if s), default=-1) + 1
    table = np.zeros((len(sets), max(width, 1)), dtype=bool)
    for i, members in enumerate(sets):
        table[i, list(members)] = True
    return table


def _members(table: Any, values: Any, set_index: Any) -> Any:
    """The kernel's ``int(v) in category_sets[i]`` for each value and set, vectorised (NaN: no)."""
    usable = np.isfinite(values) & (values > -1.0) & (values < table.shape[1])
    codes = np.trunc(np.where(usable, values, 0.0)).astype(np.int64)
    return usable & table[set_index.astype(np.int64), codes]


def walk(tables: dict, model: dict, X: Any, missing_at: set | None = None) -> Any:
    """(rows, trees) leaf node reached by each row of the estimator's input ``X``, vectorised.

    ``missing_at``: filled with the nodes some row reaches with the node's input missing."""
    X = prepared(model, X)
    feature, left, right, threshold = (tables[k] for k in ("feature", "left", "right", "threshold"))
    missing_left = tables.get("missing_left")
    categorical = tables.get("categorical")
    table = _set_table(model.get("category_sets") or [])
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
                    go_left[cat] = _members(table, v[cat], threshold[nodes][cat])
            missing = np.isnan(v) & active
            if missing_at is not None:
                missing_at.update(np.unique(nodes[missing]).tolist())
            go_left = np.where(missing, missing_left[nodes].astype(bool) if missing_left is not None else False,
                               go_left)
            nodes = np.where(active, np.where(go_left, left[nodes], right[nodes]), nodes)
        out.append(nodes)
    return np.concatenate(out) if out else np.zeros((0, len(roots)), dtype=np.int64)


def leaf_rows(pools: Pools, post: Any, rows: list[list], model: dict, tables: dict) -> tuple[list[list], Coverage]:
    """Rows added so that every reachable leaf is reached, and every node on an input that may be
    missing is reached with it missing (its default direction taken).

    ``post``: the estimator's input for the pool rows (the first ``len(pool)`` rows of each input's
    column hold that input's pool values in order).
    """
    feature = np.asarray(tables["feature"])
    leaves = np.flatnonzero(feature < 0).tolist()
    parents = _Parents(tables)
    missing_at: set = set()
    reached = set(np.unique(walk(tables, model, post, missing_at)).tolist())
    seen = prepared(model, post)
    origins = [c.origin for c in pools.columns]
    nullable = {i for i, pool in enumerate(pools.values) if any(_is_missing(v) for v in pool)}
    on_nullable = [node for node in np.flatnonzero(feature >= 0).tolist() if origins[feature[node]] in nullable]
    goals = [(leaf, parents.path(leaf)) for leaf in leaves if leaf not in reached]
    goals += [(node, (*parents.path(node), (node, None))) for node in on_nullable if node not in missing_at]
    if len(rows) + len(goals) > MAX_ROWS:
        raise Unsupported(f"it has {len(leaves):,} leaves: too many to prove exact at package time "
                          f"(limit {MAX_ROWS:,} probe rows)")
    test = _NodeTest(tables, model)
    extra, unreachable, missing_unreached = [], 0, 0
    for node, path in goals:
        row = _row_for_path(pools, seen, origins, path, rows[int(pools.rng.integers(len(rows)))], test)
        if row is not None:
            extra.append(row)
        elif feature[node] < 0:
            unreachable += 1
        else:
            missing_unreached += 1
    return extra, Coverage(len(leaves), unreachable, len(on_nullable), missing_unreached)


def _is_missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


class _NodeTest:
    """Which way a node sends each of a column's values, as the kernel decides."""

    def __init__(self, tables: dict, model: dict) -> None:
        self.feature = tables["feature"]
        self.threshold = tables["threshold"]
        self.missing_left = tables.get("missing_left")
        self.categorical = tables.get("categorical")
        self.sets = list(model.get("category_sets") or [])

    def goes_left(self, node: int, values: Any) -> Any:
        if self.categorical is not None and self.categorical[node]:
            left = in_sets(values, self.sets[int(self.threshold[node])])
        else:
            left = values <= self.threshold[node]
        missing_left = bool(self.missing_left[node]) if self.missing_left is not None else False
        return np.where(np.isnan(values), missing_left, left)


def _row_for_path(pools: Pools, seen: Any, origins: list, path: tuple, base: list, test: _NodeTest) -> list | None:
    """``base`` with the inputs on ``path`` set to pool values that follow it (``went_left`` None: missing)."""
    steps: dict[int, list[tuple[int, int, bool | None]]] = {}
    for node, went_left in path:
        column = int(test.feature[node])
        steps.setdefault(origins[column], []).append((column, node, went_left))
    row = list(base)
    for origin, constraints in steps.items():
        if origin is None:
            return None
        size = len(pools.values[origin])
        ok = np.ones(size, dtype=bool)
        for column, node, went_left in constraints:
            values = seen[:size, column]
            ok &= np.isnan(values) if went_left is None else test.goes_left(node, values) == went_left
        choices = np.flatnonzero(ok)
        if not choices.size:
            return None
        row[origin] = pools.values[origin][int(pools.rng.choice(choices))]
    return row


# ---------------------------------------------------------------------------------------------
# Linear models: every coefficient alone, both sides of every decision boundary

BOUNDARY_BASES = 8  # rows moved onto each decision boundary
BOUNDARY_COLUMNS = 2  # columns moved per row and boundary: those with the largest coefficient difference


def neutral_row(pools: Pools) -> list:
    """Each number at the value its first column reads as 0 after the steps, each category at its first."""
    row = []
    for origin, (field, pool) in enumerate(zip(pools.fields, pools.values, strict=True)):
        zero = pools.spread(origin, (0.0,)) if field["type"] != "category" else np.zeros(0)
        row.append(float(zero[0]) if zero.size else pool[0] if field["type"] == "category" else 0.0)
    return row


def coefficient_rows(pools: Pools) -> list[list]:
    """The neutral row with one input at a time through its spread (or its categories): each weight alone."""
    base = neutral_row(pools)
    rows = [base]
    for origin, (field, pool) in enumerate(zip(pools.fields, pools.values, strict=True)):
        values = pool if field["type"] == "category" else pools.spread(origin, SPREAD).tolist()
        for value in values:
            if value == base[origin]:
                continue
            row = list(base)
            row[origin] = value
            rows.append(row)
    return rows


def _boundaries(n_outputs: int) -> list[tuple[int, int | None]]:
    """The score differences a label turns on: the sign of one score, or each pair of scores."""
    if n_outputs == 1:
        return [(0, None)]
    return [(k, m) for k in range(n_outputs) for m in range(k + 1, n_outputs)]


def boundary_rows(pools: Pools, rows: list[list], post_of: Callable[[list[list]], Any], bound_ulps: int) -> list[list]:
    """Rows on both sides of every decision boundary, twice the score bound away from it.

    A boundary is where a score is 0 (one score) or the two leading scores are equal; a row (the neutral row
    and a few probe rows) is moved along the columns that weigh most on it (through the steps'
    inverse) to a margin of twice the bound, and kept when its correctly rounded margin is
    between 1.5 and 4 times the bound (the steps' rounding moves it a little): there the bound
    decides the label, so a label that differs is a difference the proof must catch. Nearer
    than the bound, a label is a matter of rounding, in scikit-learn as much as here.
    """
    from lambdapack_runtime.linear import Linear

    W, b = np.asarray(pools.export.coef), np.asarray(pools.export.intercept)
    kernel = Linear(pools.export.model, {})
    picked = [rows[int(i)] for i in pools.rng.choice(len(rows), size=min(BOUNDARY_BASES, len(rows)), replace=False)]
    bases = [neutral_row(pools), *picked]
    X = post_of(bases)
    movable = [j for j, c in enumerate(pools.columns) if c.invert is not None and c.origin is not None
               and pools.fields[c.origin]["type"] != "category"]
    candidates, sides = [], []
    for k, m in _boundaries(W.shape[0]):
        d = W[k] - (W[m] if m is not None else 0.0)
        c = b[k] - (b[m] if m is not None else 0.0)
        columns = sorted((j for j in movable if d[j] != 0.0), key=lambda j: -abs(d[j]))[:BOUNDARY_COLUMNS]
        for x, base in zip(X, bases, strict=True):
            margin = float(x @ d + c)
            for j in columns:
                at = x.copy()
                at[j] = x[j] - margin / d[j]
                scale = np.abs(at) @ np.abs(W.T) + np.abs(b)
                gap = 2 * bound_ulps * (math.ulp(scale[k]) + (math.ulp(scale[m]) if m is not None else 0.0))
                for side in (1.0, -1.0):
                    value = pools.columns[j].invert(x[j] + (side * gap - margin) / d[j])
                    if math.isfinite(value) and abs(value) <= FLOAT32_MAX:
                        row = list(base)
                        row[pools.columns[j].origin] = value
                        candidates.append(row)
                        sides.append((k, m))
    if not candidates:
        return []
    seen = post_of(candidates)
    scales = np.abs(seen) @ np.abs(W.T) + np.abs(b)
    kept = []
    for row, x, scale, (k, m) in zip(candidates, seen, scales, sides, strict=True):
        scores = kernel.raw(x.tolist())
        bound = bound_ulps * (math.ulp(scale[k]) + (math.ulp(scale[m]) if m is not None else 0.0))
        others = [s for i, s in enumerate(scores) if i not in (k, m)]
        deciding = m is None or not others or min(scores[k], scores[m]) > max(others)  # the two leading scores
        if deciding and 1.5 * bound <= abs(scores[k] - (scores[m] if m is not None else 0.0)) <= 4 * bound:
            kept.append(row)
    return kept


def linear_rows(pools: Pools, rows: list[list], post_of: Callable[[list[list]], Any], task: str,
                bound_ulps: int) -> tuple[list[list], int]:
    """A linear model's own probe rows, ``(rows, how many sit by a decision boundary)``."""
    weighed = coefficient_rows(pools)
    near = boundary_rows(pools, rows + weighed, post_of, bound_ulps) if task == "classification" else []
    return weighed + near, len(near)
