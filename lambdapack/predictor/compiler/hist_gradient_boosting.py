"""HistGradientBoosting*: the baseline plus each (already scaled) leaf; missing values routed as learned.

Categorical features (``categorical_features``, ``"from_dtype"`` included) go through the estimator's
own preprocessor first: an ``OrdinalEncoder`` turns each category into its code (a category it never
saw, or a missing one, into NaN) and puts the categorical columns first. The predictor repeats that
as its steps (:func:`lower_inputs`, the table read off the fitted encoder), and a categorical split
sends a code left when its bit is set in the split's ``raw_left_cat_bitsets`` row; NaN goes where
the split learned to send missing values, as every unknown category does.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import sklearn

from . import encoders
from .errors import Unsupported, version
from .lower import Column, Facts, identity
from .tables import Export, Tables, link_of


def _categorical(est: Any) -> bool:
    is_categorical = getattr(est, "is_categorical_", None)
    return is_categorical is not None and bool(np.any(is_categorical))


def lower_inputs(est: Any, columns: list[Column], facts: Facts) -> tuple[list[dict], list[Column]]:
    """The estimator's preprocessor (categorical columns encoded, then the numerical ones) as predictor steps."""
    pre = getattr(est, "_preprocessor", None)
    if pre is None:
        if _categorical(est):
            raise Unsupported(f"its categorical features are read without an encoder (scikit-learn "
                              f"{sklearn.__version__})")
        return [], columns
    parts, out = [], []
    indices = pre._transformer_to_input_indices
    for name, trans, _selection in pre.transformers_:
        selected = [int(i) for i in indices.get(name, [])]
        if (name, type(trans).__name__) not in (("encoder", "OrdinalEncoder"), ("numerical", "FunctionTransformer")) \
                and not (name == "remainder" and trans == "drop"):
            raise Unsupported(f"its preprocessor has a part {name!r} ({type(trans).__name__})")
        if not selected or name == "remainder":
            continue
        given = [columns[i] for i in selected]
        if name == "encoder":
            # the inputs themselves are categories only when nothing before the estimator changed them
            raw = all(c.invert is identity for c in given)
            spec, encoded = encoders.lower(trans, given, facts if raw else Facts())
            parts.append({"columns": selected, "steps": [spec]})
            out += encoded
        else:  # numerical: check_array, the values as they are in float64
            parts.append({"columns": selected, "steps": []})
            out += given
    return [{"op": "columns", "parts": parts}], out


def encode_inputs(est: Any, X: Any) -> Any:
    """The estimator's own preprocessing of ``X``: what its trees compare."""
    pre = getattr(est, "_preprocessor", None)
    return X if pre is None else pre.transform(X)


def _category_set(bitset: Any) -> list[int]:
    """The codes a ``raw_left_cat_bitsets`` row sends left: bit ``c % 32`` of word ``c // 32``."""
    words = [int(w) for w in bitset]
    return [32 * i + b for i, word in enumerate(words) for b in range(32) if word >> b & 1]


def export(est: Any, task: str) -> Export:
    if version(sklearn.__version__) < (1, 4):
        raise Unsupported(f"histogram gradient boosting needs scikit-learn >= 1.4 for an exact predictor "
                          f"(this model: {sklearn.__version__})")
    tables = Tables()
    outputs = []
    category_sets: list[list[int]] = []
    known: dict[tuple, int] = {}
    splits_categories = any(bool(np.any(p.nodes["is_categorical"])) for it in est._predictors for p in it)
    for per_iteration in est._predictors:
        for k, predictor in enumerate(per_iteration):
            nodes = predictor.nodes
            is_leaf = nodes["is_leaf"].astype(bool)
            categorical = nodes["is_categorical"].astype(bool) & ~is_leaf
            threshold = nodes["num_threshold"].astype(np.float64)
            for node in np.flatnonzero(categorical):
                members = tuple(_category_set(predictor.raw_left_cat_bitsets[nodes["bitset_idx"][node]]))
                if members not in known:
                    known[members] = len(category_sets)
                    category_sets.append(list(members))
                threshold[node] = float(known[members])
            left = np.where(is_leaf, -1, nodes["left"].astype(np.int64))
            right = np.where(is_leaf, -1, nodes["right"].astype(np.int64))
            tables.add(nodes["feature_idx"].astype(np.int64), left, right, threshold,
                       nodes["value"].astype(np.float64).reshape(-1, 1), nodes["missing_go_to_left"],
                       categorical.astype(np.uint8) if splits_categories else None)
            outputs.append(k)
    K = int(est.n_trees_per_iteration_)
    decision = "value" if task == "regression" else ("argmax" if K > 1 else "raw_gt_0")
    model = {"n_features": int(est.n_features_in_), "n_values": 1, "n_outputs": K, "float32_inputs": False,
             "aggregate": "sum", "baseline": [float(b) for b in np.ravel(est._baseline_prediction)], "scale": None,
             "tree_output": outputs}
    if category_sets:
        model["category_sets"] = category_sets
    return tables.export(model, {"decision": decision, "link": link_of(est)})
