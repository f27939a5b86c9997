"""StandardScaler, RobustScaler, MinMaxScaler, MaxAbsScaler: one affine step in scikit-learn's order.

scikit-learn transforms a dense float64 array in place: ``X -= mean_`` then ``X /= scale_``
(StandardScaler; RobustScaler with ``center_``), ``X *= scale_`` then ``X += min_`` and an
optional clip (MinMaxScaler), ``X /= scale_`` (MaxAbsScaler). The same operations on Python
floats give the same bits; a zero scale is stored as 1 by scikit-learn itself.
"""

from __future__ import annotations

from typing import Any

from .errors import Unsupported
from .lower import Column, Facts


def _floats(values: Any) -> list[float] | None:
    return None if values is None else [float(v) for v in values]


def affine_spec(est: Any) -> dict:
    kind = type(est).__name__
    if kind == "StandardScaler":
        return {"op": "affine", "sub": _floats(est.mean_) if est.with_mean else None,
                "div": _floats(est.scale_) if est.with_std else None}
    if kind == "RobustScaler":
        return {"op": "affine", "sub": _floats(est.center_) if est.with_centering else None,
                "div": _floats(est.scale_) if est.with_scaling else None}
    if kind == "MinMaxScaler":
        clip = [float(v) for v in est.feature_range] if getattr(est, "clip", False) else None
        return {"op": "affine", "mul": _floats(est.scale_), "add": _floats(est.min_), "clip": clip}
    if kind == "MaxAbsScaler":
        return {"op": "affine", "div": _floats(est.scale_)}
    raise Unsupported(f"{kind} is not a scaler")


def _inverse(spec: dict, i: int, then: Any) -> Any:
    """Roughly the input that gives ``t`` here: the probe rows start from it and step to the exact side."""
    sub, div, mul, add = (spec.get(k) for k in ("sub", "div", "mul", "add"))

    def back(t: float) -> float:
        v = t
        if add is not None:
            v -= add[i]
        if mul is not None and mul[i] != 0.0:
            v /= mul[i]
        if div is not None:
            v *= div[i]
        if sub is not None:
            v += sub[i]
        return then(v)

    return back


def lower(est: Any, columns: list[Column], facts: Facts) -> tuple[dict, list[Column]]:
    if getattr(est, "n_features_in_", len(columns)) != len(columns):
        raise Unsupported(f"it takes {est.n_features_in_} columns and is given {len(columns)}")
    if any(c.values != "number" for c in columns):
        raise Unsupported("it is given category columns")
    spec = affine_spec(est)
    out = [Column(c.origin, "number", _inverse(spec, i, c.invert) if c.invert is not None else None)
           for i, c in enumerate(columns)]
    return spec, out
