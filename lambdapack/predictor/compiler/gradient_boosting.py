"""GradientBoosting*: the init estimator's constant raw score plus ``learning_rate`` x each leaf."""

from __future__ import annotations

from typing import Any

import numpy as np
import sklearn

from .errors import Unsupported, version
from .tables import Export, Tables, link_of, sklearn_tree


def export(est: Any, task: str) -> Export:
    if version(sklearn.__version__) < (1, 4):
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
            feature, left, right, threshold = sklearn_tree(tree)
            # GradientBoosting checks its input is finite: a NaN never reaches the trees
            tables.add(feature, left, right, threshold, np.array(tree.tree_.value[:, 0, :1], dtype=np.float64))
            outputs.append(k)
    link = link_of(est)
    decision = "value" if task == "regression" else ("argmax" if K > 1 else "raw_ge_0")
    model = {"n_features": n_features, "n_values": 1, "n_outputs": K, "float32_inputs": True, "aggregate": "sum",
             "baseline": [float(b) for b in baseline], "scale": float(est.learning_rate), "tree_output": outputs}
    return tables.export(model, {"decision": decision, "link": link})
