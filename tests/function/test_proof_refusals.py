"""Every way the proof refuses a predictor, reached: the function then keeps the joblib path, with the reason."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
from function_support import write_model_dir
from sklearn.datasets import load_diabetes, load_iris
from sklearn.ensemble import (
    GradientBoostingClassifier,
    GradientBoostingRegressor,
    HistGradientBoostingRegressor,
    RandomForestClassifier,
)
from sklearn.linear_model import LinearRegression
from sklearn.tree import DecisionTreeClassifier

from lambdapack.template_files import template_path

X_IRIS, Y_IRIS = load_iris(return_X_y=True)
X_DIA, Y_DIA = load_diabetes(return_X_y=True)


@pytest.fixture(autouse=True)
def _runtime_importable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(template_path("lambdapack_runtime").parent))


def _compile(est: object, X: np.ndarray, tmp_path: Path) -> dict:
    """The child's answer for ``est``, compiled in this process (so a test can monkeypatch the compiler)."""
    from lambdapack.predictor.compiler import entry

    task = "classification" if hasattr(est, "classes_") else "regression"
    classes = [str(c) for c in est.classes_] if task == "classification" else None
    model_dir = write_model_dir(tmp_path / "model", est, [(f"x{i}", None) for i in range(X.shape[1])], classes, task)
    features = json.loads((model_dir / "model.json").read_text())["features"]
    return entry.compile_and_reply({"model": str(model_dir / "model.joblib"), "out": str(tmp_path / "p"),
                                    "max_nodes": 10**7, "features": features, "typed": True})


def _refused(reply: dict, pattern: str) -> None:
    assert reply["ok"] is False and reply["kind"] == "unsupported", reply
    assert re.search(pattern, reply["message"]), reply["message"]


def test_softmax_probabilities_past_the_exp_bound_are_refused(tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    from lambdapack.predictor.compiler import proof

    est = GradientBoostingClassifier(n_estimators=30, random_state=0).fit(X_IRIS, Y_IRIS)
    accepted = _compile(est, X_IRIS, tmp_path / "a")
    assert accepted["ok"] and accepted["report"]["probabilities"]["claim"] == "exp", accepted
    assert 0 < accepted["report"]["probabilities"]["max_ulps"] <= proof.EXP_ULPS
    monkeypatch.setattr(proof, "EXP_ULPS", 0)
    _refused(_compile(est, X_IRIS, tmp_path / "b"), r"probabilities differ from predict_proba\(\) by up to \d+ ulp")


def test_log_link_predictions_past_the_exp_bound_are_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from lambdapack.predictor.compiler import proof

    est = HistGradientBoostingRegressor(loss="poisson", max_iter=40, random_state=0).fit(X_DIA, Y_DIA)
    assert _compile(est, X_DIA, tmp_path / "a")["ok"]
    monkeypatch.setattr(proof, "EXP_ULPS", -1)
    _refused(_compile(est, X_DIA, tmp_path / "b"), r"predictions differ from predict\(\) by \d+ ulp")


def test_raw_scores_that_differ_from_decision_function_are_refused(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    from lambdapack.predictor.compiler import gradient_boosting

    real = gradient_boosting.export

    def nudged(*args: object) -> object:  # the baseline off by a trillionth: labels survive, scores do not
        export = real(*args)
        export.model["baseline"] = [b + abs(b) * 1e-12 + 1e-12 for b in export.model["baseline"]]
        return export

    monkeypatch.setattr(gradient_boosting, "export", nudged)
    est = GradientBoostingClassifier(n_estimators=20, random_state=0).fit(X_IRIS, Y_IRIS)
    _refused(_compile(est, X_IRIS, tmp_path), r"raw scores differ from decision_function\(\) by up to \d+ ulp")


def test_a_gradient_boosting_init_that_is_not_constant_keeps_the_joblib_path(tmp_path: Path) -> None:
    est = GradientBoostingRegressor(init=LinearRegression(), n_estimators=10, random_state=0).fit(X_DIA, Y_DIA)
    _refused(_compile(est, X_DIA, tmp_path), r"its init estimator LinearRegression does not give a constant start")


def test_a_forest_with_a_tree_that_saw_fewer_classes_keeps_the_joblib_path(tmp_path: Path) -> None:
    # scikit-learn's own forests give every tree every class; an assembled one may not
    est = RandomForestClassifier(n_estimators=3, random_state=0).fit(X_IRIS, Y_IRIS)
    est.estimators_[1] = DecisionTreeClassifier(random_state=0).fit(X_IRIS[:100], Y_IRIS[:100])
    _refused(_compile(est, X_IRIS, tmp_path), r"a tree saw fewer classes than the forest")


def test_predictions_that_differ_are_refused_with_the_first_row(tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    from lambdapack.predictor.compiler import forest

    real = forest.export

    def swapped(*args: object) -> object:  # every comparison the other way round
        export = real(*args)
        left = export.tables["left"].copy()
        inner = export.tables["feature"] >= 0
        export.tables["left"][inner], export.tables["right"][inner] = export.tables["right"][inner], left[inner]
        return export

    monkeypatch.setattr(forest, "export", swapped)
    est = RandomForestClassifier(n_estimators=5, random_state=0).fit(X_IRIS, Y_IRIS)
    _refused(_compile(est, X_IRIS, tmp_path), r"disagrees with predict\(\) on \d+ of \d+ rows \(first: row \[")
