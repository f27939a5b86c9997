"""XGBoost (XGBClassifier, XGBRegressor, XGBRF*, and a native Booster): its trees read from the model's JSON.

What XGBoost computes at predict time, and how the predictor repeats it:

* a node sends a row left when ``x < split`` with ``x`` rounded to float32: the kernel tests
  ``<=``, so the threshold stored is the largest float32 below the split;
* a missing value (NaN) goes where the node's ``default_left`` says;
* a categorical node lists the categories it sends right (every other category, and a code it
  never saw, goes left): the kernel sends the set's members left, so such a node's children are
  swapped and its default direction flipped; the categories come from the pandas ``category``
  dtype the model was fitted with, stored in the model (XGBoost >= 3.1), and the predictor maps
  each input's category to its code first (an unknown one, like a missing one, is missing);
* the margin starts at ``base_score`` in margin space (one value per class or target since 3.1;
  read by asking XGBoost itself with every leaf zeroed) and adds each tree's leaf in float32, in
  tree order (``sum_float32``); only the trees of the iteration range the wrapper predicts with
  count (up to ``best_iteration`` after early stopping);
* dart, as ``inplace_predict`` (the wrappers' path) computes it: each tree is predicted alone from
  its class's base margin, which is taken off again, and the difference times the tree's
  ``weight_drop`` is added, every step in float32 (so a dart tree adds
  ``((base[k] + leaf) - base[k]) * w``, computed here once per leaf);
* the objective's transform and the classifier's decision are XGBoost's own float32 code
  (:mod:`lambdapack_runtime.links`, ``xgb_*``).

Refused, with the reason: gblinear, custom objectives, multi-output trees and multiple targets,
a ``missing`` marker other than NaN, ranking and survival objectives, categorical inputs whose
categories the model does not store.
"""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np

from .errors import Unsupported
from .lower import Column, Facts, identity
from .tables import Export, Tables

# objective -> (task, decision, link)
OBJECTIVES = {
    "binary:logistic": ("classification", "proba_gt_half", "xgb_sigmoid"),
    "binary:logitraw": ("classification", "raw_gt_half", "xgb_margin"),
    "binary:hinge": ("classification", "raw_gt_0", "xgb_hinge"),
    "multi:softprob": ("classification", "proba_argmax", "xgb_softmax"),
    "multi:softmax": ("classification", "argmax", "xgb_scipy_softmax"),
    "reg:squarederror": ("regression", "value", "identity"),
    "reg:squaredlogerror": ("regression", "value", "identity"),
    "reg:pseudohubererror": ("regression", "value", "identity"),
    "reg:absoluteerror": ("regression", "value", "identity"),
    "reg:quantileerror": ("regression", "value", "identity"),
    "reg:logistic": ("regression", "value", "xgb_sigmoid"),
    "count:poisson": ("regression", "value", "xgb_exp"),
    "reg:gamma": ("regression", "value", "xgb_exp"),
    "reg:tweedie": ("regression", "value", "xgb_exp"),
}
UNCOVERED = {
    "survival:": "survival objectives (censored labels, predictions in time) stay on the estimator path",
    "rank:": "ranking objectives order rows within a query, which a single-row request does not have",
}


def _document(est: Any) -> dict:
    """The model as XGBoost writes it (``Booster.save_raw("json")``), whatever file it came from."""
    return json.loads(bytes(est.get_booster().save_raw("json")))


def _output(objective: str, task: str) -> tuple[str, str]:
    if objective not in OBJECTIVES:
        reason = next((why for prefix, why in UNCOVERED.items() if objective.startswith(prefix)), None)
        raise Unsupported(f"its objective {objective}: " + (reason or "not one the predictor reproduces"))
    wanted, decision, link = OBJECTIVES[objective]
    if wanted != task:
        raise Unsupported(f"its objective {objective} is a {wanted} objective in a {task} model")
    return decision, link


def _check_estimator(est: Any) -> None:
    if callable(getattr(est, "objective", None)):
        raise Unsupported("a custom objective (a Python function the predictor cannot repeat)")
    missing = getattr(est, "missing", math.nan)
    if missing is None or not (isinstance(missing, float) and math.isnan(missing)):
        raise Unsupported(f"its missing-value marker is {missing!r}; the predictor covers NaN only")


def _booster(learner: dict) -> tuple[dict, list | None]:
    """``(the trees' model, dart's weight per tree or None)``."""
    booster = learner["gradient_booster"]
    name = booster.get("name")
    if name == "gbtree":
        return booster["model"], None
    if name == "dart":
        return booster["gbtree"]["model"], [float(w) for w in booster["weight_drop"]]
    raise Unsupported(f"its booster is {name} (a linear model, not trees)" if name == "gblinear"
                      else f"its booster is {name!r}")


def _outputs(learner: dict, task: str) -> int:
    params = learner["learner_model_param"]
    if int(params.get("num_target", 1) or 1) > 1:
        raise Unsupported("it predicts several targets (multi-output)")
    classes = int(params.get("num_class", 0) or 0)
    if task == "classification" and classes == 2:
        raise Unsupported("a multi-class objective with two classes (XGBClassifier answers with a matrix)")
    return classes if classes > 2 else 1


def _tree_count(est: Any, model: dict, per_round: int) -> int:
    """How many trees the wrapper predicts with: all, or those up to ``best_iteration`` (early stopping)."""
    n_trees = len(model["trees"])
    try:
        rounds = int(est.best_iteration) + 1
    except AttributeError:
        return n_trees
    indptr = model.get("iteration_indptr")
    if indptr:
        return int(indptr[min(rounds, len(indptr) - 1)])
    return min(n_trees, rounds * per_round)


def _baseline(document: dict, n_features: int, n_outputs: int) -> list[float]:
    """``base_score`` in margin space, as XGBoost starts every margin: its margin with every leaf zeroed.

    ``document`` is changed (its leaves zeroed)."""
    import xgboost

    for tree in _booster(document["learner"])[0]["trees"]:
        left = tree["left_children"]
        tree["split_conditions"] = [0.0 if left[i] == -1 else c for i, c in enumerate(tree["split_conditions"])]
    zeroed = xgboost.Booster()
    zeroed.load_model(bytearray(json.dumps(document).encode()))
    row = np.full((1, n_features), np.nan, dtype=np.float32)
    margin = np.asarray(zeroed.inplace_predict(row, predict_type="margin", missing=np.nan), dtype=np.float32)
    values = [float(v) for v in margin.ravel()]
    if len(values) != n_outputs:
        raise Unsupported(f"its base margin has {len(values)} values for {n_outputs} outputs")
    return values


def _preorder(left: list, right: list) -> list[int]:
    """The nodes reachable from the root, each before its children (XGBoost may reuse freed ids)."""
    order, stack = [], [0]
    while stack:
        node = stack.pop()
        order.append(node)
        if left[node] != -1:
            stack += [right[node], left[node]]
    return order


class _Sets:
    """The category sets of every categorical node, each distinct set stored once."""

    def __init__(self) -> None:
        self.index: dict[tuple, int] = {}

    def add(self, categories: list) -> int:
        key = tuple(sorted(int(c) for c in categories))
        return self.index.setdefault(key, len(self.index))

    def spec(self) -> list[list[int]]:
        return [list(k) for k in sorted(self.index, key=self.index.__getitem__)]


def _node_categories(tree: dict) -> dict[int, list]:
    cats, nodes = tree.get("categories") or [], tree.get("categories_nodes") or []
    starts, sizes = tree.get("categories_segments") or [], tree.get("categories_sizes") or []
    return {int(n): cats[int(s) : int(s) + int(k)] for n, s, k in zip(nodes, starts, sizes, strict=True)}


def _dart_values(leaves: Any, weight: float, base: float) -> Any:
    """A dart tree's leaves as Dart::InplacePredict adds them: ``((base + leaf) - base) * w`` in float32."""
    with np.errstate(over="ignore"):
        return ((np.float32(base) + leaves) - np.float32(base)) * np.float32(weight)


def _tree(tree: dict, sets: _Sets) -> tuple:
    """One tree's tables: ``(feature, left, right, threshold, values, missing_left, categorical)``."""
    if int(tree["tree_param"].get("size_leaf_vector", 1) or 1) > 1:
        raise Unsupported("multi-output trees (multi_strategy='multi_output_tree')")
    left_in, right_in = tree["left_children"], tree["right_children"]
    order = _preorder(left_in, right_in)
    new = {old: i for i, old in enumerate(order)}
    split = np.asarray(tree["split_conditions"], dtype=np.float32)[order]
    kinds = tree.get("split_type") or [0] * len(left_in)
    by_node = _node_categories(tree)
    n = len(order)
    feature = np.asarray(tree["split_indices"], dtype=np.int64)[order]
    default_left = np.asarray(tree["default_left"], dtype=bool)[order]
    left, right = np.full(n, -1, dtype=np.int64), np.full(n, -1, dtype=np.int64)
    threshold = np.nextafter(split, np.float32(-np.inf)).astype(np.float64)  # x < split  <=>  x <= this
    categorical = np.zeros(n, dtype=np.uint8)
    for i, old in enumerate(order):
        if left_in[old] == -1:
            continue
        left[i], right[i] = new[left_in[old]], new[right_in[old]]
        if kinds[old] == 1:  # the listed categories go right: swap, so the set's members go left
            left[i], right[i] = right[i], left[i]
            default_left[i] = not default_left[i]
            categorical[i] = 1
            threshold[i] = sets.add(by_node.get(old, []))
    return feature, left, right, threshold, split.astype(np.float64).reshape(-1, 1), default_left, categorical


def export(est: Any, task: str) -> Export:
    _check_estimator(est)
    document = _document(est)
    learner = document["learner"]
    decision, link = _output(str(learner["objective"]["name"]), task)
    model, weights = _booster(learner)
    n_outputs = _outputs(learner, task)
    per_round = int(model["gbtree_model_param"].get("num_parallel_tree", 1) or 1) * n_outputs
    count = _tree_count(est, model, per_round)
    n_features = int(est.get_booster().num_features())
    baseline = _baseline(_document(est), n_features, n_outputs)
    outputs = [int(g) for g in model["tree_info"][:count]]
    sets = _Sets()
    trees = [_tree(tree, sets) for tree in model["trees"][:count]]
    any_categorical = any(t[-1].any() for t in trees)
    tables = Tables()
    for i, (feature, left, right, threshold, values, missing_left, categorical) in enumerate(trees):
        if weights is not None:
            values = _dart_values(values.astype(np.float32), weights[i], baseline[outputs[i]])
        tables.add(feature, left, right, threshold, values.astype(np.float64), missing_left,
                   categorical if any_categorical else None)
    spec = {"n_features": n_features, "n_values": 1, "n_outputs": n_outputs, "float32_inputs": True,
            "aggregate": "sum_float32", "baseline": baseline, "scale": None, "tree_output": outputs}
    if any_categorical:
        spec["category_sets"] = sets.spec()
    exported = tables.export(spec, {"decision": decision, "link": link})
    exported.raw_scores = margins
    return exported


def margins(model: Any, X: Any) -> Any:
    """The model's own raw scores for its input ``X``: ``predict(..., output_margin=True)`` after its steps."""
    final = model
    while type(final).__name__ == "Pipeline":
        if len(final.steps) > 1:
            X = final[:-1].transform(X)
        final = final.steps[-1][1]
    return np.asarray(final.predict(X, output_margin=True), dtype=np.float64)


# ---------------------------------------------------------------------------------------------
# Categorical inputs: each category to its code, before the trees


def _decoded(encoding: dict) -> list:
    """One feature's categories from the model's ``cats``: strings as UTF-8 bytes with offsets, or numbers."""
    values = encoding.get("values") or []
    offsets = encoding.get("offsets")
    if offsets is None:
        return [v.item() if hasattr(v, "item") else v for v in values]
    raw = bytes(int(v) & 0xFF for v in values)
    return [raw[offsets[i] : offsets[i + 1]].decode("utf-8") for i in range(len(offsets) - 1)]


def stored_categories(document: dict) -> list[list] | None:
    """Each feature's categories in code order (``[]`` for a number), or None when the model stores none."""
    cats = _booster(document["learner"])[0].get("cats")
    if not cats or not cats.get("enc"):
        return None
    return [_decoded(encoding) for encoding in cats["enc"]]


def lower_inputs(est: Any, columns: list[Column], facts: Facts) -> tuple[list[dict], list[Column]]:
    """The step XGBoost runs on its own inputs: a pandas category to its code (unknown or missing: NaN)."""
    types = list(est.get_booster().feature_types or [])
    categorical = [i for i, t in enumerate(types) if t == "c"]
    if not categorical:
        return [], columns
    stored = stored_categories(_document(est))
    if stored is None or getattr(est, "feature_names_in_", None) is None:
        raise Unsupported("its categorical inputs come without their categories (fitted on codes, or saved "
                          "by XGBoost < 3.1)")
    out, parts = list(columns), []
    for j, column in enumerate(columns):
        if j not in categorical:
            if parts and not parts[-1]["steps"]:
                parts[-1]["columns"].append(j)
            else:
                parts.append({"columns": [j], "steps": []})
            continue
        if column.origin is None or column.invert is not identity:
            raise Unsupported("a categorical input that the pipeline's steps transform first")
        known = stored[j]
        facts.category(column.origin, known, True)
        lookup = {"known": [[value, code] for code, value in enumerate(known)], "unknown_ok": True,
                  "unknown": None, "missing": None}
        parts.append({"columns": [j], "steps": [{"op": "ordinal", "columns": [lookup]}]})
        out[j] = Column(column.origin, "number", None)
    return [{"op": "columns", "parts": parts}], out
