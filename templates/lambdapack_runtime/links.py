"""From a model's raw scores to its answer: the decision rule and the link, in the estimator's arithmetic.

* ties go to the first class (``np.argmax``); a binary classifier with one raw score decides by
  its sign with the estimator's own comparison (``> 0`` or ``>= 0``);
* links are the estimator's: expit as scipy computes it, softmax summed in numpy's pairwise
  order; ``exp`` is the C library's (numpy's vectorised ``exp`` can differ from it in the last
  bit, which ``package`` measures and reports);
* ``float32`` rounds as numpy's ``astype(np.float32)`` does;
* LightGBM's outputs (``lightgbm``) are its objectives' ``ConvertOutput`` in double, and its
  classifiers answer the first class of highest probability (``proba_argmax``).
"""

from __future__ import annotations

import math
import struct

_F32 = struct.Struct("<f")
FLOAT32_MAX = 3.4028234663852886e38
DECISIONS = ("argmax", "raw_ge_0", "raw_gt_0", "value", "proba_argmax")
# identity: the raw values are the probabilities (forests); none: no probabilities (LinearSVC)
LINKS = ("identity", "logit", "half_logit", "softmax", "log", "ovr_logit", "none", "lightgbm")


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


def ovr_probabilities(raw: list) -> list:
    """One-vs-rest probabilities (``_predict_proba_lr``): expit of each score, divided by their sum."""
    p = [expit(r) for r in raw]
    total = pairwise_sum(list(p))
    return [v / total for v in p]


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
        if self.link not in LINKS or self.decision not in DECISIONS:
            raise ValueError(f"unknown link {self.link!r} or decision {self.decision!r}")
        self.convert = lightgbm_output(spec) if self.link == "lightgbm" else None

    def answer(self, raw: list) -> tuple:
        if self.task == "regression":
            value = raw[0]
            if self.convert is not None:
                return self.convert(raw)[0], None
            return (math.exp(value) if self.link == "log" else value), None
        if self.decision == "proba_argmax":
            probas = self.probabilities(raw)
            return argmax(probas), probas
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
            return ovr_probabilities(raw)
        if self.convert is not None:
            out = self.convert(raw)
            return [1.0 - out[0], out[0]] if len(out) == 1 else out
        p = expit(2.0 * raw[0] if link == "half_logit" else raw[0])
        return [1.0 - p, p]


# -- LightGBM: GBDT::Predict's averaging (random forests), then the objective's ConvertOutput, in double


def _exp(x: float) -> float:
    """C's ``exp``: +inf past the double range, where Python raises."""
    try:
        return math.exp(x)
    except OverflowError:
        return math.inf


def lightgbm_sigmoid(raw: list, sigmoid: float) -> list:
    """BinaryLogloss / MulticlassOVA / CrossEntropy: ``1 / (1 + exp(-sigmoid * x))`` for each score."""
    return [1.0 / (1.0 + _exp(-sigmoid * x)) for x in raw]


def lightgbm_softmax(raw: list, sigmoid: float) -> list:
    """Common::Softmax: subtract the max, exp, divide by the sum taken in order."""
    top = raw[0]
    for x in raw[1:]:
        top = top if x < top else x
    exps = [math.exp(x - top) for x in raw]
    total = 0.0
    for e in exps:
        total += e
    return [e / total for e in exps]


def lightgbm_sqrt(raw: list, sigmoid: float) -> list:
    """RegressionL2loss with ``reg_sqrt``: ``Sign(x) * x * x``."""
    return [float((x > 0) - (x < 0)) * x * x for x in raw]


LIGHTGBM_TRANSFORMS = {
    "identity": lambda raw, sigmoid: list(raw),
    "sqrt": lightgbm_sqrt,
    "exp": lambda raw, sigmoid: [_exp(x) for x in raw],  # poisson, gamma, tweedie
    "sigmoid": lightgbm_sigmoid,
    "softmax": lightgbm_softmax,
    "log1p_exp": lambda raw, sigmoid: [math.log1p(_exp(x)) for x in raw],  # cross_entropy_lambda
}


def lightgbm_output(spec: dict):
    """``raw scores -> LightGBM's output`` for an output spec (``transform``, ``sigmoid``, ``average``)."""
    transform = LIGHTGBM_TRANSFORMS.get(spec.get("transform"))
    if transform is None:
        raise ValueError(f"unknown LightGBM transform {spec.get('transform')!r}")
    sigmoid = float(spec.get("sigmoid", 1.0))
    average = spec.get("average")
    if average:
        n = float(average)
        return lambda raw: transform([x / n for x in raw], sigmoid)
    return lambda raw: transform(raw, sigmoid)
