"""The proof: the predictor against the estimator on every probe row, and the claim that holds.

The estimator is asked exactly as the handler asks it (``lambdapack_runtime.frames``), in the
model's own libraries. What must hold:

* the preprocessing steps' outputs are bit-identical to scikit-learn's (elementwise float
  operations, repeated in the same order and precision);
* ``predict`` gives the same label or value on every row;
* raw scores (``decision_function``) and probabilities (``predict_proba``) are bit-identical
  where the final estimator's arithmetic is repeated exactly (``exact``: trees, boosting), except
  that ``exp`` comes from the C library where numpy's vectorised ``exp`` may differ in the last
  bits (softmax probabilities, log-link predictions): within ``EXP_ULPS``, measured and stated;
* where the arithmetic is a BLAS dot product (``dot``), within ``DOT_ULPS`` units in the last
  place of the dot product's magnitude, measured and stated.

Anything else is :class:`~.errors.Unsupported`, and the function keeps the joblib path.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np
from lambdapack_runtime.frames import estimator_input
from lambdapack_runtime.inputs import Inputs

from .errors import Unsupported
from .lower import encode_final
from .tables import Export

EXP_ULPS = 8  # numpy's exp against the C library's, in ulps of the result
DOT_ULPS = 64  # a BLAS dot product against the correctly rounded one, in ulps of sum(|x_i * w_i|) + |b|


def ulps(a: Any, b: Any) -> int:
    """The largest distance between ``a`` and ``b`` in units in the last place (NaN equal to NaN)."""
    a, b = np.asarray(a, dtype=np.float64).ravel(), np.asarray(b, dtype=np.float64).ravel()
    both_nan = np.isnan(a) & np.isnan(b)
    if not a.size:
        return 0
    # sign-magnitude bit patterns onto one ordered line, -0.0 and 0.0 both at 0
    ia = [-(i & (2**63 - 1)) if i < 0 else i for i in a.view(np.int64).tolist()]
    ib = [-(i & (2**63 - 1)) if i < 0 else i for i in b.view(np.int64).tolist()]
    return max(0 if nan else abs(x - y) for x, y, nan in zip(ia, ib, both_nan.tolist(), strict=True))


def identical(a: Any, b: Any) -> bool:
    """Bit for bit, NaN equal to NaN (whatever its payload), -0.0 not equal to 0.0."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        return False
    same = a.view(np.int64) == b.view(np.int64)
    return bool(np.all(same | (np.isnan(a) & np.isnan(b))))


def preprocess(model: Any, X: Any) -> tuple[Any, Any]:
    """``(what the final estimator receives, the final estimator)`` for the input ``X``."""
    while type(model).__name__ == "Pipeline":
        if len(model.steps) > 1:
            X = model[:-1].transform(X)
        model = model.steps[-1][1]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # an encoder fitted on named columns, given an array: the order is right
        X = encode_final(model, X)
    if hasattr(X, "toarray"):
        X = X.toarray()
    return np.asarray(X, dtype=np.float64), model


class Proof:
    """The estimator's answers for the probe rows, and the comparison with the predictor's."""

    def __init__(self, model: Any, fields: list[dict], frame: str | None, export: Export, has_steps: bool,
                 classes: list | None) -> None:
        self.model = model
        self.classes = classes
        self.fields = fields
        self.frame = frame
        self.export = export
        self.has_steps = has_steps
        self.inputs = Inputs(fields).fields

    def estimator_input(self, rows: list[list]) -> Any:
        return estimator_input(rows, self.inputs, self.frame)

    def verify(self, predictor: Any, rows: list[list], task: str) -> dict:
        X = self.estimator_input(rows)
        report: dict[str, Any] = {"rows": len(rows), "arithmetic": self.export.arithmetic}
        with warnings.catch_warnings(), np.errstate(over="ignore", invalid="ignore"):
            warnings.simplefilter("ignore")  # feature-name warnings, numpy overflow in sums of extreme rows
            if self.has_steps:
                report["transforms"] = self._transforms(predictor, rows, X)
            outputs, probas = predictor.predict(rows)
            expected = self.model.predict(X)
            report["predict"] = self._predict(outputs, expected, rows, task)
            if task == "regression":
                report["scores"] = self._regression(outputs, expected, X)
            else:
                report["scores"] = self._scores(predictor, rows, X)
                if probas is not None:
                    report["probabilities"] = self._probabilities(probas, X, predictor)
        return report

    def _transforms(self, predictor: Any, rows: list[list], X: Any) -> str:
        reference, _ = preprocess(self.model, X)
        mine = np.array([predictor.transform(row) for row in rows], dtype=np.float64)
        if not identical(mine, reference):
            if mine.shape != reference.shape:
                raise Unsupported(f"its steps give {mine.shape[1]} columns where scikit-learn gives "
                                  f"{reference.shape[1]}")
            bad = np.flatnonzero(~np.all((mine == reference) | (np.isnan(mine) & np.isnan(reference)), axis=1))
            first = int(bad[0]) if bad.size else 0
            raise Unsupported(f"its preprocessing differs from scikit-learn's on {max(bad.size, 1)} of {len(rows)} "
                              f"rows (first: {rows[first]!r})")
        return "bit-identical"

    def _predict(self, outputs: list, expected: Any, rows: list[list], task: str) -> str:
        if task == "classification":
            labels = np.asarray(self.classes, dtype=object)[np.asarray(outputs)]
            bad = np.flatnonzero(labels != np.asarray(expected.tolist(), dtype=object))
        else:
            got = np.asarray(outputs, dtype=np.float64)
            close = np.isclose(got, expected, rtol=1e-12, atol=0.0) if self._bounded_regression() else got == expected
            bad = np.flatnonzero(~close)
        if bad.size:
            i = int(bad[0])
            raise Unsupported(f"it disagrees with predict() on {bad.size} of {len(rows)} rows "
                              f"(first: row {rows[i]!r} -> {outputs[i]!r}, estimator {expected[i]!r})")
        return "identical"

    def _bounded_regression(self) -> bool:
        return self.export.arithmetic == "dot" or self.export.output.get("link") == "log"

    def _regression(self, outputs: list, expected: Any, X: Any) -> dict:
        got = np.asarray(outputs, dtype=np.float64)
        if identical(got, expected):
            return {"claim": "bit-identical"}
        if self.export.output.get("link") == "log" and self.export.arithmetic == "exact":
            return self._exp_difference(got, expected, X)
        if self.export.arithmetic == "dot":
            return self._dot_difference(got, np.asarray(expected, dtype=np.float64), X)
        raise Unsupported(f"its predictions differ from predict() by up to {ulps(got, expected)} ulp")

    def _exp_difference(self, got: Any, expected: Any, X: Any) -> dict:
        """A log-link regressor: the raw score must be exact; only ``exp`` itself may differ."""
        seen, final = preprocess(self.model, X)
        raw = np.asarray(final._raw_predict(seen), dtype=np.float64).ravel()
        if not identical(np.vectorize(math.exp)(raw), got):
            raise Unsupported("its raw scores differ from the estimator's")
        measured = ulps(expected, got)
        if measured > EXP_ULPS:
            raise Unsupported(f"its predictions differ from predict() by {measured} ulp")
        return {"claim": "exp", "max_ulps": measured, "rows_differing": int(np.sum(got != expected))}

    def _dot_difference(self, got: Any, expected: Any, X: Any) -> dict:
        scale = self.export.magnitude(preprocess(self.model, X)[0]) if hasattr(self.export, "magnitude") else None
        if scale is None:
            raise Unsupported("its dot products cannot be bounded")
        scaled = np.abs(got - expected) / np.array([math.ulp(s) for s in np.ravel(scale)]).reshape(np.shape(scale))
        measured = float(np.max(scaled)) if scaled.size else 0.0
        if measured > DOT_ULPS:
            raise Unsupported(f"its scores differ from scikit-learn's by {measured:g} ulp of their magnitude "
                              f"(bound {DOT_ULPS})")
        return {"claim": "dot", "max_ulps": measured, "plain_ulps": ulps(got, expected),
                "rows_differing": int(np.sum(np.any((got != expected).reshape(len(got), -1), axis=1)))}

    def _scores(self, predictor: Any, rows: list[list], X: Any) -> dict | None:
        if not callable(getattr(self.model, "decision_function", None)) or self.export.model.get("aggregate") == "mean":
            return None
        expected = np.asarray(self.model.decision_function(X), dtype=np.float64).reshape(len(rows), -1)
        got = np.asarray([predictor.raw(row) for row in rows], dtype=np.float64).reshape(len(rows), -1)
        if identical(expected, got):
            return {"claim": "bit-identical"}
        if self.export.arithmetic == "dot":
            return self._dot_difference(got, expected, X)
        raise Unsupported(f"its raw scores differ from decision_function() by up to {ulps(expected, got)} ulp")

    def _probabilities(self, probas: list, X: Any, predictor: Any) -> dict:
        expected = np.asarray(self.model.predict_proba(X), dtype=np.float64)
        got = np.asarray(probas, dtype=np.float64)
        if identical(expected, got):
            return {"claim": "bit-identical"}
        measured = ulps(expected, got)
        differing = int(np.sum(np.any(expected != got, axis=1)))
        link = self.export.output.get("link")
        if self.export.arithmetic == "dot":
            bound = DOT_ULPS
            claim = "dot"
            measured_abs = float(np.max(np.abs(expected - got)))
            if measured_abs > DOT_ULPS * 2.0**-52:
                raise Unsupported(f"its probabilities differ from predict_proba() by {measured_abs:.3g}")
            return {"claim": claim, "max_abs": measured_abs, "max_ulps": measured, "rows_differing": differing,
                    "bound_ulps": bound}
        if link != "softmax" or measured > EXP_ULPS or not self._exp_differs(predictor, X):
            raise Unsupported(f"its probabilities differ from predict_proba() by up to {measured} ulp")
        return {"claim": "exp", "max_ulps": measured, "rows_differing": differing}

    def _exp_differs(self, predictor: Any, X: Any) -> bool:
        """Whether numpy's ``exp`` and the C library's disagree on these scores: the only excuse for a softmax gap."""
        raw = np.asarray(self.model.decision_function(X), dtype=np.float64).reshape(X.shape[0], -1)
        shifted = raw - raw.max(axis=1, keepdims=True)
        return not identical(np.exp(shifted), np.vectorize(math.exp)(shifted))
