"""HistGradientBoosting*: the baseline plus each (already scaled) leaf; missing values routed as learned."""

from __future__ import annotations

from typing import Any

import numpy as np
import sklearn

from .errors import Unsupported, version
from .tables import Export, Tables, link_of


def export(est: Any, task: str) -> Export:
    if version(sklearn.__version__) < (1, 4):
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
            tables.add(nodes["feature_idx"].astype(np.int64), left, right, nodes["num_threshold"],
                       nodes["value"].astype(np.float64).reshape(-1, 1), nodes["missing_go_to_left"])
            outputs.append(k)
    K = int(est.n_trees_per_iteration_)
    decision = "value" if task == "regression" else ("argmax" if K > 1 else "raw_gt_0")
    model = {"n_features": int(est.n_features_in_), "n_values": 1, "n_outputs": K, "float32_inputs": False,
             "aggregate": "sum", "baseline": [float(b) for b in np.ravel(est._baseline_prediction)], "scale": None,
             "tree_output": outputs}
    return tables.export(model, {"decision": decision, "link": link_of(est)})
