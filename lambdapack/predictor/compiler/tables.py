"""Node tables of several trees laid end to end: what every tree front end fills."""

from __future__ import annotations

from typing import Any

import numpy as np

from .errors import Unsupported


class Tables:
    """Leaves point into the values table; children are global node indices."""

    def __init__(self) -> None:
        self.parts: dict[str, list] = {k: [] for k in ("feature", "left", "right", "threshold", "missing_left",
                                                         "values")}
        self.nodes = 0
        self.n_values = 0
        self.roots: list[int] = []

    def add(self, feature: Any, left: Any, right: Any, threshold: Any, leaf_values: Any,
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

    def arrays(self) -> dict:
        return {k: np.concatenate(v) for k, v in self.parts.items() if v}


def sklearn_tree(tree: Any) -> tuple:
    """``(feature, left, right, threshold)`` of a fitted scikit-learn tree."""
    t = tree.tree_
    return t.feature, t.children_left, t.children_right, t.threshold


LINKS = {"IdentityLink": "identity", "LogitLink": "logit", "HalfLogitLink": "half_logit",
         "MultinomialLogit": "softmax", "LogLink": "log"}


def link_of(est: Any) -> str:
    """The predictor's name for the link of a boosting estimator's loss."""
    loss = getattr(est, "_loss", None)
    name = type(getattr(loss, "link", None)).__name__
    if name not in LINKS:
        raise Unsupported(f"its loss {type(loss).__name__} has a link ({name}) the predictor does not compute")
    return LINKS[name]
