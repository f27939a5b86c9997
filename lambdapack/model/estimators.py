"""The estimators ``train`` knows by short name, and ``--param key=value`` parsing.

Values are Python literals read with :func:`ast.literal_eval` (never ``eval``), plus bare
words as strings (``criterion=entropy``); keys are checked against the estimator's
``get_params()`` and values against scikit-learn's own parameter constraints before fitting.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from lambdapack.errors import ModelError
from lambdapack.model import _child_train


@dataclass(frozen=True)
class EstimatorSpec:
    name: str
    class_path: str
    task: str
    # Defaults lambdapack sets on top of scikit-learn's, so a run is reproducible.
    defaults: Mapping[str, str] = field(default_factory=dict)

    @property
    def class_name(self) -> str:
        return self.class_path.rpartition(".")[2]


_SEEDED = {"random_state": "42"}

ESTIMATORS: dict[str, EstimatorSpec] = {
    s.name: s
    for s in (
        # classifiers
        EstimatorSpec("random_forest", "sklearn.ensemble.RandomForestClassifier", "classification",
                      {"n_estimators": "100", **_SEEDED}),
        EstimatorSpec("extra_trees", "sklearn.ensemble.ExtraTreesClassifier", "classification",
                      {"n_estimators": "100", **_SEEDED}),
        EstimatorSpec("gradient_boosting", "sklearn.ensemble.GradientBoostingClassifier", "classification",
                      dict(_SEEDED)),
        EstimatorSpec("hist_gradient_boosting", "sklearn.ensemble.HistGradientBoostingClassifier",
                      "classification", dict(_SEEDED)),
        EstimatorSpec("decision_tree", "sklearn.tree.DecisionTreeClassifier", "classification", dict(_SEEDED)),
        EstimatorSpec("logistic_regression", "sklearn.linear_model.LogisticRegression", "classification",
                      {"max_iter": "1000"}),
        EstimatorSpec("knn", "sklearn.neighbors.KNeighborsClassifier", "classification"),
        EstimatorSpec("svc", "sklearn.svm.SVC", "classification", dict(_SEEDED)),
        EstimatorSpec("naive_bayes", "sklearn.naive_bayes.GaussianNB", "classification"),
        # regressors
        EstimatorSpec("random_forest_regressor", "sklearn.ensemble.RandomForestRegressor", "regression",
                      {"n_estimators": "100", **_SEEDED}),
        EstimatorSpec("gradient_boosting_regressor", "sklearn.ensemble.GradientBoostingRegressor", "regression",
                      dict(_SEEDED)),
        EstimatorSpec("decision_tree_regressor", "sklearn.tree.DecisionTreeRegressor", "regression",
                      dict(_SEEDED)),
        EstimatorSpec("linear_regression", "sklearn.linear_model.LinearRegression", "regression"),
        EstimatorSpec("ridge", "sklearn.linear_model.Ridge", "regression"),
        EstimatorSpec("knn_regressor", "sklearn.neighbors.KNeighborsRegressor", "regression"),
        EstimatorSpec("svr", "sklearn.svm.SVR", "regression"),
    )
}
DEFAULT_ESTIMATOR = "random_forest"


def get_estimator(name: str) -> EstimatorSpec:
    """The estimator called ``name`` (short name, or the scikit-learn class name)."""
    key = name.strip()
    if key in ESTIMATORS:
        return ESTIMATORS[key]
    normalised = key.lower().replace("-", "_")
    if normalised in ESTIMATORS:
        return ESTIMATORS[normalised]
    for spec in ESTIMATORS.values():
        if key in (spec.class_name, spec.class_path):
            return spec
    close = difflib.get_close_matches(normalised, list(ESTIMATORS), n=1)
    maybe = f"did you mean {close[0]!r}? " if close else ""
    raise ModelError(f"unknown estimator {name!r}",
                     hint=f"{maybe}choose one of: {', '.join(ESTIMATORS)}")


def parse_params(pairs: Iterable[str]) -> dict[str, str]:
    """``["n_estimators=200", ...]`` -> ``{"n_estimators": "200"}`` (values stay literal text)."""
    out: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        key = key.strip()
        if not sep or not key or not key.isidentifier():
            raise ModelError(f"--param {pair!r} is not key=value", hint="write it as --param n_estimators=200")
        if not value.strip():
            raise ModelError(f"--param {key}= has no value", hint=f"write it as --param {key}=VALUE")
        if key in out:
            raise ModelError(f"--param {key} given twice", hint="pass each parameter once")
        out[key] = value.strip()
    return out


def resolved_params(spec: EstimatorSpec, params: Mapping[str, str], random_state: int) -> dict[str, str]:
    """lambdapack's defaults, the run's seed and the user's ``--param`` values, in that order."""
    merged = dict(spec.defaults)
    if "random_state" in merged:
        merged["random_state"] = str(random_state)
    merged.update(params)
    return merged


def check_params(spec: EstimatorSpec, params: Mapping[str, str]) -> None:
    """Refuse unknown keys and out-of-range values now, not after loading the data."""
    try:
        _child_train.build_estimator(spec.class_path, dict(params))
    except _child_train.TrainFailure as exc:
        raise ModelError(exc.message, hint=_param_hint(spec, exc)) from None


def _param_hint(spec: EstimatorSpec, exc: _child_train.TrainFailure) -> str:
    if exc.kind == "param":
        return f"see `python -c \"import {spec.class_path.rpartition('.')[0]} as m; help(m.{spec.class_name})\"`"
    return "check that scikit-learn is installed and up to date"


def literal_params(params: Mapping[str, str]) -> dict[str, object]:
    """The parameters as the values the estimator got, for the manifest."""
    out: dict[str, object] = {}
    for key, text in params.items():
        value = _child_train.parse_literal(key, text)
        try:
            json.dumps(value, allow_nan=False)
        except (TypeError, ValueError):
            value = repr(value)  # a set, bytes or complex number: recorded as written
        out[key] = value
    return out
