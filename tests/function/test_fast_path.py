"""The tree fast path gives exactly scikit-learn's answers, and every model ``train`` makes is served."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import joblib
import numpy as np
import pytest
from function_support import body_of, split_rows, write_model_dir
from sklearn.datasets import load_diabetes, load_iris
from sklearn.ensemble import ExtraTreesRegressor, RandomForestClassifier, RandomForestRegressor

from lambdapack.templates import template_path

LoadHandler = Callable[..., ModuleType]
Trained = Callable[[str, str], Path]

TREE_MODELS = [
    ("iris", "random_forest"),
    ("iris", "extra_trees"),
    ("iris", "decision_tree"),
    ("wine", "random_forest"),
    ("digits", "random_forest"),
    ("diabetes", "random_forest_regressor"),
    ("diabetes", "decision_tree_regressor"),
]


def _sklearn_answers(model_dir: Path, rows: list[list[float]]) -> tuple[np.ndarray, np.ndarray | None]:
    est = joblib.load(model_dir / "model.joblib")
    X = np.array(rows)
    return est.predict(X), (est.predict_proba(X) if hasattr(est, "predict_proba") else None)


def _assert_identical(module: ModuleType, model_dir: Path, rows: list[list[float]]) -> None:
    model = module._HANDLER.model
    assert model.fast is not None
    predicted, proba = model.fast.predict(rows)
    expected, expected_proba = _sklearn_answers(model_dir, rows)
    if model.task == "regression":
        assert predicted == expected.tolist()  # bit for bit, not approximately
        return
    labels = model.estimator.classes_
    assert [labels[i] for i in predicted] == expected.tolist()
    assert proba == expected_proba.tolist()


@pytest.mark.parametrize(("dataset", "estimator"), TREE_MODELS)
def test_fast_path_is_identical_to_sklearn_on_the_whole_test_set(
        dataset: str, estimator: str, trained: Trained, load_handler: LoadHandler) -> None:
    model_dir = trained(dataset, estimator)
    module = load_handler(model_dir)
    X_train, X_test = split_rows(dataset)
    _assert_identical(module, model_dir, X_test)
    _assert_identical(module, model_dir, X_train[:200])
    _assert_identical(module, model_dir, module._HANDLER.model.fast.sample_rows())


@pytest.mark.parametrize(("dataset", "estimator"), TREE_MODELS)
def test_handler_serves_each_model_like_sklearn(dataset: str, estimator: str, trained: Trained,
                                                load_handler: LoadHandler) -> None:
    model_dir = trained(dataset, estimator)
    manifest = json.loads((model_dir / "model.json").read_text())
    module = load_handler(model_dir)
    _, X_test = split_rows(dataset)
    rows = X_test[:25]
    expected, expected_proba = _sklearn_answers(model_dir, rows)
    labels = module._HANDLER.model.estimator.classes_.tolist() if manifest["task"] == "classification" else None
    names = [f["name"] for f in manifest["features"]]
    for i, row in enumerate(rows):
        features = dict(zip(names, row, strict=True))
        request = {"version": "2.0", "rawPath": "/predict", "body": json.dumps(features),
                   "requestContext": {"http": {"method": "POST"}}}
        body = body_of(module.lambda_handler(request, None))
        if labels is None:
            assert body["prediction"] == expected[i]
            assert "probabilities" not in body
        else:
            assert body["prediction"] == manifest["classes"][labels.index(expected[i])]
            assert list(body["probabilities"].values()) == expected_proba[i].tolist()
    batch = body_of(module.lambda_handler({"instances": X_test}, None))
    full, _ = _sklearn_answers(model_dir, X_test)
    if labels is None:
        assert batch["predictions"] == full.tolist()
    else:
        assert batch["predictions"] == [manifest["classes"][labels.index(v)] for v in full.tolist()]


def test_direct_event_for_a_regressor_returns_the_number(trained: Trained, load_handler: LoadHandler) -> None:
    model_dir = trained("diabetes", "random_forest_regressor")
    manifest = json.loads((model_dir / "model.json").read_text())
    _, X_test = split_rows("diabetes")
    module = load_handler(model_dir)
    response = module.lambda_handler(dict(zip([f["name"] for f in manifest["features"]], X_test[0], strict=True)),
                                     None)
    expected, _ = _sklearn_answers(model_dir, X_test[:1])
    assert response == {"statusCode": 200, "body": json.dumps(float(expected[0]))}


@pytest.mark.parametrize(("dataset", "estimator"), [("iris", "logistic_regression"), ("iris", "svc"),
                                                    ("iris", "gradient_boosting"), ("diabetes", "ridge")])
def test_models_without_a_fast_path_are_served_by_the_estimator(dataset: str, estimator: str, trained: Trained,
                                                                 load_handler: LoadHandler) -> None:
    model_dir = trained(dataset, estimator)
    module = load_handler(model_dir)
    assert module._HANDLER.model.fast is None
    _, X_test = split_rows(dataset)
    expected, _ = _sklearn_answers(model_dir, X_test)
    body = body_of(module.lambda_handler({"instances": X_test[:5]}, None))
    if module._HANDLER.model.task == "regression":
        assert body["predictions"] == expected[:5].tolist()
    else:
        labels = module._HANDLER.model.estimator.classes_.tolist()
        assert body["predictions"] == [module._HANDLER.model.classes[labels.index(v)] for v in expected[:5]]


def test_ties_and_threshold_boundaries(tmp_path: Path, load_handler: LoadHandler) -> None:
    # stumps on all rows: the non-setosa leaf is exactly 0.5/0.5 and np.argmax must pick the first class
    X, y = load_iris(return_X_y=True)
    est = RandomForestClassifier(n_estimators=3, max_depth=1, bootstrap=False, max_features=None,
                                 random_state=3).fit(X, y)
    model_dir = write_model_dir(tmp_path / "ties", est, [(f"f{i}", None) for i in range(4)],
                                ["a", "b", "c"], "classification")
    module = load_handler(model_dir)
    fast = module._HANDLER.model.fast
    cuts = [t for t, f in zip(fast.threshold, fast.feature, strict=True) if f >= 0]
    rows = X.tolist()
    for cut in cuts:  # exactly on the float64 threshold, and on each side of its float32 rounding
        for value in (cut, float(np.nextafter(np.float32(cut), np.float32(np.inf))),
                      float(np.nextafter(np.float32(cut), np.float32(-np.inf))), float(np.nextafter(cut, 0))):
            rows.append([value] * 4)
    _, proba = fast.predict(rows)
    assert any(p.count(max(p)) > 1 for p in proba), "the test needs ties"
    _assert_identical(module, model_dir, rows)


def test_extra_trees_regressor_from_scikit_learn_directly(tmp_path: Path, load_handler: LoadHandler) -> None:
    X, y = load_diabetes(return_X_y=True)
    est = ExtraTreesRegressor(n_estimators=30, random_state=0).fit(X[:300], y[:300])
    model_dir = write_model_dir(tmp_path / "etr", est, [(f"x{i}", None) for i in range(X.shape[1])], None,
                                "regression")
    module = load_handler(model_dir)
    _assert_identical(module, model_dir, X[300:].tolist())


def test_disagreement_disables_the_fast_path(iris_model: Path, load_handler: LoadHandler) -> None:
    model = load_handler(iris_model)._HANDLER.model
    assert model.fast.agrees_with(model)
    model.fast.threshold = [t + 0.5 for t in model.fast.threshold]
    assert not model.fast.agrees_with(model)


def test_fast_path_can_be_switched_off(iris_model: Path, load_handler: LoadHandler) -> None:
    module = load_handler(iris_model, env={"LAMBDAPACK_FAST_PATH": "0"})
    assert module._HANDLER.model.fast is None
    assert module.lambda_handler({"sl": 6.9, "sw": 3.1, "pl": 5.1, "pw": 2.3}, None) == {
        "statusCode": 200, "body": "virginica"}


def test_template_compiles_under_python_3_10() -> None:
    python = Path("/root/.pyenv/versions/3.10.13/bin/python3.10")
    if not python.exists():
        pytest.skip("no Python 3.10 here")
    subprocess.run([str(python), "-c", "import ast, sys; ast.parse(open(sys.argv[1]).read())",
                    str(template_path("lambda_function.py"))], check=True)


def test_string_labels_without_display_names(tmp_path: Path, load_handler: LoadHandler) -> None:
    X, y = load_iris(return_X_y=True)
    labels = np.array(["small", "medium", "large"])[y]
    est = RandomForestClassifier(n_estimators=20, random_state=0).fit(X, labels)
    model_dir = write_model_dir(tmp_path / "strings", est, [(f"f{i}", None) for i in range(4)], None,
                                "classification")
    module = load_handler(model_dir)
    _assert_identical(module, model_dir, X.tolist())
    direct = module.lambda_handler({"f0": 6.9, "f1": 3.1, "f2": 5.1, "f3": 2.3}, None)
    assert direct == {"statusCode": 200, "body": str(est.predict([[6.9, 3.1, 5.1, 2.3]])[0])}


def test_multi_output_regressor_is_served_by_the_estimator(tmp_path: Path, load_handler: LoadHandler) -> None:
    X, y = load_diabetes(return_X_y=True)
    targets = np.column_stack([y, y / 2])
    est = RandomForestRegressor(n_estimators=10, random_state=0).fit(X, targets)
    model_dir = write_model_dir(tmp_path / "multi", est, [(f"x{i}", None) for i in range(X.shape[1])], None,
                                "regression")
    module = load_handler(model_dir)
    assert module._HANDLER.model.fast is None
    body = body_of(module.lambda_handler({"instances": X[:3].tolist()}, None))
    assert body["predictions"] == est.predict(X[:3]).tolist()


@pytest.mark.parametrize(("dataset", "estimator"), [("digits", "random_forest"),
                                                    ("diabetes", "random_forest_regressor")])
def test_compact_node_tables_give_the_same_answers(dataset: str, estimator: str, trained: Trained,
                                                   load_handler: LoadHandler, monkeypatch: pytest.MonkeyPatch) -> None:
    model_dir = trained(dataset, estimator)
    module = load_handler(model_dir)
    model = module._HANDLER.model
    monkeypatch.setattr(module, "_LIST_NODES", 0)  # what a forest of millions of nodes gets
    model.fast = module.TreeEvaluator.build(model.estimator, model.task, len(model.feature_names))
    assert type(model.fast.threshold).__name__ == "array"
    _, X_test = split_rows(dataset)
    _assert_identical(module, model_dir, X_test)


def test_forests_too_big_for_node_tables_use_the_estimator(iris_model: Path, load_handler: LoadHandler,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    module = load_handler(iris_model, env={"LAMBDAPACK_FAST_PATH_MAX_NODES": "100"})
    assert module._HANDLER.model.fast is None
    assert "over LAMBDAPACK_FAST_PATH_MAX_NODES" in capsys.readouterr().out
    assert module.lambda_handler({"sl": 6.9, "sw": 3.1, "pl": 5.1, "pw": 2.3}, None)["body"] == "virginica"
