"""Linear models: ``coef_`` and ``intercept_``, the decision rule and the estimator's own probability formula.

Scores are ``X @ coef_.T + intercept_`` (BLAS: ``arithmetic="dot"``, proven within a bound of
the dot product's magnitude, see :meth:`LinearExport.magnitude`). Decisions as
``LinearClassifierMixin.predict`` takes them: the sign (``> 0``) of a single score, else the
first largest. Probabilities as each estimator's ``predict_proba`` computes them, read in
scikit-learn 1.4 to 1.9:

* ``LogisticRegression``: two classes, ``_predict_proba_lr`` (expit of the score); more, a
  softmax, except up to 1.7 where ``multi_class="ovr"`` (or ``"auto"`` with liblinear, and up to
  1.5 with newton-cholesky) normalises the one-vs-rest expits, and ``multi_class="multinomial"``
  with two classes takes the softmax of ``[-score, score]``;
* ``SGDClassifier``: ``log_loss`` as ``_predict_proba_lr``, ``modified_huber`` as
  ``(clip(score, -1, 1) + 1) / 2`` (normalised over the classes when there are more than two);
  other losses, ``LinearSVC`` and ``RidgeClassifier`` have no probabilities.

The one-vs-rest normalisation of a row whose expits are all 0 (every score below -745) gives
NaN up to scikit-learn 1.8 and uniform probabilities since: the compiler asks the estimator
itself which. A regressor with several targets (a 2-D ``coef_``) stays on the joblib path.
"""

from __future__ import annotations

import copy
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import sklearn

from .errors import Unsupported, version
from .tables import Export

LOGISTIC = ("LogisticRegression", "LogisticRegressionCV")


@dataclass
class LinearExport(Export):
    """A linear kernel's export, with the scale its scores are proven against."""

    coef: Any = None  # (outputs, features) float64
    intercept: Any = None  # (outputs,) float64

    def magnitude(self, X: Any) -> Any:
        """``sum(|x_i * w_i|) + |b|`` per row and output of the estimator's input ``X``: what a dot
        product's rounding error is proportional to, whatever order it sums in."""
        with np.errstate(over="ignore", invalid="ignore"):
            return np.abs(X) @ np.abs(self.coef).T + np.abs(self.intercept)


def _dense(values: Any) -> Any:
    return values.toarray() if hasattr(values, "toarray") else np.asarray(values)


def _weights(est: Any, task: str) -> tuple[Any, Any]:
    coef = np.asarray(_dense(est.coef_), dtype=np.float64)
    if task == "regression" and coef.ndim != 1:
        raise Unsupported(f"it predicts several targets (coef_ of shape {coef.shape})")
    coef = np.atleast_2d(coef)
    intercept = np.ravel(np.asarray(est.intercept_, dtype=np.float64))
    if intercept.size == 1 and coef.shape[0] > 1:
        intercept = np.full(coef.shape[0], intercept[0])
    if intercept.shape != (coef.shape[0],):
        raise Unsupported(f"its intercept_ ({intercept.shape}) does not match its coef_ ({coef.shape})")
    if not (np.all(np.isfinite(coef)) and np.all(np.isfinite(intercept))):
        raise Unsupported("its coefficients are not all finite")
    if coef.shape[1] != int(getattr(est, "n_features_in_", coef.shape[1])):
        raise Unsupported(f"its coef_ has {coef.shape[1]} columns for {est.n_features_in_} features")
    return coef, intercept


def _logistic_ovr(est: Any, n_classes: int) -> bool:
    """Whether this scikit-learn's ``LogisticRegression.predict_proba`` normalises one-vs-rest expits."""
    if "multi_class" not in type(est)._get_param_names():  # 1.8+: softmax for more than two classes
        return n_classes <= 2
    multi_class = getattr(est, "multi_class", "auto")
    # up to 1.5, "auto" meant one-vs-rest for newton-cholesky too
    solvers = ("liblinear", "newton-cholesky") if version(sklearn.__version__) < (1, 6) else ("liblinear",)
    return multi_class in ("ovr", "warn") or (multi_class in ("auto", "deprecated") and
                                              (n_classes <= 2 or est.solver in solvers))


def all_zero_rule(est: Any) -> str:
    """What ``_predict_proba_lr`` answers for a row whose expits all round to 0: ``nan`` or ``uniform``.

    Asked of the estimator itself, on a copy whose scores are all -10,000.
    """
    probe = copy.copy(est)
    n_classes = len(est.classes_)
    probe.coef_ = np.zeros((n_classes, int(est.n_features_in_)))
    probe.intercept_ = np.full(n_classes, -1e4)
    with warnings.catch_warnings(), np.errstate(invalid="ignore", divide="ignore"):
        warnings.simplefilter("ignore")
        answer = np.asarray(probe._predict_proba_lr(np.zeros((1, int(est.n_features_in_)))), dtype=np.float64)
    if np.all(np.isnan(answer)):
        return "nan"
    if np.all(answer == 1.0 / n_classes):
        return "uniform"
    raise Unsupported(f"its one-vs-rest probabilities give {answer.tolist()} when every class is 0")


def _link(est: Any, n_classes: int) -> dict:
    """The output rule's link (and its options) for this classifier's ``predict_proba``."""
    name = type(est).__name__
    if not hasattr(est, "predict_proba"):  # LinearSVC, RidgeClassifier, SGD's hinge: no probabilities
        return {"link": "none"}
    if name in LOGISTIC:
        if _logistic_ovr(est, n_classes):
            return _ovr(est, n_classes)
        return {"link": "softmax" if n_classes > 2 else "binary_softmax"}
    if name == "SGDClassifier":
        if est.loss == "log_loss":
            return _ovr(est, n_classes)
        if est.loss == "modified_huber":
            return {"link": "modified_huber"}
    raise Unsupported(f"its predict_proba ({name}, loss {getattr(est, 'loss', None)!r}) is not one the "
                      "predictor computes")


def _ovr(est: Any, n_classes: int) -> dict:
    if n_classes <= 2:
        return {"link": "logit"}
    return {"link": "ovr_logit", "all_zero": all_zero_rule(est)}


def export(est: Any, task: str) -> LinearExport:
    coef, intercept = _weights(est, task)
    if task == "regression":
        output = {"decision": "value", "link": "identity"}
    else:
        binarizer = getattr(est, "_label_binarizer", None)
        if binarizer is not None and str(getattr(binarizer, "y_type_", "")).startswith("multilabel"):
            raise Unsupported("it is a multilabel classifier")
        n_classes = len(est.classes_)
        if coef.shape[0] != (1 if n_classes == 2 else n_classes):
            raise Unsupported(f"it has {coef.shape[0]} rows of coefficients for {n_classes} classes")
        output = {"decision": "raw_gt_0" if coef.shape[0] == 1 else "argmax", **_link(est, n_classes)}
    model = {"kind": "linear", "n_features": int(coef.shape[1]), "n_outputs": int(coef.shape[0]),
             "coef": coef.tolist(), "intercept": intercept.tolist()}
    return LinearExport(model, output, {}, "dot", [], coef=coef, intercept=intercept)
