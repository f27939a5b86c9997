"""The proof: probe rows that reach every leaf and sit on and beside every threshold, compared with the estimator.

Probe rows: one row per leaf no earlier row reached (built from the leaf's path, so every leaf of
every tree is reached), every threshold and one float32 (or float64) step either side of it,
random rows over and beyond the thresholds' range, extreme magnitudes, and NaN rows for models
that route missing values. The predictor must give the estimator's ``predict`` on all of them,
its ``decision_function`` for boosting, and its ``predict_proba``; any difference is
:class:`Unsupported`, and the function keeps the joblib path.
"""

from __future__ import annotations

import math
from typing import Any

import lambdapack_predictor
import numpy as np

from .errors import Unsupported

MAX_ROWS = 200_000  # verification rows beyond which a model is too large to prove here
_CHUNK = 4096


def _float32_at_most(value: float) -> float:
    """The largest float32 <= value."""
    f = np.float32(value)
    if float(f) > value:
        f = np.nextafter(f, np.float32(-np.inf))
    return float(f)


def _float32_above(value: float) -> float:
    """The smallest float32 > value."""
    f = np.float32(value)
    if float(f) <= value:
        f = np.nextafter(f, np.float32(np.inf))
    return float(f)


def _pick(lo: float, hi: float, f32: bool) -> float | None:
    """A value v with lo < v <= hi (as the model rounds it), or None if there is none."""
    if f32:
        v = _float32_at_most(hi) if math.isfinite(hi) else _float32_above(lo) if math.isfinite(lo) else 0.0
        if not math.isfinite(hi) and math.isfinite(lo) and not math.isfinite(v):
            return None
    else:
        v = hi if math.isfinite(hi) else float(np.nextafter(lo, np.inf)) if math.isfinite(lo) else 0.0
    return v if lo < v <= hi else None


def leaf_paths(tables: dict, roots: list) -> dict:
    """{leaf node: [(feature, threshold, went_left), ...]} for every leaf."""
    feature, left, right, threshold = (tables[k].tolist() for k in ("feature", "left", "right", "threshold"))
    paths: dict = {}
    for root in roots:
        stack = [(root, ())]
        while stack:
            node, path = stack.pop()
            f = feature[node]
            if f < 0:
                paths[node] = path
                continue
            stack.append((left[node], (*path, (f, threshold[node], True))))
            stack.append((right[node], (*path, (f, threshold[node], False))))
    return paths


def walk(tables: dict, roots: list, X: Any, header: dict) -> Any:
    """(rows, trees) leaf node reached, vectorised; the model's own rounding and missing routing."""
    if header["float32_inputs"]:
        X = X.astype(np.float32).astype(np.float64)
    feature, left, right, threshold = (tables[k] for k in ("feature", "left", "right", "threshold"))
    missing_left = tables.get("missing_left")
    out = []
    for start in range(0, len(X), _CHUNK):
        chunk = X[start : start + _CHUNK]
        nodes = np.tile(np.asarray(roots, dtype=np.int64), (len(chunk), 1))
        rows = np.arange(len(chunk))[:, None]
        while True:
            f = feature[nodes]
            active = f >= 0
            if not active.any():
                break
            v = chunk[rows, np.where(active, f, 0)]
            go_left = v <= threshold[nodes]
            if header["missing"]:
                go_left = np.where(np.isnan(v), missing_left[nodes].astype(bool), go_left)
            nodes = np.where(active, np.where(go_left, left[nodes], right[nodes]), nodes)
        out.append(nodes)
    return np.concatenate(out) if out else np.zeros((0, len(roots)), dtype=np.int64)


def base_rows(tables: dict, header: dict, rng: Any) -> Any:
    """Thresholds and their neighbours, random rows, extremes, and NaN rows where they are served."""
    n = header["n_features"]
    feature, threshold = tables["feature"], tables["threshold"]
    columns, lows, highs = [], [], []
    for f in range(n):
        cuts = np.unique(threshold[feature == f])
        if cuts.size == 0:
            cuts = np.array([0.0])
        if header["float32_inputs"]:
            c32 = cuts.astype(np.float32)
            near = [cuts, np.nextafter(c32, np.float32(np.inf)).astype(np.float64),
                    np.nextafter(c32, np.float32(-np.inf)).astype(np.float64)]
        else:
            near = [cuts, np.nextafter(cuts, np.inf), np.nextafter(cuts, -np.inf)]
        columns.append(np.unique(np.concatenate(near)))
        finite = cuts[np.isfinite(cuts)]  # histogram boosting splits missing from present at +inf
        lows.append(float(finite.min()) if finite.size else 0.0)
        highs.append(float(finite.max()) if finite.size else 0.0)
    depth = max(len(c) for c in columns)
    on_cuts = np.empty((depth, n))
    for f, col in enumerate(columns):  # every threshold value appears in its column; the others vary
        on_cuts[:, f] = np.concatenate([col, rng.choice(col, depth - len(col))]) if len(col) < depth else col
        rng.shuffle(on_cuts[:, f])
    lo, hi = np.array(lows), np.array(highs)
    span = np.maximum(hi - lo, 1.0)
    uniform = rng.uniform(lo - span, hi + span, size=(512, n))
    extremes = rng.choice(np.array([-3.4e38, -1e12, -1.0, -0.0, 0.0, 5e-324, 1e-30, 1.0, 1e12, 3.4e38]),
                          size=(64, n))
    blocks = [on_cuts, uniform, extremes]
    if header["missing"]:
        holes = rng.uniform(lo - span, hi + span, size=(256, n))
        holes[rng.random(size=holes.shape) < 0.3] = np.nan
        blocks.append(holes)
    return np.concatenate(blocks)


def leaf_rows(tables: dict, header: dict, rows: Any, rng: Any) -> tuple[Any, int, int]:
    """Rows added so that every reachable leaf is reached; (rows, leaves, unreachable leaves)."""
    roots = header["roots"]
    paths = leaf_paths(tables, roots)
    reached = set(np.unique(walk(tables, roots, rows, header)).tolist())
    missing = [leaf for leaf in paths if leaf not in reached]
    if len(rows) + len(missing) > MAX_ROWS:
        raise Unsupported(f"it has {len(paths):,} leaves: too many to prove exact at package time "
                          f"(limit {MAX_ROWS:,} verification rows)")
    n = header["n_features"]
    extra, unreachable = [], 0
    base = rows[rng.integers(0, len(rows), size=max(len(missing), 1))]
    for i, leaf in enumerate(missing):
        lo, hi = [-math.inf] * n, [math.inf] * n
        for f, thr, went_left in paths[leaf]:
            if went_left:
                hi[f] = min(hi[f], thr)
            else:
                lo[f] = max(lo[f], thr)
        row = base[i].copy()
        row[np.isnan(row)] = 0.0
        ok = True
        for f in range(n):
            if math.isinf(lo[f]) and math.isinf(hi[f]):
                continue
            v = _pick(lo[f], hi[f], header["float32_inputs"])
            if v is None:
                ok = False
                break
            row[f] = v
        if ok:
            extra.append(row)
        else:
            unreachable += 1
    all_rows = np.concatenate([rows, np.array(extra).reshape(-1, n)]) if extra else rows
    reached = set(np.unique(walk(tables, roots, all_rows, header)).tolist())
    not_reached = [leaf for leaf in paths if leaf not in reached]
    if len(not_reached) > unreachable:
        raise Unsupported(f"{len(not_reached) - unreachable} leaves could not be reached by their own path: "
                          "the trees are not what the predictor assumes")
    return all_rows, len(paths), unreachable


def _ulps(a: Any, b: Any) -> int:
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    ia, ib = a.view(np.int64), b.view(np.int64)
    return int(np.max(np.abs(ia - ib))) if a.size else 0


def verify(est: Any, predictor: Any, X: Any, header: dict) -> dict:
    """Compare the predictor with the estimator on every row; raise Unsupported on any difference."""
    rows = X.tolist()
    outputs, probas = predictor.predict(rows)
    raws = [predictor.raw([predictor_input(predictor, v) for v in row]) for row in rows] \
        if header["kind"] != "forest" else None
    report = {"rows": len(rows)}
    expected = est.predict(X)
    if header["task"] == "classification":
        labels = np.asarray(header["classes"], dtype=object)[np.asarray(outputs)]
        bad = np.flatnonzero(labels != np.asarray(expected.tolist(), dtype=object))
    else:
        bad = np.flatnonzero(np.asarray(outputs, dtype=np.float64) != expected)
        if header["link"] == "log" and bad.size:
            report["exp_ulps"] = _explain_exp(est, X, outputs, bad, header)
            bad = np.array([], dtype=np.int64)
    if bad.size:
        i = int(bad[0])
        raise Unsupported(f"it disagrees with predict() on {bad.size} of {len(rows)} rows "
                          f"(first: row {X[i].tolist()} -> {outputs[i]!r}, estimator {expected[i]!r})")
    if raws is not None and header["task"] == "classification":
        decision = np.asarray(est.decision_function(X), dtype=np.float64).reshape(len(rows), -1)
        got = np.asarray(raws, dtype=np.float64).reshape(len(rows), -1)
        if not np.array_equal(decision, got):
            raise Unsupported(f"its raw scores differ from decision_function() by up to "
                              f"{_ulps(decision, got)} ulp")
    if probas is not None:
        report.update(_check_probabilities(est, X, probas, header, raws))
    return report


def predictor_input(predictor: Any, value: float) -> float:
    return lambdapack_predictor.float32(value) if predictor.float32_inputs else value


def _check_probabilities(est: Any, X: Any, probas: list, header: dict, raws: Any) -> dict:
    expected = np.asarray(est.predict_proba(X), dtype=np.float64)
    got = np.asarray(probas, dtype=np.float64)
    if np.array_equal(expected, got):
        return {"probabilities": "exact"}
    if header["link"] != "softmax":
        raise Unsupported(f"its probabilities differ from predict_proba() by up to {_ulps(expected, got)} ulp")
    # softmax: the raw scores are proven equal above; what may differ is numpy's own exp
    raw = np.asarray(raws, dtype=np.float64)
    shifted = raw - raw.max(axis=1, keepdims=True)
    if np.array_equal(np.exp(shifted), np.vectorize(math.exp)(shifted)):
        raise Unsupported(f"its probabilities differ from predict_proba() by up to {_ulps(expected, got)} ulp")
    ulps = _ulps(expected, got)
    if ulps > 8:
        raise Unsupported(f"its probabilities differ from predict_proba() by {ulps} ulp")
    return {"probabilities": "exp", "exp_ulps": ulps,
            "exp_rows": int(np.sum(np.any(expected != got, axis=1)))}


def _explain_exp(est: Any, X: Any, outputs: list, bad: Any, header: dict) -> int:
    """A log-link regressor: the raw score must be exact; only exp itself may differ."""
    raw = np.asarray(est._raw_predict(X), dtype=np.float64).ravel()
    mine = np.vectorize(math.exp)(raw)
    if not np.array_equal(mine, np.asarray(outputs, dtype=np.float64)):
        raise Unsupported("its raw scores differ from the estimator's")
    ulps = _ulps(np.asarray(est.predict(X), dtype=np.float64), mine)
    if ulps > 8:
        raise Unsupported(f"its predictions differ from predict() by {ulps} ulp")
    return ulps
