"""SimpleImputer: a missing value replaced by the learned statistic, then the missing indicators.

Every strategy (mean, median, most_frequent, constant) stores its values in ``statistics_``;
the step keeps the columns scikit-learn keeps (an all-missing column is dropped unless
``keep_empty_features``), fills the missing entries and appends ``indicator_``'s columns.
"""

from __future__ import annotations

import math
from typing import Any

from .errors import Unsupported
from .lower import Column, Facts


def _scalar(value: Any) -> Any:
    value = value.item() if hasattr(value, "item") else value
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def _marker(est: Any) -> Any:
    """None when NaN (or None) is the missing value, else the value itself."""
    marker = est.missing_values
    if marker is None or (isinstance(marker, float) and math.isnan(marker)):
        return None
    if type(marker).__name__ in ("NAType", "NaTType"):
        return None
    return _scalar(marker)


def lower(est: Any, columns: list[Column], facts: Facts) -> tuple[dict, list[Column]]:
    if est.n_features_in_ != len(columns):
        raise Unsupported(f"it takes {est.n_features_in_} columns and is given {len(columns)}")
    statistics = [_scalar(v) for v in est.statistics_]
    keep_empty = bool(getattr(est, "keep_empty_features", False))
    keep = [i for i, v in enumerate(statistics) if v is not None or keep_empty]
    if keep_empty and any(v is None for v in statistics):
        raise Unsupported("it keeps an all-missing column (keep_empty_features)")
    indicator = []
    if getattr(est, "indicator_", None) is not None:
        if est.indicator_.features != "missing-only" and est.indicator_.features != "all":
            raise Unsupported(f"its indicator's features={est.indicator_.features!r}")
        indicator = [int(i) for i in est.indicator_.features_]
    spec = {"op": "impute", "missing": _marker(est), "fill": statistics, "keep": keep, "indicator": indicator}
    out = [columns[i] for i in keep] + [Column(columns[i].origin, "number", None) for i in indicator]
    return spec, out
