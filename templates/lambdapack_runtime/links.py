"""From a model's raw scores to its answer: the decision rule and the link, in the estimator's arithmetic.

* ties go to the first class (``np.argmax``); a binary classifier with one raw score decides by
  its sign with the estimator's own comparison (``> 0`` or ``>= 0``);
* links are the estimator's: expit as scipy computes it, softmax summed in numpy's pairwise
  order; ``exp`` is the C library's (numpy's vectorised ``exp`` can differ from it in the last
  bit, which ``package`` measures and reports);
* ``float32`` rounds as numpy's ``astype(np.float32)`` does;
* XGBoost's links (``xgb_*``) are its own float32 transforms, with ``expf`` from the C library
  as XGBoost calls it (:func:`c_expf`), and its classifiers decide on the probabilities;
* LightGBM's outputs (``lightgbm``) are its objectives' ``ConvertOutput`` in double, and its
  classifiers answer the first class of highest probability (``proba_argmax``).
"""

from __future__ import annotations

import math
import struct

_F32 = struct.Struct("<f")
FLOAT32_MAX = 3.4028234663852886e38
# proba_gt_half, proba_argmax: on the probabilities, as XGBClassifier decides; raw_gt_half: binary:logitraw's
DECISIONS = ("argmax", "raw_ge_0", "raw_gt_0", "value", "proba_gt_half", "proba_argmax", "raw_gt_half")
# identity: the raw values are the probabilities (forests); none: no probabilities (LinearSVC)
XGB_LINKS = ("xgb_sigmoid", "xgb_softmax", "xgb_scipy_softmax", "xgb_exp", "xgb_margin", "xgb_hinge")
LINKS = ("identity", "logit", "half_logit", "softmax", "log", "ovr_logit", "binary_softmax", "modified_huber",
         "none", "lightgbm", *XGB_LINKS)


def float32(value: float) -> float:
    """``value`` rounded to the nearest float32, as numpy's ``astype(np.float32)`` does."""
    if -FLOAT32_MAX <= value <= FLOAT32_MAX:
        return _F32.unpack(_F32.pack(value))[0]
    return math.copysign(math.inf, value) if value == value else value


def _as_is(value: float) -> float:
    return value


def pairwise_sum(values: list, rounded: bool = False) -> float:
    """Sum in numpy's order (``np.sum`` over a contiguous axis): the softmax denominator.

    ``rounded``: every partial sum rounded to float32, as numpy sums a float32 array.
    """
    r32 = float32 if rounded else _as_is
    n = len(values)
    if n < 8:
        total = 0.0
        for v in values:
            total = r32(total + v)
        return total
    if n <= 128:
        r = values[:8]
        i = 8
        while i < n - n % 8:
            for j in range(8):
                r[j] = r32(r[j] + values[i + j])
            i += 8
        total = r32(r32(r32(r[0] + r[1]) + r32(r[2] + r[3])) + r32(r32(r[4] + r[5]) + r32(r[6] + r[7])))
        for v in values[i:]:
            total = r32(total + v)
        return total
    half = n // 2
    half -= half % 8
    return r32(pairwise_sum(values[:half], rounded) + pairwise_sum(values[half:], rounded))


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


# -- XGBoost ----------------------------------------------------------------------------------
# Its transforms in float32, as its C++ writes them (src/common/math.h, the objectives'
# PredTransform), with the C library's expf: XGBoost calls that very function, so on the
# C library the proof ran with every probability comes out bit for bit. Without it (no glibc),
# expf is exp rounded to float32, which can differ in the last bits: package measures that.

_SIGMOID_EPS = float32(1e-16)  # common::Sigmoid's kEps, "avoid 0 div"
_SIGMOID_CAP = float32(88.7)  # and its cap on -x, "avoid exp overflow"
_expf = None


def _python_expf(x: float) -> float:
    try:
        return float32(math.exp(x))
    except OverflowError:
        return math.inf


def c_expf():
    """The C library's ``expf`` (float32 in, float32 out), or ``exp`` rounded to float32 without one."""
    global _expf
    if _expf is None:
        try:
            import ctypes

            function = ctypes.CDLL("libm.so.6").expf
            function.restype, function.argtypes = ctypes.c_float, (ctypes.c_float,)
            _expf = function
        except (ImportError, OSError, AttributeError):
            _expf = _python_expf
    return _expf


def xgb_sigmoid(x: float, expf) -> float:
    """``common::Sigmoid(float)``: 1 / (expf(min(-x, 88.7f)) + 1 + 1e-16f), each step in float32."""
    x = -x
    if x > _SIGMOID_CAP:  # std::min(-x, 88.7f)
        x = _SIGMOID_CAP
    return float32(1.0 / float32(float32(expf(x) + 1.0) + _SIGMOID_EPS))


def xgb_softmax(raw: list, expf) -> list:
    """``common::Softmax``: float32 max, expf of each float32 difference, summed in double, divided in float32."""
    top = raw[0]
    for r in raw[1:]:
        if r > top or top != top:  # fmaxf ignores a NaN
            top = r
    exps = [expf(float32(r - top)) for r in raw]
    total = 0.0
    for e in exps:
        total += e
    total = float32(total)
    return [float32(e / total) for e in exps]


def xgb_scipy_softmax(raw: list, expf) -> list:
    """``scipy.special.softmax`` of the float32 margins (XGBClassifier's predict_proba for multi:softmax).

    numpy's float32 ``exp`` is its own SIMD code, which ``expf`` only approximates: package
    measures the difference."""
    top = max(raw)
    exps = [expf(float32(r - top)) for r in raw]
    total = pairwise_sum(list(exps), rounded=True)
    return [float32(e / total) for e in exps]


def _xgb_probabilities(link: str, raw: list, expf) -> list:
    if link == "xgb_softmax":
        return xgb_softmax(raw, expf)
    if link == "xgb_scipy_softmax":
        return xgb_scipy_softmax(raw, expf)
    if link == "xgb_sigmoid":
        p = xgb_sigmoid(raw[0], expf)
    elif link == "xgb_hinge":
        p = 1.0 if raw[0] > 0.0 else 0.0
    else:  # xgb_margin: binary:logitraw, whose "probability" is the margin itself
        p = raw[0]
    return [float32(1.0 - p), p]


def _xgb_value(link: str, raw: float, expf) -> float:
    if link == "xgb_exp":
        return expf(raw)
    if link == "xgb_sigmoid":  # reg:logistic
        return xgb_sigmoid(raw, expf)
    return raw


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
        self.expf = c_expf() if self.link in XGB_LINKS else None  # at init, not on the first request
        self.convert = lightgbm_output(spec) if self.link == "lightgbm" else None

    def answer(self, raw: list) -> tuple:
        if self.task == "regression":
            value = raw[0]
            if self.expf is not None:
                return _xgb_value(self.link, value, self.expf), None
            if self.convert is not None:
                return self.convert(raw)[0], None
            return (math.exp(value) if self.link == "log" else value), None
        probabilities = self.probabilities(raw)
        decision = self.decision
        if decision == "argmax":
            index = argmax(raw)
        elif decision == "proba_argmax":
            index = argmax(probabilities)
        elif decision == "proba_gt_half":
            index = 1 if probabilities[1] > 0.5 else 0
        elif decision == "raw_gt_half":
            index = 1 if raw[0] > 0.5 else 0
        else:
            index = 1 if (raw[0] >= 0 if decision == "raw_ge_0" else raw[0] > 0) else 0
        return index, probabilities

    def probabilities(self, raw: list) -> list | None:
        link = self.link
        if self.expf is not None:
            return _xgb_probabilities(link, raw, self.expf)
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
