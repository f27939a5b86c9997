"""From a model's raw scores to its answer: the decision rule and the link, in the estimator's arithmetic.

* ties go to the first class (``np.argmax``); a binary classifier with one raw score decides by
  its sign with the estimator's own comparison (``> 0`` or ``>= 0``);
* links are the estimator's: expit as scipy computes it, softmax summed in numpy's pairwise
  order; ``exp`` is the C library's (numpy's vectorised ``exp`` can differ from it in the last
  bit, which ``package`` measures and reports);
* ``float32`` rounds as numpy's ``astype(np.float32)`` does.
"""

from __future__ import annotations

import math
import struct

_F32 = struct.Struct("<f")
FLOAT32_MAX = 3.4028234663852886e38
DECISIONS = ("argmax", "raw_ge_0", "raw_gt_0", "value")
# identity: the raw values are the probabilities (forests); none: no probabilities (LinearSVC)
LINKS = ("identity", "logit", "half_logit", "softmax", "log", "ovr_logit", "binary_softmax", "modified_huber", "none")


def float32(value: float) -> float:
    """``value`` rounded to the nearest float32, as numpy's ``astype(np.float32)`` does."""
    if -FLOAT32_MAX <= value <= FLOAT32_MAX:
        return _F32.unpack(_F32.pack(value))[0]
    return math.copysign(math.inf, value) if value == value else value


def pairwise_sum(values: list) -> float:
    """Sum in numpy's order (``np.sum`` over a contiguous axis): the softmax denominator."""
    n = len(values)
    if n < 8:
        total = 0.0
        for v in values:
            total += v
        return total
    if n <= 128:
        r = values[:8]
        i = 8
        while i < n - n % 8:
            for j in range(8):
                r[j] += values[i + j]
            i += 8
        total = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]))
        for v in values[i:]:
            total += v
        return total
    half = n // 2
    half -= half % 8
    return pairwise_sum(values[:half]) + pairwise_sum(values[half:])


def expit(x: float) -> float:
    """scipy.special.expit: ``1 / (1 + exp(-x))``."""
    try:
        return 1.0 / (1.0 + math.exp(-x))
    except OverflowError:  # exp(-x) past the double range: scipy gives exactly 0.0 there
        return 0.0


def softmax(raw: list) -> list:
    """sklearn.utils.extmath.softmax for one row: subtract the max, exp, divide by the pairwise sum."""
    top = max(raw)
    exps = [math.exp(r - top) for r in raw]
    total = pairwise_sum(exps)
    return [e / total for e in exps]


def ovr_probabilities(raw: list, all_zero: str = "uniform") -> list:
    """One-vs-rest probabilities (``_predict_proba_lr``): expit of each score, divided by their sum.

    A row whose expits are all 0 gives uniform probabilities (scikit-learn 1.9+) or NaN (0 / 0, before).
    """
    p = [expit(r) for r in raw]
    return _normalised(p, all_zero)


def _normalised(p: list, all_zero: str) -> list:
    total = pairwise_sum(list(p))
    if total == 0.0:
        if all_zero == "nan":
            return [math.nan] * len(p)
        return [1.0 / len(p)] * len(p)
    return [v / total for v in p]


def binary_softmax(raw: list) -> list:
    """LogisticRegression's multinomial probabilities for two classes: the softmax of ``[-score, score]``."""
    return softmax([-raw[0], raw[0]])


def modified_huber(raw: list) -> list:
    """SGDClassifier's ``modified_huber`` probabilities: ``(clip(score, -1, 1) + 1) / 2``, normalised over
    the classes when there are more than two (a row of zeros: uniform)."""
    p = [(r if r != r else (-1.0 if r < -1.0 else 1.0 if r > 1.0 else r)) + 1.0 for r in raw]
    p = [v / 2.0 for v in p]
    if len(p) == 1:
        return [1.0 - p[0], p[0]]
    return _normalised(p, "uniform")


def argmax(values: list) -> int:
    best, index = values[0], 0
    for i in range(1, len(values)):
        if values[i] > best:
            best, index = values[i], i
    return index


class Output:
    """``answer(raw)`` -> ``(class index or value, probabilities or None)``."""

    def __init__(self, spec: dict, task: str) -> None:
        self.task = task
        self.link = spec.get("link", "identity")
        self.decision = spec.get("decision", "value")
        self.all_zero = spec.get("all_zero", "uniform")
        if self.link not in LINKS or self.decision not in DECISIONS:
            raise ValueError(f"unknown link {self.link!r} or decision {self.decision!r}")

    def answer(self, raw: list) -> tuple:
        if self.task == "regression":
            value = raw[0]
            return (math.exp(value) if self.link == "log" else value), None
        if self.decision == "argmax":
            index = argmax(raw)
        else:
            index = 1 if (raw[0] >= 0 if self.decision == "raw_ge_0" else raw[0] > 0) else 0
        return index, self.probabilities(raw)

    def probabilities(self, raw: list) -> list | None:
        link = self.link
        if link == "identity":
            return raw
        if link == "none":
            return None
        if link == "softmax":
            return softmax(raw)
        if link == "ovr_logit":
            return ovr_probabilities(raw, self.all_zero)
        if link == "binary_softmax":
            return binary_softmax(raw)
        if link == "modified_huber":
            return modified_huber(raw)
        p = expit(2.0 * raw[0] if link == "half_logit" else raw[0])
        return [1.0 - p, p]
