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
* where the arithmetic is a BLAS dot product (``dot``: linear models), scores (and a regressor's
  predictions) within ``DOT_ULPS`` units in the last place of the dot product's magnitude
  ``sum(|x_i * w_i|) + |b|`` (the scale of any summation order's rounding error), and
  probabilities within what the row's measured score difference allows through the link (its
  largest slope, :data:`SLOPES`) plus ``PROBA_SLACK_ULPS`` ulp of 1.0 for evaluating the link
  (``exp`` and the divisions) on both sides; labels identical on every row all the same;
* for a family without ``decision_function`` whose front end gives ``raw_scores`` (XGBoost's
  margins), those bit for bit; its float32 transforms (``xgb_*`` links: expf from the C library,
  as XGBoost calls it) bit for bit too where the C library's ``expf`` is there, else within
  ``FLOAT32_EXP_ULPS`` float32 units in the last place.

Anything else is :class:`~.errors.Unsupported`, and the function keeps the joblib path.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np
from lambdapack_runtime.frames import estimator_input
from lambdapack_runtime.inputs import Inputs
from lambdapack_runtime.links import XGB_LINKS

from .errors import Unsupported
from .lower import encode_final, through_steps
from .tables import Export

EXP_ULPS = 8  # numpy's exp against the C library's, in ulps of the result
FLOAT32_LINKS = XGB_LINKS  # transforms computed in float32 with expf
# expf rounded from exp, or numpy's float32 exp (scipy's softmax), against the C library's expf, in float32
# ulps of the probabilities and values (measured: at most 3)
FLOAT32_EXP_ULPS = 4
DOT_ULPS = 64  # a BLAS dot product against the correctly rounded one, in ulps of sum(|x_i * w_i|) + |b|
PROBA_SLACK_ULPS = 16  # a link evaluated twice on nearby scores (exp, sums, divisions), in ulps of 1.0
# The largest slope of each link: |change of any probability| <= slope * (largest change of a score).
# expit' <= 1/4; softmax and the one-vs-rest normalisation: 2 p (1 - p) <= 1/2 (the sum of the
# partial derivatives' magnitudes); the softmax of [-s, s] and modified_huber's (clip(s) + 1) / 2
# for two classes: 1/2. modified_huber normalised over more classes has no global slope: per row,
# (classes - 1) / (2 * the smallest sum of (clip(s - gap) + 1) / 2 its scores allow).
SLOPES = {"logit": 0.25, "binary_softmax": 0.5, "softmax": 0.5, "ovr_logit": 0.5, "modified_huber": 0.5}


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


def ulps32_each(a: Any, b: Any) -> Any:
    """Elementwise distance of float32 values in float32 units in the last place (NaN equal to NaN)."""
    a32, b32 = np.asarray(a, dtype=np.float32).ravel(), np.asarray(b, dtype=np.float32).ravel()
    ia, ib = a32.view(np.int32).astype(np.int64), b32.view(np.int32).astype(np.int64)
    # sign-magnitude bit patterns onto one ordered line, as in ulps()
    ia, ib = np.where(ia < 0, -(ia & 0x7FFFFFFF), ia), np.where(ib < 0, -(ib & 0x7FFFFFFF), ib)
    return np.where(np.isnan(a32) & np.isnan(b32), 0, np.abs(ia - ib))


def ulps32(a: Any, b: Any) -> int:
    """:func:`ulps` of float32 values, in float32 units."""
    apart = ulps32_each(a, b)
    return int(np.max(apart)) if apart.size else 0


def preprocess(model: Any, X: Any) -> tuple[Any, Any]:
    """``(what the final estimator receives, the final estimator)`` for the input ``X``."""
    X, model = through_steps(model, X)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # an encoder fitted on named columns, given an array: the order is right
        X = encode_final(model, X)
    if hasattr(X, "toarray"):
        X = X.toarray()
    return np.asarray(category_codes(X), dtype=np.float64), model


def category_codes(X: Any) -> Any:
    """A DataFrame's ``category`` columns as their codes (missing or unknown: NaN), as XGBoost reads them."""
    dtypes = getattr(X, "dtypes", None)
    if dtypes is None or not any(str(d) == "category" for d in dtypes):
        return X
    X = X.copy()
    for name, dtype in dtypes.items():
        if str(dtype) == "category":
            codes = X[name].cat.codes.to_numpy().astype(np.float64)
            codes[codes < 0] = np.nan
            X[name] = codes
    return X


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
        report: dict[str, Any] = {"rows": len(rows), "arithmetic": self.export.arithmetic, "task": task}
        with warnings.catch_warnings(), np.errstate(over="ignore", invalid="ignore"):
            warnings.simplefilter("ignore")  # feature-name warnings, numpy overflow in sums of extreme rows
            if self.has_steps:
                report["transforms"] = self._transforms(predictor, rows, X)
            outputs, probas = predictor.predict(rows)
            expected = self.model.predict(X)
            report["predict"] = self._predict(outputs, expected, rows, task)
            if task == "regression":
                report["scores"] = self._regression(predictor, rows, outputs, expected, X)  # a regressor's values
                if report["scores"]["claim"] != "bit-identical":
                    report["predict"] = "bounded"
            else:
                report["scores"] = self._scores(predictor, rows, X)
                if probas is not None:
                    report["probabilities"] = self._probabilities(probas, X)
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
        if task == "regression" and self.export.arithmetic == "dot":
            return "within the score bound"  # a linear regressor's predictions are its scores: bounded below
        if task == "classification":
            labels = np.asarray(self.classes, dtype=object)[np.asarray(outputs)]
            bad = np.flatnonzero(labels != np.asarray(expected.tolist(), dtype=object))
        else:
            got = np.asarray(outputs, dtype=np.float64)
            close = self._close(got, expected) if self._bounded_regression() else got == expected
            bad = np.flatnonzero(~close)
        if bad.size:
            i = int(bad[0])
            raise Unsupported(f"it disagrees with predict() on {bad.size} of {len(rows)} rows "
                              f"(first: row {rows[i]!r} -> {outputs[i]!r}, estimator {expected[i]!r})")
        return "identical"

    def _bounded_regression(self) -> bool:
        return self.export.output.get("link") in ("log", *FLOAT32_LINKS)

    def _close(self, got: Any, expected: Any) -> Any:
        if self.export.output.get("link") in FLOAT32_LINKS:
            return ulps32_each(got, expected) <= FLOAT32_EXP_ULPS
        return np.isclose(got, expected, rtol=1e-12, atol=0.0)

    def _regression(self, predictor: Any, rows: list[list], outputs: list, expected: Any, X: Any) -> dict:
        got = np.asarray(outputs, dtype=np.float64)
        if self.export.arithmetic == "dot":  # stated as a bound even where every row happens to agree
            return self._dot_difference(got.reshape(len(got), 1), np.asarray(expected, dtype=np.float64).reshape(
                len(got), 1), X)
        margins = self._margins(predictor, rows, X) if self.export.raw_scores is not None else {}
        if identical(got, expected):
            return {"claim": "bit-identical", **margins}
        if self.export.output.get("link") in FLOAT32_LINKS:
            return {**self._float32_difference(got, expected, "predictions"), **margins}
        if self.export.output.get("link") == "log":
            return self._exp_difference(got, expected, X)
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
        """Scores ``(rows, outputs)`` within ``DOT_ULPS`` ulp of the dot product's magnitude, or Unsupported."""
        scale = self.export.magnitude(preprocess(self.model, X)[0]) if hasattr(self.export, "magnitude") else None
        if scale is None:
            raise Unsupported("its dot products cannot be bounded")
        scale = np.asarray(scale, dtype=np.float64).reshape(got.shape)
        same = (got == expected) | (np.isnan(got) & np.isnan(expected))
        with np.errstate(invalid="ignore", over="ignore"):
            gap = np.where(same, 0.0, np.abs(got - expected))
            scaled = np.where(same, 0.0, gap / np.spacing(np.abs(scale)))
        scaled[np.isnan(scaled)] = np.inf  # a difference against an infinite or NaN magnitude is unbounded
        gap[np.isnan(gap)] = np.inf
        self.score_gap = gap.max(axis=1) if gap.size else np.zeros(len(got))
        self.magnitude = scale.max(axis=1) if scale.size else np.zeros(len(got))
        worst = np.unravel_index(int(np.argmax(scaled)), scaled.shape) if scaled.size else (0, 0)
        measured = float(scaled[worst]) if scaled.size else 0.0
        if measured > DOT_ULPS:
            raise Unsupported(f"its scores differ from scikit-learn's by {measured:.4g} ulp of the dot product's "
                              f"magnitude (bound {DOT_ULPS}) on row {worst[0]}: {got[worst]!r} against "
                              f"{expected[worst]!r}")
        return {"claim": "dot", "max_ulps": measured, "bound_ulps": DOT_ULPS, "plain_ulps": ulps(got, expected),
                "rows_differing": int(np.sum(~np.all(same, axis=1)))}

    def _margins(self, predictor: Any, rows: list[list], X: Any) -> dict:
        """The kernel's raw scores against the front end's ``raw_scores`` (XGBoost's margins): bit for bit."""
        expected = np.asarray(self.export.raw_scores(self.model, X), dtype=np.float64).reshape(len(rows), -1)
        got = np.asarray([predictor.raw(row) for row in rows], dtype=np.float64).reshape(len(rows), -1)
        if not identical(expected, got):
            raise Unsupported(f"its raw scores differ from the model's margins by up to {ulps32(expected, got)} "
                              "float32 ulp")
        return {"margins": "bit-identical"}

    def _scores(self, predictor: Any, rows: list[list], X: Any) -> dict | None:
        if self.export.raw_scores is not None:
            return {"claim": "bit-identical", **self._margins(predictor, rows, X)}
        if not callable(getattr(self.model, "decision_function", None)) or self.export.model.get("aggregate") == "mean":
            return None
        expected = np.asarray(self.model.decision_function(X), dtype=np.float64).reshape(len(rows), -1)
        got = np.asarray([predictor.raw(row) for row in rows], dtype=np.float64).reshape(len(rows), -1)
        if self.export.arithmetic == "dot":  # stated as a bound even where every row happens to agree
            self.raw = got
            return self._dot_difference(got, expected, X)
        if identical(expected, got):
            return {"claim": "bit-identical"}
        raise Unsupported(f"its raw scores differ from decision_function() by up to {ulps(expected, got)} ulp")

    def _probabilities(self, probas: list, X: Any) -> dict:
        expected = np.asarray(self.model.predict_proba(X), dtype=np.float64)
        got = np.asarray(probas, dtype=np.float64)
        if self.export.arithmetic == "dot":
            return self._dot_probabilities(got, expected)
        if identical(expected, got):
            return {"claim": "bit-identical"}
        if self.export.output.get("link") in FLOAT32_LINKS:  # the margins are bit-identical (_scores): only expf
            return self._float32_difference(got, expected, "probabilities")
        measured = ulps(expected, got)
        differing = int(np.sum(np.any(expected != got, axis=1)))
        if self.export.output.get("link") != "softmax" or measured > EXP_ULPS or not self._exp_differs(X):
            raise Unsupported(f"its probabilities differ from predict_proba() by up to {measured} ulp")
        return {"claim": "exp", "max_ulps": measured, "rows_differing": differing}

    def _slopes(self) -> Any:
        """Per row, the link's largest slope over the scores the row's measured difference allows."""
        link = self.export.output.get("link")
        if link not in SLOPES:
            raise Unsupported(f"its probabilities (link {link!r}) cannot be bounded")
        if link != "modified_huber" or self.raw.shape[1] == 1:
            return np.full(len(self.raw), SLOPES[link])
        lowest = (np.clip(self.raw - self.score_gap[:, None], -1.0, 1.0) + 1.0) / 2.0
        with np.errstate(divide="ignore"):
            return (self.raw.shape[1] - 1) / (2.0 * lowest.sum(axis=1))  # inf where the sum may reach 0

    def _dot_probabilities(self, got: Any, expected: Any) -> dict:
        """Probabilities within ``slope * score difference + PROBA_SLACK_ULPS`` ulp of 1.0, row by row."""
        same = (got == expected) | (np.isnan(got) & np.isnan(expected))
        with np.errstate(invalid="ignore"):
            diff = np.where(same, 0.0, np.abs(got - expected))
        diff[np.isnan(diff)] = np.inf
        slopes = self._slopes()
        # no slope bounds the jump at modified_huber's all-zero row: there nothing but the slack is allowed
        allowed = np.where(np.isfinite(slopes), slopes * self.score_gap, 0.0) + PROBA_SLACK_ULPS * 2.0**-52
        over = diff.max(axis=1) - allowed if diff.size else np.zeros(0)
        if over.size and float(np.max(over)) > 0:
            i = int(np.argmax(over))
            raise Unsupported(f"its probabilities differ from predict_proba() by {diff[i].max():.3g} on row {i}, "
                              f"where its scores (apart by {self.score_gap[i]:.3g}) allow {allowed[i]:.3g}")
        agree = self.score_gap == 0.0  # rows whose scores are bit-identical: the link's evaluation alone differs
        worst = int(np.argmax(diff.max(axis=1))) if diff.size else 0
        return {"claim": "dot", "max_abs": float(diff.max()) if diff.size else 0.0, "max_ulps": ulps(expected, got),
                "max_abs_magnitude": float(self.magnitude[worst]) if diff.size else 0.0,
                "max_abs_scores_agree": float(diff[agree].max()) if agree.any() else 0.0,
                "max_ulps_scores_agree": ulps(expected[agree], got[agree]),
                "rows_differing": int(np.sum(~np.all(same, axis=1))),
                "slope": SLOPES[self.export.output["link"]] if np.all(slopes == slopes[0]) else "per row",
                "slack_ulps": PROBA_SLACK_ULPS}

    def _exp_differs(self, X: Any) -> bool:
        """Whether numpy's ``exp`` and the C library's disagree on these scores: the only excuse for a softmax gap."""
        raw = np.asarray(self.model.decision_function(X), dtype=np.float64).reshape(X.shape[0], -1)
        shifted = raw - raw.max(axis=1, keepdims=True)
        return not identical(np.exp(shifted), np.vectorize(math.exp)(shifted))

    def _float32_difference(self, got: Any, expected: Any, what: str) -> dict:
        """A float32 transform whose ``expf`` is not the C library's: within ``FLOAT32_EXP_ULPS``, measured."""
        measured = ulps32(got, expected)
        if measured > FLOAT32_EXP_ULPS:
            raise Unsupported(f"its {what} differ from the model's by {measured} float32 ulp "
                              f"(bound {FLOAT32_EXP_ULPS})")
        differing = int(np.sum(np.any((got != expected).reshape(len(got), -1), axis=1)))
        return {"claim": "expf", "max_ulps": measured, "rows_differing": differing, "bound_ulps": FLOAT32_EXP_ULPS}

