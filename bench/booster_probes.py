"""The boosters bench's models, probe rows and comparisons: where converters of XGBoost and LightGBM go wrong.

Four 500-tree models: an XGBoost and a LightGBM classifier on a customer table with missing values
and a categorical input (pandas ``category`` columns), an XGBoost and a LightGBM regressor on
``make_friedman1`` data with 10% missing. Rows travel as a *codes matrix*: float64, NaN where a
value is missing, a categorical input as its category's code; :meth:`Fitted.library_input` turns
it back into what the library was fitted on.

5,000 probe rows per model: training rows; rows exactly on split thresholds and their neighbours
in the precision the library compares in (XGBoost: ``float32(x) < split``, so the float32 split,
the float32 values either side and the doubles either side of it, which float32 rounding moves
onto it; LightGBM: ``x <= threshold`` in double, so the threshold, the doubles either side and the
threshold rounded to float32, what a float32 converter sees); rows with about half their values
missing; for LightGBM rows with values of magnitude at most 1e-35 (LightGBM treats them as zero),
for XGBoost rows with zeros and very large values.

Outputs are compared in the precision the library answers in (float32 for XGBoost, float64 for
LightGBM): a row is bit-identical when every probability (classifiers) or the value (regressors)
has the library's bits; ulps are counted in that precision.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

SEED = 0
N_TREES = 500
N_PROBES = 5000
# how the 5,000 rows are shared out
SHARES = {"training": 0.3, "threshold": 0.4, "half_missing": 0.2, "special": 0.1}
LIGHTGBM_ZEROS = (0.0, -0.0, 1e-36, -1e-36, 1e-35, -1e-35, 5e-324, -5e-324)
XGBOOST_SPECIALS = (0.0, -0.0, 1e30, -1e30, 3.0e38, -3.0e38)


@dataclass(frozen=True)
class Fitted:
    key: str
    label: str
    library: str  # xgboost | lightgbm
    task: str  # classification | regression
    model: Any
    names: tuple[str, ...]
    categories: dict[int, list[str]]  # column -> categories in code order
    train: Any  # codes matrix of the training rows
    event_row: Any  # one held-out row (codes)

    def library_input(self, X: Any) -> Any:
        """The codes matrix as the library takes it: a DataFrame with category columns, or the array."""
        if not self.categories:
            return X
        import numpy as np
        import pandas as pd

        columns = {}
        for i, name in enumerate(self.names):
            if i in self.categories:
                codes = np.where(np.isnan(X[:, i]), -1, X[:, i]).astype(int)
                columns[name] = pd.Categorical.from_codes(codes, categories=self.categories[i])
            else:
                columns[name] = X[:, i]
        return pd.DataFrame(columns)

    def event(self) -> dict[str, Any]:
        """The held-out row as a request: numbers, category names, null where missing."""
        out: dict[str, Any] = {}
        for i, name in enumerate(self.names):
            value = float(self.event_row[i])
            if math.isnan(value):
                out[name] = None
            elif i in self.categories:
                out[name] = self.categories[i][int(value)]
            else:
                out[name] = value
        return out

    def input_rows(self, X: Any) -> list[list[Any]]:
        """Rows in lambdapack's inputs' space: numbers (NaN when missing), category names (None when missing)."""
        rows = []
        for raw in X.tolist():
            row: list[Any] = []
            for i, value in enumerate(raw):
                if i in self.categories:
                    row.append(None if math.isnan(value) else self.categories[i][int(value)])
                else:
                    row.append(value)
            rows.append(row)
        return rows


# ---------------------------------------------------------------------------- data and models


def _customers() -> tuple[Any, Any, tuple[str, ...], dict[int, list[str]]]:
    import numpy as np
    from zoo_models import customers

    frame, churn, _ = customers(n=4000, pandas_category=True)
    names = tuple(frame.columns)
    categories = {i: [str(c) for c in frame[n].cat.categories] for i, n in enumerate(names)
                  if str(frame[n].dtype) == "category"}
    codes = np.column_stack([
        np.where(frame[n].cat.codes.to_numpy() < 0, np.nan, frame[n].cat.codes.to_numpy()) if i in categories
        else frame[n].to_numpy(dtype=float) for i, n in enumerate(names)]).astype(float)
    return codes, churn, names, categories


def _friedman() -> tuple[Any, Any, tuple[str, ...]]:
    import numpy as np
    from sklearn.datasets import make_friedman1

    X, y = make_friedman1(n_samples=4000, n_features=10, noise=1.0, random_state=SEED)
    X[np.random.default_rng(SEED).random(X.shape) < 0.1] = np.nan
    return X, y, tuple(f"x{i}" for i in range(10))


def _fitted(key: str, label: str, library: str, task: str, model: Any, codes: Any, y: Any,
            names: tuple[str, ...], categories: dict[int, list[str]]) -> Fitted:
    partial = Fitted(key, label, library, task, model, names, categories, codes[:-1], codes[-1])
    model.fit(partial.library_input(codes[:-1]), y[:-1])
    return partial


def xgboost_classifier() -> Fitted:
    from xgboost import XGBClassifier

    codes, y, names, categories = _customers()
    model = XGBClassifier(n_estimators=N_TREES, max_depth=6, learning_rate=0.05, enable_categorical=True,
                          tree_method="hist", random_state=SEED, n_jobs=1)
    return _fitted("xgb_classifier", "XGBClassifier, 500 trees, categorical input, missing values", "xgboost",
                   "classification", model, codes, y, names, categories)


def lightgbm_classifier() -> Fitted:
    from lightgbm import LGBMClassifier

    codes, y, names, categories = _customers()
    model = LGBMClassifier(n_estimators=N_TREES, num_leaves=31, learning_rate=0.05, random_state=SEED, n_jobs=1,
                           verbose=-1)
    return _fitted("lgbm_classifier", "LGBMClassifier, 500 trees, categorical input, missing values", "lightgbm",
                   "classification", model, codes, y, names, categories)


def xgboost_regressor() -> Fitted:
    from xgboost import XGBRegressor

    X, y, names = _friedman()
    model = XGBRegressor(n_estimators=N_TREES, max_depth=6, learning_rate=0.05, random_state=SEED, n_jobs=1)
    return _fitted("xgb_regressor", "XGBRegressor, 500 trees, 10% missing", "xgboost", "regression", model, X, y,
                   names, {})


def lightgbm_regressor() -> Fitted:
    from lightgbm import LGBMRegressor

    X, y, names = _friedman()
    model = LGBMRegressor(n_estimators=N_TREES, num_leaves=31, learning_rate=0.05, random_state=SEED, n_jobs=1,
                          verbose=-1)
    return _fitted("lgbm_regressor", "LGBMRegressor, 500 trees, 10% missing", "lightgbm", "regression", model, X, y,
                   names, {})


MODELS: dict[str, Callable[[], Fitted]] = {
    "xgb_classifier": xgboost_classifier, "lgbm_classifier": lightgbm_classifier,
    "xgb_regressor": xgboost_regressor, "lgbm_regressor": lightgbm_regressor,
}


# ---------------------------------------------------------------------------- probe rows


def split_thresholds(fitted: Fitted) -> list[tuple[int, float]]:
    """Every distinct numeric split (column, threshold) as the library stores it."""
    import numpy as np

    index = {name: i for i, name in enumerate(fitted.names)}
    # a booster fitted on an array names its features itself: f0, f1, … (XGBoost), Column_0, … (LightGBM)
    default = "f{}" if fitted.library == "xgboost" else "Column_{}"
    index.update({default.format(i): i for i in range(len(fitted.names))})
    if fitted.library == "xgboost":
        frame = fitted.model.get_booster().trees_to_dataframe()
        frame = frame[(frame["Feature"] != "Leaf") & frame["Split"].notna()]
        pairs = {(index[f], float(np.float32(s))) for f, s in zip(frame["Feature"], frame["Split"], strict=True)}
    else:
        frame = fitted.model.booster_.trees_to_dataframe()
        frame = frame[frame["decision_type"] == "<="]
        pairs = {(index[f], float(t)) for f, t in zip(frame["split_feature"], frame["threshold"], strict=True)}
    return sorted(pairs)


def threshold_values(library: str, threshold: float) -> list[float]:
    """The threshold and its neighbours in the comparison's precision (and the doubles that round onto it)."""
    import numpy as np

    if library == "xgboost":
        t32 = np.float32(threshold)
        return [float(t32), float(np.nextafter(t32, np.float32(-np.inf))), float(np.nextafter(t32, np.float32(np.inf))),
                float(np.nextafter(float(t32), -math.inf)), float(np.nextafter(float(t32), math.inf))]
    with np.errstate(over="ignore"):  # a threshold beyond float32's range is its infinity there
        rounded = float(np.float32(threshold))
    return [threshold, float(np.nextafter(threshold, -math.inf)), float(np.nextafter(threshold, math.inf)), rounded]


def probe_rows(fitted: Fitted, n: int = N_PROBES) -> tuple[Any, list[str]]:
    """``n`` probe rows (codes matrix) and the kind of each row."""
    import numpy as np

    rng = np.random.default_rng(SEED)
    train = fitted.train
    numeric = [i for i in range(train.shape[1]) if i not in fitted.categories]
    counts = {kind: int(n * share) for kind, share in SHARES.items()}
    counts["training"] += n - sum(counts.values())
    rows: list[Any] = [train[rng.choice(len(train), counts["training"], replace=False)]]
    kinds = ["training"] * counts["training"]
    thresholds = split_thresholds(fitted)
    made = 0
    while made < counts["threshold"]:
        column, threshold = thresholds[int(rng.integers(len(thresholds)))]
        for value in threshold_values(fitted.library, threshold)[:counts["threshold"] - made]:
            row = train[int(rng.integers(len(train)))].copy()
            row[column] = value
            rows.append(row[None, :])
            made += 1
    kinds += ["threshold"] * made
    half = train[rng.integers(len(train), size=counts["half_missing"])].copy()
    half[rng.random(half.shape) < 0.5] = np.nan
    rows.append(half)
    kinds += ["half_missing"] * len(half)
    specials = LIGHTGBM_ZEROS if fitted.library == "lightgbm" else XGBOOST_SPECIALS
    special = train[rng.integers(len(train), size=counts["special"])].copy()
    for row in special:
        for column in rng.choice(numeric, size=max(1, len(numeric) // 2), replace=False):
            row[column] = specials[int(rng.integers(len(specials)))]
    rows.append(special)
    kinds += ["special"] * len(special)
    return np.vstack(rows), kinds


# ---------------------------------------------------------------------------- comparing


def reference(fitted: Fitted, X: Any) -> tuple[Any, Any]:
    """The library's own answers: labels and probabilities (classifiers), or values."""
    import numpy as np

    given = fitted.library_input(X)
    if fitted.task == "classification":
        return np.asarray(fitted.model.predict(given)), np.asarray(fitted.model.predict_proba(given))
    return None, np.asarray(fitted.model.predict(given))


def ulps(a: Any, b: Any) -> Any:
    """Units in the last place between same-dtype arrays (0 for equal bits or both NaN; inf when one is NaN)."""
    import numpy as np

    itype = np.int32 if a.dtype == np.float32 else np.int64

    def ordered(x: Any) -> Any:
        # the bit patterns as integers that count up with the value (-0.0 and 0.0 both 0); Python ints
        # from here on, so a difference across the sign of two float64 values cannot overflow
        i = np.ascontiguousarray(x).view(itype).astype(object)
        return np.where(i < 0, int(np.iinfo(itype).min) - i, i)

    out = np.abs(ordered(a) - ordered(b)).astype(float)
    nan_a, nan_b = np.isnan(a), np.isnan(b)
    out[nan_a & nan_b] = 0
    out[nan_a ^ nan_b] = np.inf
    return out


def as_reference(values: Any, ref: Any, task: str) -> Any:
    """A peer's outputs in the reference's shape and precision (a binary peer's p as [1 - p, p])."""
    import numpy as np

    got = np.asarray(values, dtype=np.float64)
    if task == "classification" and (got.ndim == 1 or got.shape[1] == 1) and ref.ndim == 2 and ref.shape[1] == 2:
        p = got.reshape(-1).astype(ref.dtype)
        return np.column_stack([ref.dtype.type(1) - p, p])
    return got.reshape(ref.shape).astype(ref.dtype)


def compare(ref_labels: Any, ref_values: Any, labels: Any, values: Any, task: str,
            kinds: list[str]) -> dict[str, Any]:
    """Label mismatches, bit-identical rows and the largest difference in ulps, with where they fall."""
    import numpy as np

    got = as_reference(values, ref_values, task)
    distance = ulps(got, ref_values)
    per_row = distance.reshape(len(distance), -1).max(axis=1)
    gap = np.abs(got.astype(np.float64) - ref_values.astype(np.float64))
    gap = np.where(np.isnan(gap), np.where(np.isnan(got) & np.isnan(ref_values), 0.0, np.inf), gap)
    out: dict[str, Any] = {"rows": len(per_row), "identical_rows": int((per_row == 0).sum()),
                           "max_ulps": float(per_row.max()) if len(per_row) else 0.0,
                           "max_abs_difference": float(gap.max()) if len(per_row) else 0.0,
                           "precision": str(ref_values.dtype)}
    differ = {k: int(((per_row != 0) & (np.asarray(kinds) == k)).sum()) for k in SHARES}
    out["differing_rows_by_kind"] = {k: v for k, v in differ.items() if v}
    if task == "classification":
        if labels is None:
            labels = got.argmax(axis=1)
        mismatched = np.asarray(labels).astype(int) != np.asarray(ref_labels).astype(int)
        out["label_mismatches"] = int(mismatched.sum())
        out["mismatches_by_kind"] = {k: int((mismatched & (np.asarray(kinds) == k)).sum()) for k in SHARES
                                     if (mismatched & (np.asarray(kinds) == k)).any()}
    return out
