"""Linear models: one correctly rounded dot product per output, then the intercept.

scikit-learn's ``X @ coef_.T + intercept_`` goes through BLAS, whose summation order is not
specified and changes with the batch size (one row and many rows of the same input can differ
in the last bits). Python cannot reproduce that order; it computes the exact sum of the exact
products, rounded once (:func:`dot`), then adds the intercept as scikit-learn does, so the
score is as close to the true value as a float can be, and ``package`` measures and states how
far scikit-learn's own scores are from it.

The same bits on every Python: a product's rounding error is computed only where it is exactly
representable (the product at least 2**-968 in magnitude, both factors below 2**995, so
neither Veltkamp's split nor the product overflows), where ``math.fma`` (3.13+) and Dekker's
two-product (3.10-3.12) give the same exact value. A product smaller than 2**-968 adds its
rounded value alone (its error is under 2**-1021, below any sum it could matter to but a sum
of such products).
"""

from __future__ import annotations

import math

_SPLIT = 134217729.0  # 2**27 + 1: Veltkamp's split of a double into two 26-bit halves
_TINY = 2.0**-968  # products at least this large have an exactly representable rounding error
_HUGE = 2.0**1000  # products and factors up to these cannot overflow in the two-product
_BIG = 2.0**995


def _halves(a: float) -> tuple[float, float]:
    c = _SPLIT * a
    high = c - (c - a)
    return high, a - high


if hasattr(math, "fma"):  # Python 3.13+
    def _error(a: float, b: float, p: float, b_halves: tuple[float, float]) -> float:
        return math.fma(a, b, -p)
else:
    def _error(a: float, b: float, p: float, b_halves: tuple[float, float]) -> float:
        """The rounding error of ``p = a * b`` (Dekker's two-product): ``a * b - p`` exactly."""
        ah, al = _halves(a)
        bh, bl = b_halves
        return ((ah * bh - p) + ah * bl + al * bh) + al * bl


def dot(x: list, weights: list, halves: list) -> float:
    """``sum(x[i] * weights[i])`` correctly rounded; inf and NaN propagate as numpy's would.

    ``halves[i]``: Veltkamp's split of ``weights[i]``, or None where it could overflow.
    """
    terms = []
    for a, b, bh in zip(x, weights, halves, strict=True):
        if a == 0.0:  # +-0 adds nothing (the weights are finite); one-hot rows are mostly zeros
            continue
        p = a * b
        terms.append(p)
        if _TINY <= abs(p) <= _HUGE and bh is not None and -_BIG < a < _BIG:
            terms.append(_error(a, b, p, bh))
    try:
        return math.fsum(terms)
    except (ValueError, OverflowError):  # inf - inf, or a sum past the double range
        total = 0.0
        for t in terms:
            total += t
        return total


class Linear:
    """``raw(x)`` -> ``[x . coef[k] + intercept[k] for each output k]``."""

    def __init__(self, spec: dict, tables: dict) -> None:
        self.n_features = int(spec["n_features"])
        self.coef = [[float(w) for w in row] for row in spec["coef"]]
        self.intercept = [float(b) for b in spec["intercept"]]
        if len(self.coef) != len(self.intercept) or any(len(row) != self.n_features for row in self.coef):
            raise ValueError("coefficients and intercepts of different shapes")
        if not all(math.isfinite(w) for row in self.coef for w in row):
            raise ValueError("coefficients that are not finite")
        self.halves = [[_halves(w) if abs(w) < _BIG else None for w in row] for row in self.coef]

    def check_nodes(self) -> None:
        """Nothing to walk: the shapes were checked at load."""

    def raw(self, x: list) -> list:
        return [dot(x, row, halves) + b for row, halves, b in zip(self.coef, self.halves, self.intercept,
                                                                  strict=True)]
