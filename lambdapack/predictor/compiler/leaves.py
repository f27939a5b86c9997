"""Probe rows for tree models: every leaf reached, every default direction taken.

A row is built from the path of every leaf the pool rows did not reach, its inputs picked from
their pools (:mod:`.probes`) so that every split on the path, after the preprocessing, goes the
path's way; and a missing value is sent down every default branch one can reach.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from lambdapack_runtime.trees import KZERO

from .errors import Unsupported
from .probes import MAX_ROWS, Pools

_CHUNK = 4096


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
