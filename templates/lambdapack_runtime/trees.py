"""Tree ensembles as flat node tables: walk every tree to its leaf, then add the leaves up.

A node tests ``x[feature] <= threshold`` (front ends whose library tests ``<`` store the
threshold one float step down). A NaN input goes where the model learned (``missing_left``);
a categorical node (``categorical``) sends a value left when its integer part is in the node's
category set. Inputs are rounded to float32 first for models that compare in float32.

The leaves are averaged (``mean``: forests), added to a baseline (``sum``: boosting, optionally
times ``scale``), or added in float32 one tree after another (``sum_float32``).
"""

from __future__ import annotations

from .links import float32

AGGREGATES = ("mean", "sum", "sum_float32")
KZERO = 1.0000000180025095e-35  # LightGBM's kZeroThreshold, the float 1e-35f widened: |x| <= it is zero


class Trees:
    """``raw(x)`` -> the ensemble's raw scores for one row of floats."""

    def __init__(self, spec: dict, tables: dict) -> None:
        self.n_features = int(spec["n_features"])
        self.n_values = int(spec.get("n_values", 1))
        self.roots = [int(r) for r in spec["roots"]]
        self.tree_output = [int(k) for k in spec.get("tree_output") or [0] * len(self.roots)]
        self.n_outputs = int(spec.get("n_outputs", 1))
        self.baseline = [float(b) for b in spec.get("baseline") or [0.0] * self.n_outputs]
        self.scale = spec.get("scale")
        self.aggregate = spec.get("aggregate", "mean")
        self.float32_inputs = bool(spec.get("float32_inputs"))
        self.nan_as_zero = [int(f) for f in spec.get("nan_as_zero") or ()]
        self.zero_as_missing = [int(f) for f in spec.get("zero_as_missing") or ()]
        self.category_sets = [frozenset(s) for s in spec.get("category_sets") or ()]
        if self.aggregate not in AGGREGATES:
            raise ValueError(f"unknown aggregate {self.aggregate!r}")
        self.feature = tables["feature"]
        self.left = tables["left"]
        self.right = tables["right"]
        self.threshold = tables["threshold"]
        self.values = tables["values"]
        self.missing_left = tables.get("missing_left")
        self.categorical = tables.get("categorical")
        self._check_shape()
        self.leaves = self._walk_general if self.categorical is not None else (
            self._walk_missing if self.missing_left is not None else self._walk_plain)

    def _check_shape(self) -> None:
        """What init can check in time proportional to the trees, not the nodes."""
        n = len(self.feature)
        if not (len(self.left) == len(self.right) == len(self.threshold) == n):
            raise ValueError("node tables of different lengths")
        for name in ("missing_left", "categorical"):
            table = getattr(self, name)
            if table is not None and len(table) != n:
                raise ValueError(f"{name} table of the wrong length")
        if len(self.tree_output) != len(self.roots) or any(not 0 <= r < n for r in self.roots):
            raise ValueError("tree roots out of range")
        if any(not 0 <= k < self.n_outputs for k in self.tree_output):
            raise ValueError("tree output index out of range")

    def check_nodes(self) -> None:
        """Every node well formed: children after their parent (no cycles), leaves inside the values.

        O(nodes) in Python: the compiler runs it before shipping; the sha256 in function.json then
        guards the bytes, so init need not.
        """
        n = len(self.feature)
        for node in range(n):
            f = self.feature[node]
            if f >= self.n_features:
                raise ValueError(f"node {node} tests feature {f} of {self.n_features}")
            if f < 0:
                if not 0 <= self.left[node] <= len(self.values) - self.n_values:
                    raise ValueError(f"leaf {node} points outside the value table")
            elif not (node < self.left[node] < n and node < self.right[node] < n):
                raise ValueError(f"node {node} has children out of order or range")
            elif self.categorical is not None and self.categorical[node] and \
                    not 0 <= int(self.threshold[node]) < len(self.category_sets):
                raise ValueError(f"node {node} names a category set that does not exist")

    # -- one row -------------------------------------------------------------------------------

    def _walk_plain(self, x: list) -> list:
        feature, threshold, left, right = self.feature, self.threshold, self.left, self.right
        out = []
        for node in self.roots:
            f = feature[node]
            while f >= 0:
                node = left[node] if x[f] <= threshold[node] else right[node]
                f = feature[node]
            out.append(left[node])
        return out

    def _walk_missing(self, x: list) -> list:
        feature, threshold, left, right = self.feature, self.threshold, self.left, self.right
        go_left = self.missing_left
        out = []
        for node in self.roots:
            f = feature[node]
            while f >= 0:
                v = x[f]
                if v != v:  # NaN: where the model learned to send missing values
                    node = left[node] if go_left[node] else right[node]
                else:
                    node = left[node] if v <= threshold[node] else right[node]
                f = feature[node]
            out.append(left[node])
        return out

    def _walk_general(self, x: list) -> list:
        feature, threshold, left, right = self.feature, self.threshold, self.left, self.right
        go_left, categorical, sets = self.missing_left, self.categorical, self.category_sets
        out = []
        for node in self.roots:
            f = feature[node]
            while f >= 0:
                v = x[f]
                if v != v:
                    node = left[node] if go_left is not None and go_left[node] else right[node]
                elif categorical[node]:
                    node = left[node] if int(v) in sets[int(threshold[node])] else right[node]
                else:
                    node = left[node] if v <= threshold[node] else right[node]
                f = feature[node]
            out.append(left[node])
        return out

    def prepare(self, x: list) -> list:
        """The row as the trees compare it: float32 where the model rounds, missing-value conventions applied."""
        if self.float32_inputs:
            x = [float32(v) for v in x]
        if self.nan_as_zero or self.zero_as_missing:
            x = list(x)
            for f in self.nan_as_zero:
                if x[f] != x[f]:
                    x[f] = 0.0
            for f in self.zero_as_missing:
                if -KZERO <= x[f] <= KZERO:  # LightGBM's kZeroThreshold: zero is a missing value
                    x[f] = float("nan")
        return x

    def raw(self, x: list) -> list:
        """The forest's averaged leaf values, or the boosting's raw scores, for one row."""
        values, offsets = self.values, self.leaves(self.prepare(x))
        if self.aggregate == "mean":
            width = self.n_values
            if len(offsets) == 1:
                return values[offsets[0] : offsets[0] + width]
            total = [0.0] * width
            for off in offsets:
                for c in range(width):
                    total[c] += values[off + c]
            n = len(offsets)
            return [t / n for t in total]
        raw = list(self.baseline)
        outputs = self.tree_output
        if self.aggregate == "sum_float32":
            for off, k in zip(offsets, outputs, strict=True):
                raw[k] = float32(raw[k] + values[off])
            return raw
        scale = self.scale
        if scale is None:
            for off, k in zip(offsets, outputs, strict=True):
                raw[k] += values[off]
        else:
            for off, k in zip(offsets, outputs, strict=True):
                raw[k] += scale * values[off]
        return raw
