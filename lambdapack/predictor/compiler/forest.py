"""Decision trees, random forests and extra trees: the average of the trees' leaf values."""

from __future__ import annotations

from typing import Any

import numpy as np
import sklearn

from .errors import Unsupported, version
from .tables import Export, Tables, sklearn_tree


def export(est: Any, task: str) -> Export:
    trees = list(est.estimators_) if hasattr(est, "estimators_") else [est]
    if getattr(est, "n_outputs_", 1) != 1:
        raise Unsupported("multi-output trees")
    if task == "classification" and any(int(t.n_classes_) != len(est.classes_) for t in trees):
        raise Unsupported("a tree saw fewer classes than the forest")
    normalise = version(sklearn.__version__) < (1, 4)  # older trees store counts, normalised at predict
    tables = Tables()
    for tree in trees:
        feature, left, right, threshold = sklearn_tree(tree)
        if task == "classification":
            values = np.array(tree.tree_.value[:, 0, : len(est.classes_)], dtype=np.float64)
            if normalise:
                normalizer = values.sum(axis=1)[:, np.newaxis]
                normalizer[normalizer == 0.0] = 1.0
                values /= normalizer
        else:
            values = np.array(tree.tree_.value[:, 0, :1], dtype=np.float64)
        # scikit-learn >= 1.3 trees send a NaN where the split learned (or to the larger child)
        missing = getattr(tree.tree_, "missing_go_to_left", None)
        tables.add(feature, left, right, threshold, values, missing)
    model = {"n_features": int(est.n_features_in_), "n_values": len(est.classes_) if task == "classification" else 1,
             "n_outputs": 1, "float32_inputs": True, "aggregate": "mean"}
    output = {"decision": "argmax" if task == "classification" else "value", "link": "identity"}
    return tables.export(model, output)
