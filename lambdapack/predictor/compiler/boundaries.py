"""Probe rows for linear models: every coefficient weighed alone, both sides of every decision boundary.

Each number also takes the values that put its columns at a spread of values after the steps
(:data:`.probes.SPREAD`); one input at a time moves away from a neutral row; and rows are placed
on both sides of every decision boundary, just past the scores' bound.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
from lambdapack_runtime.links import FLOAT32_MAX

from .probes import SPREAD, Pools

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
