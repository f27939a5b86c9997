"""Compile a fitted model into the stdlib predictor and prove it exact — run inside the model's own libraries.

Run by path (``python -I -S -B _child_compile.py``) in the interpreter that holds the model's
scikit-learn: the host's when its versions match the manifest, else the layer's Python with only
the layer on ``sys.path``. It imports nothing from lambdapack (the layer does not carry it): the
request on stdin says where the model, the predictor module and the output go; one JSON reply
on stdout says whether a predictor was written and why, with the verification figures.

Verification rows: one row per leaf no earlier row reached (built from the leaf's path, so every
leaf of every tree is reached), every threshold and one float32 (or float64) step either side of
it, random rows over and beyond the thresholds' range, extreme magnitudes, and NaN rows for
models that route missing values. The predictor must give the estimator's ``predict`` on all of
them, its ``decision_function`` for boosting, and its ``predict_proba``.
"""

from __future__ import annotations

import json
import math
import sys
import traceback
from typing import Any

MAX_ROWS = 200_000  # verification rows beyond which a model is too large to prove here
CHECK_ROWS = 8  # rows embedded in the predictor for its init-time self-check
_CHUNK = 4096


class Unsupported(Exception):
    """The model is outside what the predictor reproduces exactly; the message says why."""


def _version(text: str) -> tuple[int, int]:
    parts = [*(int(p) for p in text.split(".")[:2] if p.isdigit()), 0, 0]
    return parts[0], parts[1]


# ---------------------------------------------------------------------------------------------
# Export: estimator -> (header, tables)


class Tables:
    """Node tables of several trees laid end to end; leaves point into the values table."""

    def __init__(self) -> None:
        self.parts: dict[str, list] = {k: [] for k in ("feature", "left", "right", "threshold", "missing_left",
                                                         "values")}
        self.nodes = 0
        self.n_values = 0
        self.roots: list[int] = []

    def add(self, np: Any, feature: Any, left: Any, right: Any, threshold: Any, leaf_values: Any,
            missing_left: Any = None) -> None:
        """One tree: ``leaf_values`` is (nodes, width), read only at leaves; children are tree-local."""
        is_leaf = left < 0
        width = leaf_values.shape[1]
        self.roots.append(self.nodes)
        leaf_index = np.cumsum(is_leaf) - 1
        value_offset = self.n_values + leaf_index * width
        self.parts["feature"].append(np.where(is_leaf, -1, feature).astype(np.int64))
        self.parts["left"].append(np.where(is_leaf, value_offset, left + self.nodes).astype(np.int64))
        self.parts["right"].append(np.where(is_leaf, -1, right + self.nodes).astype(np.int64))
        self.parts["threshold"].append(np.where(is_leaf, 0.0, threshold).astype(np.float64))
        if missing_left is not None:
            self.parts["missing_left"].append(missing_left.astype(np.uint8))
        self.parts["values"].append(np.ascontiguousarray(leaf_values[is_leaf], dtype=np.float64).reshape(-1))
        self.nodes += len(feature)
        self.n_values += int(is_leaf.sum()) * width

    def arrays(self, np: Any) -> dict:
        return {k: np.concatenate(v) for k, v in self.parts.items() if v}


def _tree_arrays(np: Any, tree: Any) -> tuple:
    t = tree.tree_
    return t.feature, t.children_left, t.children_right, t.threshold


def _classes(est: Any) -> list:
    return [c.item() if hasattr(c, "item") else c for c in est.classes_]


def export_forest(np: Any, sklearn: Any, est: Any, task: str) -> tuple[dict, Tables]:
    trees = list(est.estimators_) if hasattr(est, "estimators_") else [est]
    if getattr(est, "n_outputs_", 1) != 1:
        raise Unsupported("multi-output trees")
    if task == "classification" and any(int(t.n_classes_) != len(est.classes_) for t in trees):
        raise Unsupported("a tree saw fewer classes than the forest")
    normalise = _version(sklearn.__version__) < (1, 4)  # older trees store counts, normalised at predict
    tables = Tables()
    for tree in trees:
        feature, left, right, threshold = _tree_arrays(np, tree)
        if task == "classification":
            values = np.array(tree.tree_.value[:, 0, : len(est.classes_)], dtype=np.float64)
            if normalise:
                normalizer = values.sum(axis=1)[:, np.newaxis]
                normalizer[normalizer == 0.0] = 1.0
                values /= normalizer
        else:
            values = np.array(tree.tree_.value[:, 0, :1], dtype=np.float64)
        tables.add(np, feature, left, right, threshold, values)
    header = {"kind": "forest", "n_values": len(est.classes_) if task == "classification" else 1,
              "n_outputs": 1, "float32_inputs": True, "missing": False,
              "decision": "argmax" if task == "classification" else "value", "link": "identity"}
    return header, tables


_LINKS = {"IdentityLink": "identity", "LogitLink": "logit", "HalfLogitLink": "half_logit",
          "MultinomialLogit": "softmax", "LogLink": "log"}


def _link(est: Any) -> str:
    loss = getattr(est, "_loss", None)
    name = type(getattr(loss, "link", None)).__name__
    if name not in _LINKS:
        raise Unsupported(f"its loss {type(loss).__name__} has a link ({name}) the predictor does not compute")
    return _LINKS[name]


def export_boosting(np: Any, sklearn: Any, est: Any, task: str) -> tuple[dict, Tables]:
    if _version(sklearn.__version__) < (1, 4):
        raise Unsupported(f"gradient boosting needs scikit-learn >= 1.4 for an exact predictor "
                          f"(this model: {sklearn.__version__})")
    init = est.init_
    if not (isinstance(init, str) and init == "zero") and type(init).__name__ not in ("DummyClassifier",
                                                                                      "DummyRegressor"):
        raise Unsupported(f"its init estimator {type(init).__name__} does not give a constant start")
    n_features = int(est.n_features_in_)
    baseline = est._raw_predict_init(np.zeros((1, n_features), dtype=np.float32))[0]
    tables = Tables()
    outputs = []
    stages, K = est.estimators_.shape
    for i in range(stages):
        for k in range(K):
            tree = est.estimators_[i, k]
            feature, left, right, threshold = _tree_arrays(np, tree)
            tables.add(np, feature, left, right, threshold, np.array(tree.tree_.value[:, 0, :1], dtype=np.float64))
            outputs.append(k)
    link = _link(est)
    decision = "value" if task == "regression" else ("argmax" if K > 1 else "raw_ge_0")
    header = {"kind": "boosting", "n_values": 1, "n_outputs": K, "float32_inputs": True, "missing": False,
              "baseline": [float(b) for b in baseline], "scale": float(est.learning_rate),
              "tree_output": outputs, "decision": decision, "link": link}
    return header, tables


def export_hist_boosting(np: Any, sklearn: Any, est: Any, task: str) -> tuple[dict, Tables]:
    if _version(sklearn.__version__) < (1, 4):
        raise Unsupported(f"histogram gradient boosting needs scikit-learn >= 1.4 for an exact predictor "
                          f"(this model: {sklearn.__version__})")
    if getattr(est, "_preprocessor", None) is not None or (getattr(est, "is_categorical_", None) is not None
                                                          and bool(np.any(est.is_categorical_))):
        raise Unsupported("it has categorical features (bitset splits)")
    tables = Tables()
    outputs = []
    for per_iteration in est._predictors:
        for k, predictor in enumerate(per_iteration):
            nodes = predictor.nodes
            if bool(np.any(nodes["is_categorical"])):
                raise Unsupported("it has categorical splits")
            is_leaf = nodes["is_leaf"].astype(bool)
            left = np.where(is_leaf, -1, nodes["left"].astype(np.int64))
            right = np.where(is_leaf, -1, nodes["right"].astype(np.int64))
            tables.add(np, nodes["feature_idx"].astype(np.int64), left, right, nodes["num_threshold"],
                       nodes["value"].astype(np.float64).reshape(-1, 1), nodes["missing_go_to_left"])
            outputs.append(k)
    K = int(est.n_trees_per_iteration_)
    decision = "value" if task == "regression" else ("argmax" if K > 1 else "raw_gt_0")
    header = {"kind": "hist_boosting", "n_values": 1, "n_outputs": K, "float32_inputs": False, "missing": True,
              "baseline": [float(b) for b in np.ravel(est._baseline_prediction)], "scale": None,
              "tree_output": outputs, "decision": decision, "link": _link(est)}
    return header, tables


EXPORTERS = {
    "DecisionTreeClassifier": export_forest, "ExtraTreeClassifier": export_forest,
    "DecisionTreeRegressor": export_forest, "ExtraTreeRegressor": export_forest,
    "RandomForestClassifier": export_forest, "ExtraTreesClassifier": export_forest,
    "RandomForestRegressor": export_forest, "ExtraTreesRegressor": export_forest,
    "GradientBoostingClassifier": export_boosting, "GradientBoostingRegressor": export_boosting,
    "HistGradientBoostingClassifier": export_hist_boosting, "HistGradientBoostingRegressor": export_hist_boosting,
}


def export(np: Any, sklearn: Any, est: Any) -> tuple[dict, dict]:
    name = type(est).__name__
    module = type(est).__module__
    exporter = EXPORTERS.get(name)
    if exporter is None or not module.startswith("sklearn."):
        raise Unsupported(f"{module}.{name} is not a tree model the predictor covers")
    task = "classification" if hasattr(est, "classes_") else "regression"
    if task == "classification" and np.ndim(est.classes_) != 1:
        raise Unsupported("multi-output classification")
    header, tables = exporter(np, sklearn, est, task)
    header.update(task=task, n_features=int(est.n_features_in_), roots=tables.roots,
                  estimator=f"{module.split('._')[0]}.{name}", sklearn=sklearn.__version__)
    if task == "classification":
        header["classes"] = _classes(est)
    header.setdefault("tree_output", [0] * len(tables.roots))
    return header, tables.arrays(np)


# ---------------------------------------------------------------------------------------------
# Verification rows


def _float32_at_most(np: Any, value: float) -> float:
    """The largest float32 <= value."""
    f = np.float32(value)
    if float(f) > value:
        f = np.nextafter(f, np.float32(-np.inf))
    return float(f)


def _float32_above(np: Any, value: float) -> float:
    """The smallest float32 > value."""
    f = np.float32(value)
    if float(f) <= value:
        f = np.nextafter(f, np.float32(np.inf))
    return float(f)


def _pick(np: Any, lo: float, hi: float, f32: bool) -> float | None:
    """A value v with lo < v <= hi (as the model rounds it), or None if there is none."""
    if f32:
        v = _float32_at_most(np, hi) if math.isfinite(hi) else _float32_above(np, lo) if math.isfinite(lo) else 0.0
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


def walk(np: Any, tables: dict, roots: list, X: Any, header: dict) -> Any:
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


def base_rows(np: Any, tables: dict, header: dict, rng: Any) -> Any:
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


def leaf_rows(np: Any, tables: dict, header: dict, rows: Any, rng: Any) -> tuple[Any, int, int]:
    """Rows added so that every reachable leaf is reached; (rows, leaves, unreachable leaves)."""
    roots = header["roots"]
    paths = leaf_paths(tables, roots)
    reached = set(np.unique(walk(np, tables, roots, rows, header)).tolist())
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
            v = _pick(np, lo[f], hi[f], header["float32_inputs"])
            if v is None:
                ok = False
                break
            row[f] = v
        if ok:
            extra.append(row)
        else:
            unreachable += 1
    all_rows = np.concatenate([rows, np.array(extra).reshape(-1, n)]) if extra else rows
    reached = set(np.unique(walk(np, tables, roots, all_rows, header)).tolist())
    not_reached = [leaf for leaf in paths if leaf not in reached]
    if len(not_reached) > unreachable:
        raise Unsupported(f"{len(not_reached) - unreachable} leaves could not be reached by their own path: "
                          "the trees are not what the predictor assumes")
    return all_rows, len(paths), unreachable


# ---------------------------------------------------------------------------------------------
# Verification


def _ulps(np: Any, a: Any, b: Any) -> int:
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    ia, ib = a.view(np.int64), b.view(np.int64)
    return int(np.max(np.abs(ia - ib))) if a.size else 0


def verify(np: Any, est: Any, predictor: Any, X: Any, header: dict) -> dict:
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
            report["exp_ulps"] = _explain_exp(np, est, X, outputs, bad, header)
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
                              f"{_ulps(np, decision, got)} ulp")
    if probas is not None:
        report.update(_check_probabilities(np, est, X, probas, header, raws))
    return report


def predictor_input(predictor: Any, value: float) -> float:
    return predictor_module.float32(value) if predictor.float32_inputs else value


def _check_probabilities(np: Any, est: Any, X: Any, probas: list, header: dict, raws: Any) -> dict:
    expected = np.asarray(est.predict_proba(X), dtype=np.float64)
    got = np.asarray(probas, dtype=np.float64)
    if np.array_equal(expected, got):
        return {"probabilities": "exact"}
    if header["link"] != "softmax":
        raise Unsupported(f"its probabilities differ from predict_proba() by up to {_ulps(np, expected, got)} ulp")
    # softmax: the raw scores are proven equal above; what may differ is numpy's own exp
    raw = np.asarray(raws, dtype=np.float64)
    shifted = raw - raw.max(axis=1, keepdims=True)
    if np.array_equal(np.exp(shifted), np.vectorize(math.exp)(shifted)):
        raise Unsupported(f"its probabilities differ from predict_proba() by up to {_ulps(np, expected, got)} ulp")
    ulps = _ulps(np, expected, got)
    if ulps > 8:
        raise Unsupported(f"its probabilities differ from predict_proba() by {ulps} ulp")
    return {"probabilities": "exp", "exp_ulps": ulps,
            "exp_rows": int(np.sum(np.any(expected != got, axis=1)))}


def _explain_exp(np: Any, est: Any, X: Any, outputs: list, bad: Any, header: dict) -> int:
    """A log-link regressor: the raw score must be exact; only exp itself may differ."""
    raw = np.asarray(est._raw_predict(X), dtype=np.float64).ravel()
    mine = np.vectorize(math.exp)(raw)
    if not np.array_equal(mine, np.asarray(outputs, dtype=np.float64)):
        raise Unsupported("its raw scores differ from the estimator's")
    ulps = _ulps(np, np.asarray(est.predict(X), dtype=np.float64), mine)
    if ulps > 8:
        raise Unsupported(f"its predictions differ from predict() by {ulps} ulp")
    return ulps


# ---------------------------------------------------------------------------------------------


predictor_module: Any = None


def compile_model(request: dict) -> dict:
    global predictor_module
    import joblib
    import lambdapack_predictor
    import numpy as np
    import sklearn

    predictor_module = lambdapack_predictor
    est = joblib.load(request["model"])
    if hasattr(est, "n_jobs"):
        est.n_jobs = None  # the reference adds trees in order, as a single thread does
    header, arrays = export(np, sklearn, est)
    nodes = len(arrays["feature"])
    if nodes > int(request["max_nodes"]):
        raise Unsupported(f"its trees have {nodes:,} nodes, over the predictor's limit of {request['max_nodes']:,}")
    rng = np.random.default_rng(int(request.get("seed", 0)))
    X, leaves, unreachable = leaf_rows(np, arrays, header, base_rows(np, arrays, header, rng), rng)
    tables = {k: v.tolist() for k, v in arrays.items()}
    check = X[rng.choice(len(X), size=min(CHECK_ROWS, len(X)), replace=False)]
    expected = est.predict(check)
    if header["task"] == "classification":
        index = {label: i for i, label in enumerate(header["classes"])}
        check_out = [index[v] for v in expected.tolist()]
    else:
        check_out = [float(v) for v in expected]
    # JSON has no NaN: a missing value is null, as a request sends it
    rows = [[None if v != v else v for v in row] for row in check.tolist()]
    header["check"] = {"rows": rows, "outputs": check_out}
    data = lambdapack_predictor.encode(header, tables)
    predictor = lambdapack_predictor.Predictor(*lambdapack_predictor.decode(data))
    predictor.check_nodes()
    predictor.self_check()
    # scikit-learn's finite check sums each batch: rows of ±3.4e38 overflow that sum, harmlessly
    with np.errstate(over="ignore", invalid="ignore"):
        report = verify(np, est, predictor, X, header)
    report.update(leaves=leaves, unreachable_leaves=unreachable, nodes=nodes, trees=len(header["roots"]),
                  kind=header["kind"], estimator=header["estimator"], sklearn=sklearn.__version__)
    with open(request["out"], "wb") as fh:
        fh.write(data)
    return {"ok": True, "report": report}


def main() -> int:
    request = json.loads(sys.stdin.read())
    sys.path[:0] = request["sys_path"]
    try:
        reply = compile_model(request)
    except Unsupported as exc:
        reply = {"ok": False, "reason": str(exc)}
    except ImportError as exc:
        reply = {"ok": False, "reason": f"cannot import the model's libraries here ({exc})"}
    except Exception as exc:  # noqa: BLE001 -- reported to the parent, which keeps the joblib path and says why
        reply = {"ok": False, "reason": f"the compiler failed: {type(exc).__name__}: {exc}",
                 "traceback": traceback.format_exc()}
    sys.stdout.write(json.dumps(reply) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
