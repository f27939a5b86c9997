"""LightGBM (``LGBMClassifier``, ``LGBMRegressor``, a native ``Booster``): its trees walked as LightGBM walks them.

The trees come from ``booster.dump_model()``: the iterations ``predict`` uses (the best one when
training stopped early). What LightGBM does with a row, and how the tables repeat it:

* its dense-matrix reader drops every value within ±kZeroThreshold (the float ``1e-35f``), so the
  trees see 0.0 there. A numerical threshold in [-kZero, 0) is stored as the double just below
  -kZero and one in [0, kZero) as kZero: comparing the raw value then picks the same side;
* a numerical node goes left when ``x <= threshold`` (in double; the dump's ±1e300 is the model's
  ±inf, and every value a request may send is below it). Its ``missing_type`` decides
  missing values: ``None`` turns NaN into 0.0 (the node's missing direction is where 0.0 goes),
  ``NaN`` sends NaN the ``default_left`` way, ``Zero`` sends NaN and zero that way (the feature is
  listed in ``zero_as_missing``). A feature with ``Zero`` at some nodes and ``NaN`` at others is
  refused: one feature-wide rule cannot say both;
* a categorical node goes left when the value's integer part is in the node's bitset; NaN, negative
  values and categories it never saw go right;
* the raw score adds each tree's leaf from 0.0, iteration by iteration, in double; a random forest
  (``average_output``) divides by the iterations only before the objective's output transform
  (``raw_score=True`` is the sum). The transform is the objective's ``ConvertOutput``
  (:func:`lambdapack_runtime.links.lightgbm_transform`);
* inputs LightGBM saw with the pandas ``category`` dtype are coded as it codes them: each learned
  category is its position in ``pandas_categorical``, anything else missing.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from lambdapack_runtime.trees import KZERO  # kZeroThreshold: `const double kZeroThreshold = 1e-35f`

from .errors import Unsupported
from .lower import Column, Facts
from .tables import Export, Tables

DUMP_CAP = 1e300  # dump_model writes values past ±1e300 (±inf) as ±1e300 (Common::AvoidInf)
FORMATS = ("v4",)  # the text model formats this front end reads (LightGBM 4.x writes v4)
CLASSIFIERS = {"binary": "sigmoid", "multiclass": "softmax", "multiclassova": "sigmoid", "cross_entropy": "sigmoid"}
REGRESSORS = {"regression": "identity", "regression_l1": "identity", "huber": "identity", "fair": "identity",
              "quantile": "identity", "mape": "identity", "poisson": "exp", "gamma": "exp", "tweedie": "exp",
              "cross_entropy": "sigmoid", "cross_entropy_lambda": "log1p_exp"}
RANKING = ("lambdarank", "rank_xendcg")


def booster_of(est: Any) -> Any:
    """The ``lightgbm.Booster`` behind a scikit-learn wrapper or a runtime adapter."""
    booster = getattr(est, "booster", None)  # lambdapack_runtime's adapter of a native Booster
    if booster is None:
        booster = est.booster_
    return booster


def atof(text: str) -> float:
    """LightGBM's own ``Common::Atof``, which reads an objective's parameters (``sigmoid:0.7``) when it
    loads a model: integer digits, then the fraction's digits as one integer divided by a power of
    ten, then the exponent. Not always Python's correctly rounded ``float(text)``."""
    text = text.strip()
    sign = -1.0 if text.startswith("-") else 1.0
    text = text.lstrip("+-")
    mantissa, _, exponent = text.lower().partition("e")
    whole, _, fraction = mantissa.partition(".")
    value = 0.0
    for digit in whole:
        value = value * 10.0 + float(ord(digit) - 48)
    if fraction:
        right = 0.0
        for digit in fraction:
            right = float(ord(digit) - 48) + right * 10.0
        value += right / _pow10(len(fraction))
    if exponent:
        negative = exponent.startswith("-")
        expon = min(int(exponent.lstrip("+-") or 0), 308)
        scale = 1.0
        while expon >= 50:
            scale *= 1e50
            expon -= 50
        while expon >= 8:
            scale *= 1e8
            expon -= 8
        while expon > 0:
            scale *= 10.0
            expon -= 1
        value = value / scale if negative else value * scale
    return sign * value


def _pow10(power: int, base: float = 10.0) -> float:
    """LightGBM's ``Common::Pow(10.0, n)``: squaring and cubing in its order."""
    if power == 0:
        return 1.0
    if power % 2 == 0:
        return _pow10(power // 2, base * base)
    if power % 3 == 0:
        return _pow10(power // 3, base * base * base)
    return base * _pow10(power - 1, base)


def output_of(objective_text: str, task: str, average: int | None) -> dict:
    """The output rule for the model's objective string (``binary sigmoid:1``, ``multiclass num_class:3``)."""
    name, *params = objective_text.split()
    values = dict(p.split(":", 1) for p in params if ":" in p)
    if name in RANKING:
        raise Unsupported(f"its objective {name} ranks rows (LGBMRanker): its scores order a query's rows, "
                          "there is no prediction to serve")
    transforms = CLASSIFIERS if task == "classification" else REGRESSORS
    if name == "custom" or name not in transforms:
        raise Unsupported(f"its objective {name!r} has no output transform the predictor repeats"
                          + (" (a custom objective: LightGBM itself answers raw scores)" if name == "custom" else ""))
    transform = transforms[name]
    if transform == "identity" and "sqrt" in params:
        transform = "sqrt"
    output = {"link": "lightgbm", "transform": transform, "decision": "proba_argmax" if task == "classification"
              else "value", "sigmoid": atof(values.get("sigmoid", "1")) if name in ("binary", "multiclassova") else 1.0}
    if average:
        output["average"] = average
    return output


# ---------------------------------------------------------------------------------------------
# The trees


class _Forest:
    """The dumped trees flattened into node tables, with the category sets they name."""

    def __init__(self, n_features: int) -> None:
        self.tables = Tables()
        self.category_sets: list[list[int]] = []
        self._set_index: dict[tuple, int] = {}
        self.node_types: dict[int, set] = {}  # feature -> missing types of its numerical nodes
        self.categorical_features: set[int] = set()
        self.n_features = n_features

    def category_set(self, members: list[int]) -> int:
        key = tuple(sorted(set(members)))
        if key not in self._set_index:
            self._set_index[key] = len(self.category_sets)
            self.category_sets.append(list(key))
        return self._set_index[key]

    def add(self, root: dict) -> None:
        nodes: list[dict] = []
        children: list[list[int]] = []
        stack = [(root, -1, 0)]
        while stack:  # preorder: every child after its parent
            node, parent, side = stack.pop()
            index = len(nodes)
            nodes.append(node)
            children.append([-1, -1])
            if parent >= 0:
                children[parent][side] = index
            if "split_feature" in node:
                stack.append((node["right_child"], index, 1))
                stack.append((node["left_child"], index, 0))
            elif "leaf_const" in node or "leaf_coeff" in node:
                raise Unsupported("it has linear trees (linear_tree=True): their leaves are linear models")
        feature = np.full(len(nodes), -1, dtype=np.int64)
        threshold = np.zeros(len(nodes))
        missing_left = np.zeros(len(nodes), dtype=np.uint8)
        categorical = np.zeros(len(nodes), dtype=np.uint8)
        values = np.zeros((len(nodes), 1))
        for i, node in enumerate(nodes):
            if "split_feature" not in node:
                values[i, 0] = float(node["leaf_value"])
                if abs(values[i, 0]) >= DUMP_CAP:
                    raise Unsupported("a leaf value is beyond ±1e300, where LightGBM's dump caps what it writes")
                continue
            f = int(node["split_feature"])
            if not 0 <= f < self.n_features:
                raise Unsupported(f"a split tests feature {f} of {self.n_features}")
            feature[i] = f
            if node["decision_type"] == "==":
                self.categorical_features.add(f)
                members = [int(c) for c in str(node["threshold"]).split("||") if c != ""]
                categorical[i] = 1
                threshold[i] = float(self.category_set(members))
                missing_left[i] = 0  # NaN (and every negative value) always goes right
            elif node["decision_type"] == "<=":
                threshold[i], missing_left[i] = self._numerical(f, node)
            else:
                raise Unsupported(f"a split compares with {node['decision_type']!r}")
        left = np.array([c[0] for c in children], dtype=np.int64)
        right = np.array([c[1] for c in children], dtype=np.int64)
        self.tables.add(feature, left, right, threshold, values, missing_left, categorical)

    def _numerical(self, f: int, node: dict) -> tuple[float, int]:
        t = float(node["threshold"])
        if abs(t) >= DUMP_CAP:  # the dump writes ±1e300 for a threshold of ±inf ("all numbers on one side")
            t = math.copysign(math.inf, t)
        kind = str(node["missing_type"])
        if kind not in ("None", "Zero", "NaN"):
            raise Unsupported(f"a split has missing type {kind!r}")
        self.node_types.setdefault(f, set()).add(kind)
        if -KZERO <= t < 0.0:  # the trees see 0.0 for every |x| <= kZero, which goes right here
            t = math.nextafter(-KZERO, -math.inf)
        elif 0.0 <= t < KZERO:  # ... and left here
            t = KZERO
        if kind == "None":
            return t, int(t >= 0.0)  # NaN is compared as 0.0: left when 0.0 <= t
        return t, int(bool(node["default_left"]))

    def zero_as_missing(self, names: list[str]) -> list[int]:
        """The features whose zeros are missing values; refuses a feature that says both Zero and NaN."""
        out = []
        for f, kinds in sorted(self.node_types.items()):
            if "Zero" in kinds and "NaN" in kinds:
                raise Unsupported(f"feature {names[f]!r} treats zero as missing at some splits and NaN at others")
            if "Zero" in kinds:
                if f in self.categorical_features:
                    raise Unsupported(f"feature {names[f]!r} is split both as a category and as a number")
                out.append(f)
        return out


def export(est: Any, task: str) -> Export:
    booster = booster_of(est)
    dump = booster.dump_model()
    if dump.get("version") not in FORMATS:
        import lightgbm

        raise Unsupported(f"its model format {dump.get('version')!r} is newer than LightGBM {lightgbm.__version__} "
                          f"writes ({', '.join(FORMATS)}): prove it with the LightGBM that saved it")
    K = int(dump["num_tree_per_iteration"])
    trees = dump["tree_info"]
    if K < 1 or len(trees) % K:
        raise Unsupported(f"it has {len(trees)} trees for {K} per iteration")
    average = len(trees) // K if dump.get("average_output") else None
    output = output_of(str(dump.get("objective") or "custom"), task, average)
    n_classes = len(est.classes_) if task == "classification" else 1
    if K not in (n_classes, 1 if n_classes == 2 else n_classes):
        raise Unsupported(f"it has {K} trees per iteration for {n_classes} outputs")
    names = [str(n) for n in dump.get("feature_names") or []]
    n_features = int(dump["max_feature_idx"]) + 1
    forest = _Forest(n_features)
    for tree in trees:
        forest.add(tree["tree_structure"])
    model = {"n_features": n_features, "n_values": 1, "n_outputs": K, "float32_inputs": False, "aggregate": "sum",
             "baseline": [0.0] * K, "scale": None, "tree_output": [i % K for i in range(len(trees))],
             "zero_as_missing": forest.zero_as_missing(names or [f"Column_{i}" for i in range(n_features)])}
    if forest.category_sets:
        model["category_sets"] = forest.category_sets
    return forest.tables.export(model, output)


# ---------------------------------------------------------------------------------------------
# Inputs with the pandas category dtype


def _pandas_categories(est: Any) -> list[list] | None:
    return getattr(booster_of(est), "pandas_categorical", None) or None


def _categorical_features(est: Any) -> list[int]:
    """The features LightGBM treats as categories (``feature_infos`` lists their values), in order."""
    infos = booster_of(est).dump_model(num_iteration=1).get("feature_infos") or {}
    names = booster_of(est).feature_name()
    return [i for i, name in enumerate(names) if (infos.get(name) or {}).get("values")]


def lower_inputs(est: Any, columns: list[Column], facts: Facts) -> tuple[list[dict], list[Column]]:
    """The ``category`` columns coded as LightGBM codes them: a predictor step, and what the schema learns."""
    categories = _pandas_categories(est)
    if not categories:
        return [], columns
    features = _categorical_features(est)
    if len(features) != len(categories):
        raise Unsupported(f"it learned {len(categories)} pandas category columns but splits {len(features)} "
                          "features as categories: which input is which cannot be told")
    if any(c.origin is None or c.values != "number" or c.origin != i for i, c in enumerate(columns)):
        raise Unsupported("its pandas category inputs come through preprocessing steps")
    parts: list[dict] = []
    coded = dict(zip(features, categories, strict=True))
    for i in range(len(columns)):
        if i in coded:
            known = [[_category(value), float(code)] for code, value in enumerate(coded[i])]
            table = {"known": known, "unknown": None, "unknown_ok": True, "missing": None, "missing_ok": True}
            parts.append({"columns": [i], "steps": [{"op": "ordinal", "columns": [table]}]})
            facts.category(i, [v for v, _ in known], True)
        elif parts and not parts[-1]["steps"]:
            parts[-1]["columns"].append(i)
        else:
            parts.append({"columns": [i], "steps": []})
    out = [Column(c.origin, "number", None if i in coded else c.invert) for i, c in enumerate(columns)]
    return [{"op": "columns", "parts": parts}], out


def _category(value: Any) -> str | int | float:
    value = value.item() if hasattr(value, "item") else value
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise Unsupported(f"a category input has a {type(value).__name__} category ({value!r}): requests send "
                          "text or numbers")
    return value


def encode_inputs(est: Any, X: Any) -> Any:
    """What LightGBM's own pandas reader makes of ``X``: category columns as codes, unknown ones NaN."""
    categories = _pandas_categories(est)
    if not categories or not hasattr(X, "columns"):
        return X
    from lightgbm import basic

    try:
        data, *_ = basic._data_from_pandas(X, "auto", "auto", categories)
    except (AttributeError, TypeError) as exc:  # a LightGBM whose pandas reader is not the one known here
        raise Unsupported(f"LightGBM's pandas reader cannot be asked here ({exc})") from None
    return np.asarray(data, dtype=np.float64)
