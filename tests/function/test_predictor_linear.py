"""Linear models in the stdlib predictor: labels identical, scores and probabilities within stated bounds.

scikit-learn sums ``X @ coef_.T`` through BLAS in an order Python cannot repeat; the predictor
computes the correctly rounded dot product. These tests hold the predictor to what ``package``
claims for it (docs/function.md, "Linear models"): the same label on every row, scores within
``DOT_ULPS`` ulp of the dot product's magnitude, probabilities within the link's slope times
the score difference plus a small slack, and they make the proof refuse each kind of difference.
"""

from __future__ import annotations

import json
import math
import random
import subprocess
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path
from types import ModuleType

import joblib
import numpy as np
import pytest
from function_support import predictor_build, split_rows, write_model_dir
from scipy import sparse
from sklearn.compose import ColumnTransformer
from sklearn.datasets import load_breast_cancer, load_diabetes, load_iris, load_wine
from sklearn.impute import SimpleImputer
from sklearn.linear_model import (
    ElasticNet,
    ElasticNetCV,
    Lasso,
    LassoCV,
    LinearRegression,
    LogisticRegression,
    LogisticRegressionCV,
    Ridge,
    RidgeClassifier,
    RidgeClassifierCV,
    RidgeCV,
    SGDClassifier,
    SGDRegressor,
)
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import MinMaxScaler, OneHotEncoder, OrdinalEncoder, StandardScaler
from sklearn.svm import LinearSVC, LinearSVR

from lambdapack.function.package import package_function
from lambdapack.predictor.compiler.registry import MODELS
from lambdapack.template_files import template_path

LoadHandler = Callable[..., ModuleType]
Trained = Callable[[str, str], Path]


@pytest.fixture(autouse=True)
def _templates_importable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(template_path("lambdapack_runtime").parent))


X_IRIS, Y_IRIS = load_iris(return_X_y=True)
X_WINE, Y_WINE = load_wine(return_X_y=True)
X_BC, Y_BC = load_breast_cancer(return_X_y=True)
X_DIA, Y_DIA = load_diabetes(return_X_y=True)


def _scaled(est: object) -> Pipeline:
    return make_pipeline(StandardScaler(), est)


# every linear model the predictor covers, alone or after a scaler: binary, multiclass, regression
COVERED = {
    "logistic_binary": (LogisticRegression(max_iter=5000), X_BC, Y_BC),
    "logistic_multinomial": (LogisticRegression(max_iter=5000), X_IRIS, Y_IRIS),
    "logistic_newton_cholesky": (_scaled(LogisticRegression(solver="newton-cholesky")), X_WINE, Y_WINE),
    "logistic_liblinear_binary": (_scaled(LogisticRegression(solver="liblinear")), X_BC, Y_BC),
    "logistic_no_intercept": (_scaled(LogisticRegression(fit_intercept=False)), X_IRIS, Y_IRIS),
    "logistic_cv": (_scaled(LogisticRegressionCV(cv=3)), X_IRIS, Y_IRIS),
    "sgd_hinge": (_scaled(SGDClassifier(random_state=0)), X_WINE, Y_WINE),
    "sgd_log_loss_binary": (_scaled(SGDClassifier(loss="log_loss", random_state=0)), X_BC, Y_BC),
    "sgd_log_loss_multiclass": (_scaled(SGDClassifier(loss="log_loss", random_state=0)), X_IRIS, Y_IRIS),
    "sgd_modified_huber_binary": (_scaled(SGDClassifier(loss="modified_huber", random_state=0)), X_BC, Y_BC),
    "sgd_modified_huber_multiclass": (_scaled(SGDClassifier(loss="modified_huber", random_state=0)), X_WINE,
                                      Y_WINE),
    "linear_svc": (_scaled(LinearSVC()), X_WINE, Y_WINE),
    "ridge_classifier": (_scaled(RidgeClassifier()), X_BC, Y_BC),
    "ridge_classifier_cv": (_scaled(RidgeClassifierCV()), X_IRIS, Y_IRIS),
    "linear_regression": (LinearRegression(), X_DIA, Y_DIA),
    "ridge": (Ridge(alpha=0.5), X_DIA, Y_DIA),
    "ridge_cv": (_scaled(RidgeCV()), X_DIA, Y_DIA),
    "lasso": (Lasso(alpha=0.05), X_DIA, Y_DIA),
    "lasso_cv": (_scaled(LassoCV(cv=3, random_state=0)), X_DIA, Y_DIA),
    "elastic_net": (_scaled(ElasticNet(alpha=0.01)), X_DIA, Y_DIA),
    "elastic_net_cv": (_scaled(ElasticNetCV(cv=3, random_state=0)), X_DIA, Y_DIA),
    "sgd_regressor": (_scaled(SGDRegressor(random_state=0)), X_DIA, Y_DIA),
    "linear_svr": (make_pipeline(MinMaxScaler(), LinearSVR(max_iter=5000, random_state=0)), X_DIA, Y_DIA),
}


def _final(model: object) -> object:
    return model.steps[-1][1] if isinstance(model, Pipeline) else model


def _model_dir(model: object, n_inputs: int, tmp_path: Path, name: str) -> Path:
    final = _final(model)
    task = "classification" if hasattr(final, "classes_") else "regression"
    classes = [str(c) for c in final.classes_] if task == "classification" else None
    return write_model_dir(tmp_path / name, model, [(f"x{i}", None) for i in range(n_inputs)], classes, task)


def _post(model: object, X: object) -> np.ndarray:
    post = model[:-1].transform(X) if isinstance(model, Pipeline) else X
    return np.asarray(post.toarray() if sparse.issparse(post) else post, dtype=np.float64)


def check_within_claim(predictor: object, model: object, rows: list[list], X: object) -> None:
    """The predictor's answers for ``rows`` against the model's for ``X``, to the letter of the claim."""
    from lambdapack.predictor.compiler.proof import DOT_ULPS, PROBA_SLACK_ULPS, SLOPES

    final = _final(model)
    outputs, probas = predictor.predict(rows)
    post = _post(model, X)
    coef = np.atleast_2d(final.coef_)
    magnitude = np.abs(post) @ np.abs(coef).T + np.abs(np.ravel(final.intercept_))
    if not hasattr(final, "classes_"):
        gap = np.abs(np.array(outputs) - model.predict(X))
        assert np.all(gap <= DOT_ULPS * np.spacing(magnitude[:, 0]))
        return
    assert [final.classes_[i] for i in outputs] == model.predict(X).tolist()  # every label identical
    raw = np.array([predictor.raw(row) for row in rows])
    expected = np.asarray(model.decision_function(X)).reshape(len(rows), -1)
    assert np.all(np.abs(raw - expected) <= DOT_ULPS * np.spacing(magnitude))
    if probas is not None:
        gap = np.abs(raw - expected).max(axis=1)
        slope = np.full(len(rows), SLOPES.get(predictor.output.link, np.nan))
        if predictor.output.link == "modified_huber" and raw.shape[1] > 1:
            # per row, from the smallest sum of (clip(score) + 1) / 2 the scores allow (see proof.SLOPES)
            lowest = ((np.clip(raw - gap[:, None], -1, 1) + 1) / 2).sum(axis=1)
            slope = np.divide(raw.shape[1] - 1, 2 * lowest, out=np.full(len(rows), np.inf), where=lowest > 0)
        allowed = np.where(np.isfinite(slope), slope * gap, 0.0) + PROBA_SLACK_ULPS * 2.0**-52
        difference = np.abs(np.array(probas) - model.predict_proba(X)).max(axis=1)
        assert np.all(difference <= allowed)


@pytest.mark.parametrize("name", sorted(COVERED))
def test_every_linear_model_is_proven_and_served_within_its_claim(name: str, tmp_path: Path,
                                                                  load_handler: LoadHandler) -> None:
    model, X, y = COVERED[name]
    model.fit(X, y)
    model_dir = _model_dir(model, X.shape[1], tmp_path, name)
    build = predictor_build(model_dir)
    assert build.report.serving == "predictor", build.report.reason
    report, claim = build.report.verification, build.report.claim
    assert report["arithmetic"] == "dot" and report["kind"] == "linear"
    assert report["scores"]["max_ulps"] <= report["scores"]["bound_ulps"] == 64
    assert claim["exact"] is False and "bit-identical" not in claim["scores"]
    if hasattr(_final(model), "classes_"):
        assert report["predict"] == "identical" and report["boundary_rows"] > 0
        assert claim["statement"].startswith(f"predictions identical on {report['rows']:,} rows; scores within ")
        assert ("probabilities" in report) == hasattr(_final(model), "predict_proba")
    else:
        assert claim["statement"] == (f"predictions within {report['scores']['max_ulps']:g} ulp of the dot "
                                      f"product's magnitude (bound 64) on {report['rows']:,} rows")
    predictor = load_handler(model_dir).MODEL.predictor
    check_within_claim(predictor, model, X.tolist(), X)
    check_within_claim(predictor, model, [[v * 3.0 for v in row] for row in X[:50].tolist()], X[:50] * 3.0)


def test_the_registry_names_exactly_the_linear_models_tested_here() -> None:
    tested = {f"sklearn.{type(_final(model)).__name__}" for model, _, _ in COVERED.values()}
    assert tested == {name for name, module in MODELS.items() if module == "linear"}


# ---------------------------------------------------------------------------------------------
# Pipelines: imputers, one-hot and ordinal encoders, column transformers, sparse outputs

def _tabular(n: int = 300) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Age (some missing), income, city (some missing) and plan: an object array, a binary and a 3-class target."""
    rng = np.random.default_rng(0)
    age, income = rng.normal(40, 12, n), rng.lognormal(10, 1, n)
    city = rng.choice(["paris", "lyon", "nice", "lille"], n).astype(object)
    plan = rng.choice(["a", "b", "c"], n).astype(object)
    age[rng.random(n) < 0.1] = np.nan
    city[rng.random(n) < 0.1] = np.nan
    X = np.empty((n, 4), dtype=object)
    X[:, 0], X[:, 1], X[:, 2], X[:, 3] = age, income, city, plan
    binary = ((np.nan_to_num(age, nan=40) > 38) ^ (city == "paris")).astype(int)
    return X, binary, binary + (plan == "c")


def _columns(encoder: object, sparse_output: bool) -> ColumnTransformer:
    numbers = make_pipeline(SimpleImputer(), StandardScaler())
    categories = make_pipeline(SimpleImputer(strategy="most_frequent"), encoder)
    return ColumnTransformer([("num", numbers, [0, 1]), ("cat", categories, [2, 3])],
                             sparse_threshold=1.0 if sparse_output else 0.0)


PIPELINES = {
    "onehot_binary": (lambda: make_pipeline(_columns(OneHotEncoder(handle_unknown="ignore"), False),
                                            LogisticRegression()), 1),
    "onehot_sparse_multiclass": (lambda: make_pipeline(_columns(OneHotEncoder(handle_unknown="ignore"), True),
                                                       LogisticRegression()), 2),
    "onehot_sparse_modified_huber": (lambda: make_pipeline(_columns(OneHotEncoder(), True),
                                                           SGDClassifier(loss="modified_huber", random_state=0)), 2),
    "onehot_sparse_ridge": (lambda: make_pipeline(_columns(OneHotEncoder(handle_unknown="ignore"), True), Ridge()),
                            0),
    "ordinal_linear_svc": (lambda: make_pipeline(_columns(OrdinalEncoder(), False), LinearSVC()), 1),
}


def _rows(X: np.ndarray) -> list[list]:
    """The object array's rows as the predictor takes them: a missing category is None."""
    return [[None if isinstance(v, float) and math.isnan(v) and i >= 2 else v for i, v in enumerate(row)]
            for row in X.tolist()]


@pytest.mark.parametrize("name", sorted(PIPELINES))
def test_pipelines_with_encoders_and_missing_values_are_proven_and_served(name: str, tmp_path: Path,
                                                                                  load_handler: LoadHandler) -> None:
    make, target = PIPELINES[name]
    X, binary, multiclass = _tabular()
    y = (X[:, 1].astype(float) / 1000.0, binary, multiclass)[target]
    model = make().fit(X, y)
    if "sparse" in name:
        assert sparse.issparse(model[:-1].transform(X))  # the final estimator really is given a sparse matrix
    features = [("age", None), ("income", None), ("city", None), ("plan", None)]
    task = "regression" if target == 0 else "classification"
    classes = [str(c) for c in model.classes_] if task == "classification" else None
    model_dir = write_model_dir(tmp_path / name, model, features, classes, task)
    build = predictor_build(model_dir)
    assert build.report.serving == "predictor", build.report.reason
    assert build.report.claim["preprocessing"] == "bit-identical"
    assert build.report.reason.startswith("proven: preprocessing bit-identical; predictions ")
    module = load_handler(model_dir)
    check_within_claim(module.MODEL.predictor, model, _rows(X), X)
    response = module.lambda_handler({"age": None, "income": 52000.0, "city": None, "plan": "b"}, None)
    row, one = [math.nan, 52000.0, None, "b"], np.array([[np.nan, 52000.0, np.nan, "b"]], dtype=object)
    check_within_claim(module.MODEL.predictor, model, [row], one)
    assert response["statusCode"] == 200
    if task == "regression":
        assert json.loads(response["body"]) == module.MODEL.predictor.predict([row])[0][0]
    else:
        assert response["body"] == str(model.predict(one)[0])


def test_a_regressor_with_several_targets_keeps_the_joblib_path_with_the_reason(tmp_path: Path,
                                                                               load_handler: LoadHandler) -> None:
    model = Ridge().fit(X_DIA, np.column_stack([Y_DIA, Y_DIA / 2]))
    model_dir = _model_dir(model, X_DIA.shape[1], tmp_path, "two-targets")
    report = package_function(model_dir, tmp_path / "f.zip")
    assert report.function.serving == "joblib"
    assert "it predicts several targets (coef_ of shape (2, 10))" in report.function.reason
    assert load_handler(model_dir).MODEL.serving == "joblib"


def test_a_multilabel_ridge_classifier_is_refused(tmp_path: Path) -> None:
    labels = np.column_stack([Y_IRIS == 0, Y_IRIS == 2]).astype(int)
    reply = _compile(RidgeClassifier().fit(X_IRIS, labels), 4, tmp_path)
    assert reply["ok"] is False and reply["message"] == "it is a multilabel classifier"


@pytest.mark.parametrize(("dataset", "estimator"), [("iris", "logistic_regression"),
                                                    ("diabetes", "linear_regression"), ("diabetes", "ridge")])
def test_linear_models_train_makes_are_served_by_the_predictor(dataset: str, estimator: str, trained: Trained,
                                                               load_handler: LoadHandler) -> None:
    model_dir = trained(dataset, estimator)
    module = load_handler(model_dir)
    assert module.MODEL.serving == "predictor"
    model = joblib.load(model_dir / "model.joblib")
    for rows in split_rows(dataset):
        check_within_claim(module.MODEL.predictor, model, rows, np.array(rows))


def test_package_states_the_claim_in_its_reason_and_in_function_json(tmp_path: Path) -> None:
    model = LogisticRegression(max_iter=5000).fit(X_IRIS, Y_IRIS)
    model_dir = _model_dir(model, 4, tmp_path, "iris")
    report = package_function(model_dir, tmp_path / "f.zip")
    claim = report.function.claim
    rows = report.predictor.verification["rows"]
    assert claim["statement"].startswith(f"predictions identical on {rows:,} rows; scores within ")
    assert "ulp of the dot product's magnitude (bound 64); probabilities within " in claim["statement"]
    assert " of predict_proba's, on a row whose dot product's magnitude is " in claim["statement"]
    assert claim["statement"].endswith("ulp where the scores agree; bound per row: 0.5 times its score difference + "
                                       "16 ulp of 1)")
    assert report.function.reason == f"proven: {claim['statement']}"
    assert report.function.predictor is not None and report.function.predictor.kind == "linear"


# ---------------------------------------------------------------------------------------------
# Refusals: every way the proof says no

def _compile(model: object, n_inputs: int, tmp_path: Path) -> dict:
    from lambdapack.predictor.compiler import entry

    model_dir = _model_dir(model, n_inputs, tmp_path, "refused")
    features = json.loads((model_dir / "model.json").read_text())["features"]
    request = {"model": str(model_dir / "model.joblib"), "out": str(tmp_path / "p"), "max_nodes": 10**6,
               "features": features, "typed": True}
    reply = entry.compile_and_reply(request)
    assert not (tmp_path / "p").exists() or reply["ok"]
    return reply


def _patched_export(monkeypatch: pytest.MonkeyPatch, change: Callable[[object], None]) -> None:
    from lambdapack.predictor.compiler import linear

    real = linear.export

    def export(*args: object) -> object:
        result = real(*args)
        change(result)
        return result

    monkeypatch.setattr(linear, "export", export)


def test_scores_past_the_bound_are_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from lambdapack.predictor.compiler import entry, proof

    model = LogisticRegression(max_iter=5000).fit(X_IRIS, Y_IRIS)
    # the probe rows keep their distance from the decision boundaries (twice the real bound: on the
    # boundary itself a label is a matter of rounding); the scores' check gets a bound of 0, which
    # BLAS's rounding, different from the correctly rounded sum on some rows, must break
    monkeypatch.setattr(entry, "DOT_ULPS", 64)
    monkeypatch.setattr(proof, "DOT_ULPS", 0)
    reply = _compile(model, 4, tmp_path)
    assert reply["ok"] is False and reply["kind"] == "unsupported"
    assert "ulp of the dot product's magnitude (bound 0) on row " in reply["message"], reply["message"]


def test_a_kernel_off_by_a_few_hundred_ulp_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    model = Ridge().fit(X_DIA, Y_DIA)

    def nudge(export: object) -> None:
        export.model["coef"][0][3] *= 1 + 2.0**-44  # 256 ulp of that coefficient

    _patched_export(monkeypatch, nudge)
    reply = _compile(model, X_DIA.shape[1], tmp_path)
    assert reply["ok"] is False
    assert "its scores differ from scikit-learn's by " in reply["message"] and "(bound 64)" in reply["message"]


def test_a_label_that_differs_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without an intercept the neutral probe row scores exactly 0: ``> 0`` and ``>= 0`` part there."""
    model = _scaled(LogisticRegression(fit_intercept=False)).fit(X_BC, Y_BC)

    def greater_or_equal(export: object) -> None:
        export.output["decision"] = "raw_ge_0"

    _patched_export(monkeypatch, greater_or_equal)
    reply = _compile(model, X_BC.shape[1], tmp_path)
    assert reply["ok"] is False
    assert "disagrees with predict() on 1 of " in reply["message"], reply["message"]


@pytest.mark.parametrize(("model", "X", "y", "wrong"), [
    (_scaled(LogisticRegression()), X_BC, Y_BC, "binary_softmax"),
    (_scaled(LogisticRegression()), X_IRIS, Y_IRIS, "ovr_logit"),
    (_scaled(SGDClassifier(loss="log_loss", random_state=0)), X_IRIS, Y_IRIS, "softmax"),
    (_scaled(SGDClassifier(loss="modified_huber", random_state=0)), X_BC, Y_BC, "logit"),
])
def test_a_probability_formula_that_differs_is_refused(model: object, X: np.ndarray, y: np.ndarray, wrong: str,
                                                       tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    model.fit(X, y)

    def other_link(export: object) -> None:
        export.output["link"] = wrong

    _patched_export(monkeypatch, other_link)
    reply = _compile(model, X.shape[1], tmp_path)
    assert reply["ok"] is False
    assert "its probabilities differ from predict_proba() by " in reply["message"], reply["message"]
    assert "where its scores (apart by " in reply["message"]


# ---------------------------------------------------------------------------------------------
# The probe rows a linear proof adds


def _closest_margin(scores: np.ndarray) -> np.ndarray:
    """Per row, how far it is from changing label: its one score, or its two closest scores' difference."""
    if scores.shape[1] == 1:
        return np.abs(scores[:, 0])
    ordered = np.sort(scores, axis=1)
    return ordered[:, -1] - ordered[:, -2]


def _probe_setup(model: object, X: np.ndarray, task: str) -> tuple[object, object]:
    from lambdapack.predictor.compiler import linear, probes
    from lambdapack.predictor.compiler.lower import lower
    from lambdapack.predictor.compiler.schema import describe

    fields = describe(model, [f"x{i}" for i in range(X.shape[1])], [None] * X.shape[1])["features"]
    lowered = lower(model, len(fields))
    export = linear.export(lowered.final, task)
    return probes.Pools(fields, lowered.columns, export, np.random.default_rng(0)), export


@pytest.mark.parametrize(("model", "X", "y"), [(_scaled(LogisticRegression()), X_BC, Y_BC),
                                               (_scaled(LinearSVC()), X_WINE, Y_WINE)])
def test_boundary_rows_lie_on_both_sides_of_a_boundary_just_past_the_bound(model: object, X: np.ndarray,
                                                                            y: np.ndarray) -> None:
    from lambdapack.predictor.compiler import boundaries, proof

    model.fit(X, y)
    pools, export = _probe_setup(model, X, "classification")
    near = np.array(boundaries.boundary_rows(pools, pools.rows(), lambda r: _post(model, np.array(r)), proof.DOT_ULPS))
    scores = np.asarray(model.decision_function(near)).reshape(len(near), -1)
    ulp = np.spacing((np.abs(_post(model, near)) @ np.abs(export.coef).T + np.abs(export.intercept)).max(axis=1))
    margin = _closest_margin(scores)
    assert len(near) >= 24
    # about twice the bound (128 ulp of the scores' magnitude) from a change of label: near, and past the bound
    assert np.all(margin <= 5 * proof.DOT_ULPS * ulp) and np.all(margin >= proof.DOT_ULPS * ulp)
    assert len(set(model.predict(near).tolist())) >= 2  # both sides


def test_coefficient_rows_weigh_each_input_alone() -> None:
    from lambdapack.predictor.compiler import boundaries

    model = _scaled(Ridge()).fit(X_DIA, Y_DIA)
    pools, _ = _probe_setup(model, X_DIA, "regression")
    post = _post(model, np.array(boundaries.coefficient_rows(pools)))
    assert np.all(post[0] == 0.0)  # the neutral row: every column at 0 after the scaler
    alone = post[1:]
    assert np.all(np.count_nonzero(alone, axis=1) == 1)
    assert set(np.flatnonzero(alone.any(axis=0)).tolist()) == set(range(10))
    assert {1e6, -1e6, 1.0, -3.0, 1e-3} <= {round(v, 9) for v in alone[alone != 0].tolist()}


# ---------------------------------------------------------------------------------------------
# The runtime's dot product: correctly rounded, and the same bits on every Python


def _vectors() -> list[tuple[list[float], list[float]]]:
    rng = random.Random(0)
    out = []
    for n in (1, 2, 5, 30, 200):
        for spread in (0, 20, 300):
            x = [rng.uniform(-1, 1) * 2.0 ** rng.randint(-spread, spread) for _ in range(n)]
            w = [rng.uniform(-1, 1) * 2.0 ** rng.randint(-spread, spread) for _ in range(n)]
            out.append((x, w))
    # cancellation: a sum far smaller than its terms, and products near the edges of the double range
    out.append(([1e16, 1.0, -1e16], [1.0, 1.0, 1.0]))
    out.append(([0.1] * 10 + [-1.0], [1.0] * 11))
    out.append(([2.0**500, 3.0], [2.0**490, -2.0**-600]))
    out.append(([2.0**-500, 2.0**-470], [2.0**-470, 2.0**-500]))
    return out


def _exact(x: list[float], w: list[float]) -> float:
    return float(sum((Fraction(a) * Fraction(b) for a, b in zip(x, w, strict=True)), Fraction(0)))


def test_the_dot_product_is_correctly_rounded() -> None:
    from lambdapack_runtime.linear import Linear

    for x, w in _vectors():
        kernel = Linear({"n_features": len(w), "coef": [w], "intercept": [0.0]}, {})
        assert kernel.raw(x) == [_exact(x, w)], (x, w)


def test_the_dot_product_propagates_inf_and_nan_as_numpy_does() -> None:
    from lambdapack_runtime.linear import Linear

    kernel = Linear({"n_features": 2, "coef": [[1.0, -1.0], [1.0, 0.0]], "intercept": [0.0, 0.0]}, {})
    for x in ([math.inf, 1.0], [math.inf, math.inf], [math.nan, 1.0], [1e308, -1e308], [math.inf, 0.0]):
        with np.errstate(invalid="ignore", over="ignore"):
            expected = (np.array([x]) @ np.array([[1.0, -1.0], [1.0, 0.0]]).T)[0].tolist()
        got = kernel.raw(x)
        assert [repr(v) for v in got] == [repr(v) for v in expected], x


@pytest.mark.parametrize("version", [(3, 10), (3, 12), (3, 13)])
def test_the_dot_product_gives_the_same_bits_on_every_python(version: tuple[int, int],
                                                             require_python: Callable[..., Path]) -> None:
    """3.13 takes each product's error from math.fma, 3.10-3.12 from Dekker's two-product: the same bits."""
    from lambdapack_runtime.linear import Linear

    python = require_python(version)
    vectors = [*_vectors(), ([2.0**-540, 3.0**-300, 1e-320, 5e-324], [2.0**-540, 7.0, 0.5, 0.3]),
               ([1e300, 1e-300], [1e10, 1e-30])]
    script = ("import json, sys; sys.path.insert(0, sys.argv[1]); from lambdapack_runtime.linear import Linear; "
              "vs = json.loads(sys.stdin.read()); "
              "print(json.dumps([Linear({'n_features': len(w), 'coef': [[float.fromhex(v) for v in w]], "
              "'intercept': [0.0]}, {}).raw([float.fromhex(v) for v in x])[0].hex() for x, w in vs]))")
    given = json.dumps([[[v.hex() for v in x], [v.hex() for v in w]] for x, w in vectors])
    done = subprocess.run([str(python), "-I", "-S", "-c", script, str(template_path("lambdapack_runtime").parent)],
                          input=given, capture_output=True, text=True, check=True)
    here = [Linear({"n_features": len(w), "coef": [w], "intercept": [0.0]}, {}).raw(x)[0].hex() for x, w in vectors]
    assert json.loads(done.stdout) == here


def test_one_vs_rest_rows_of_zeros_follow_this_scikit_learn() -> None:
    """Every expit 0 (scores below -745): NaN up to scikit-learn 1.8, uniform since; the predictor does the same."""
    from lambdapack_runtime.links import Output

    from lambdapack.predictor.compiler.linear import all_zero_rule

    model = SGDClassifier(loss="log_loss", random_state=0).fit(X_IRIS, Y_IRIS)
    rule = all_zero_rule(model)
    crafted = LogisticRegression().fit(X_IRIS, Y_IRIS)
    crafted.coef_, crafted.intercept_ = np.zeros((3, 4)), np.array([-800.0, -900.0, -1e4])
    with np.errstate(invalid="ignore"):
        expected = crafted._predict_proba_lr(np.zeros((1, 4)))[0].tolist()
    got = Output({"decision": "argmax", "link": "ovr_logit", "all_zero": rule}, "classification").answer(
        [-800.0, -900.0, -1e4])[1]
    assert [repr(v) for v in got] == [repr(v) for v in expected]
