"""Estimators that are not scikit-learn's, answering like one: the estimator path's one seam for them.

A model imported from a library's native file (XGBoost's JSON or UBJSON model, LightGBM's text
model) is pickled as that library's own booster object. The handler wraps it here so that it
has ``predict``, ``predict_proba`` (classifiers) and ``classes_`` like the scikit-learn wrappers;
a scikit-learn estimator or pipeline passes through untouched. Each library's adapter is a
module of this package, imported only when such a model is served.
"""

from __future__ import annotations

import importlib

# "library.ClassName" of the loaded object -> "module:factory" in this package
ADAPTERS: dict[str, str] = {
    "lightgbm.Booster": "lightgbm_booster:adapt",
    "xgboost.Booster": "xgboost_booster:adapt",
}


def adapt(estimator: object) -> object:
    """``estimator`` itself, or its adapter when it is a native booster."""
    cls = type(estimator)
    target = ADAPTERS.get(f"{cls.__module__.split('.')[0]}.{cls.__name__}")
    if target is None:
        return estimator
    module, _, factory = target.partition(":")
    return getattr(importlib.import_module(f"{__package__}.{module}"), factory)(estimator)
