"""What a model front end gives the compiler (:class:`Export`), and the node tables every tree front end fills."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .errors import Unsupported


@dataclass
class Export:
    """A final estimator compiled: its kernel's spec, the output rule, its tables and how exact it is.

    ``arithmetic``: ``exact`` when the kernel repeats the library's operations in its order and
    precision (every score bit-identical), ``dot`` when a BLAS dot product's summation order
    cannot be repeated (labels proven identical, scores within a measured bound).
    ``raw_scores(model, X)``: the estimator's own raw scores for the model's input, for a family
    without ``decision_function`` (XGBoost's margins); the proof compares the kernel's with them.
    """

    model: dict
    output: dict
    tables: dict = field(default_factory=dict)  # name -> numpy array
    arithmetic: str = "exact"
    roots: list = field(default_factory=list)
    raw_scores: Any = None


class Tables:
    """Leaves point into the values table; children are global node indices."""

    def __init__(self) -> None:
        self.parts: dict[str, list] = {k: [] for k in ("feature", "left", "right", "threshold", "missing_left",
                                                         "categorical", "values")}
        self.nodes = 0
        self.n_values = 0
        self.roots: list[int] = []

    def add(self, feature: Any, left: Any, right: Any, threshold: Any, leaf_values: Any,
            missing_left: Any = None, categorical: Any = None) -> None:
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
        if categorical is not None:
            self.parts["categorical"].append(np.where(is_leaf, 0, categorical).astype(np.uint8))
        self.parts["values"].append(np.ascontiguousarray(leaf_values[is_leaf], dtype=np.float64).reshape(-1))
        self.nodes += len(feature)
        self.n_values += int(is_leaf.sum()) * width

    def arrays(self) -> dict:
        return {k: np.concatenate(v) for k, v in self.parts.items() if v}

    def export(self, model: dict, output: dict, arithmetic: str = "exact") -> Export:
        """The trees kernel over these tables (``roots`` and the node count added to ``model``)."""
        arrays = self.arrays()
        if "missing_left" in arrays and len(arrays["missing_left"]) != len(arrays["feature"]):
            raise Unsupported("some trees route missing values and others do not")
        spec = dict(model, kind="trees", roots=list(self.roots))
        spec.setdefault("tree_output", [0] * len(self.roots))
        return Export(spec, output, arrays, arithmetic, list(self.roots))


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
