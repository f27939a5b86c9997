"""The stdlib predictor: compiled at package time, identical to scikit-learn, served without the layer."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import joblib
import numpy as np
import pytest
from function_support import SEED, body_of, split_rows, write_model_dir
from sklearn.datasets import load_breast_cancer, load_diabetes, load_iris
from sklearn.ensemble import (
    ExtraTreesClassifier,
    ExtraTreesRegressor,
    GradientBoostingClassifier,
    GradientBoostingRegressor,
    HistGradientBoostingClassifier,
    HistGradientBoostingRegressor,
    RandomForestClassifier,
    RandomForestRegressor,
)
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import PolynomialFeatures
from sklearn.tree import DecisionTreeClassifier, ExtraTreeRegressor

from lambdapack import archive
from lambdapack.function.package import package_function
from lambdapack.interpreters import find_python
from lambdapack.model.manifest import load_manifest
from lambdapack.predictor.build import build_predictor

LoadHandler = Callable[..., ModuleType]
Trained = Callable[[str, str], Path]
LAYER_MODULES = ("numpy", "scipy", "sklearn", "joblib")

TRAINED = [
    ("iris", "random_forest"), ("iris", "extra_trees"), ("iris", "decision_tree"), ("wine", "random_forest"),
    ("iris", "gradient_boosting"), ("breast_cancer", "gradient_boosting"), ("iris", "hist_gradient_boosting"),
    ("breast_cancer", "hist_gradient_boosting"), ("diabetes", "random_forest_regressor"),
    ("diabetes", "decision_tree_regressor"), ("diabetes", "gradient_boosting_regressor"),
]


def _direct(est: object, X: np.ndarray, y: np.ndarray, tmp_path: Path, name: str) -> Path:
    task = "classification" if hasattr(est, "classes_") else "regression"
    classes = [str(c) for c in est.classes_] if task == "classification" else None
    return write_model_dir(tmp_path / name, est, [(f"x{i}", None) for i in range(X.shape[1])], classes, task)


def _missing(X: np.ndarray) -> np.ndarray:
    holes = X.copy()
    holes[np.random.default_rng(0).random(X.shape) < 0.15] = np.nan
    return holes


X_IRIS, Y_IRIS = load_iris(return_X_y=True)
X_BC, Y_BC = load_breast_cancer(return_X_y=True)
X_DIA, Y_DIA = load_diabetes(return_X_y=True)

# every model kind the predictor covers, fitted here: binary, multiclass, regression, links, missing values
DIRECT = {
    "extra_tree_regressor": (ExtraTreeRegressor(random_state=0), X_DIA, Y_DIA),
    "extra_trees_regressor": (ExtraTreesRegressor(n_estimators=20, random_state=0), X_DIA, Y_DIA),
    "extra_trees_binary": (ExtraTreesClassifier(n_estimators=20, random_state=0), X_BC, Y_BC),
    "gb_exponential": (GradientBoostingClassifier(loss="exponential", n_estimators=40, random_state=0), X_BC, Y_BC),
    "gb_huber": (GradientBoostingRegressor(loss="huber", n_estimators=40, random_state=0), X_DIA, Y_DIA),
    "gb_zero_init": (GradientBoostingRegressor(init="zero", n_estimators=40, random_state=0), X_DIA, Y_DIA),
    "hgb_poisson": (HistGradientBoostingRegressor(loss="poisson", max_iter=40, random_state=0), X_DIA, Y_DIA),
    "hgb_missing_regressor": (HistGradientBoostingRegressor(max_iter=40, random_state=0), _missing(X_DIA), Y_DIA),
    "hgb_missing_multiclass": (HistGradientBoostingClassifier(max_iter=30, random_state=0), _missing(X_IRIS),
                               Y_IRIS),
}


def _answers(module: ModuleType, model_dir: Path, rows: list[list[float]]) -> None:
    """The handler's predictor gives the estimator's predict and predict_proba, bit for bit."""
    model = module.MODEL
    assert model.serving == "predictor"
    est = joblib.load(model_dir / "model.joblib")
    X = np.array(rows, dtype=np.float64)
    outputs, probas = model.predictor.predict(rows)
    if model.task == "regression":
        expected = est.predict(X).tolist()
        if model.predictor.output.link == "log":  # numpy's vectorised exp may differ from the C library's
            np.testing.assert_array_max_ulp(np.array(outputs), np.array(expected), maxulp=8)
        else:
            assert outputs == expected  # bit for bit, not approximately
        return
    labels = est.classes_.tolist()
    assert [labels[i] for i in outputs] == est.predict(X).tolist()
    expected_proba = est.predict_proba(X)
    if model.predictor.output.link == "softmax":
        np.testing.assert_array_max_ulp(np.array(probas), expected_proba, maxulp=8)
    else:
        assert probas == expected_proba.tolist()


@pytest.mark.parametrize(("dataset", "estimator"), TRAINED)
def test_models_train_makes_are_served_identically_by_the_predictor(
        dataset: str, estimator: str, trained: Trained, load_handler: LoadHandler) -> None:
    model_dir = trained(dataset, estimator)
    module = load_handler(model_dir)
    X_train, X_test = split_rows(dataset)
    _answers(module, model_dir, X_test)
    _answers(module, model_dir, X_train)
    # the verification rows package used: every leaf, every threshold and its neighbours
    checked = module.MODEL.predictor.header["check"]["rows"]
    _answers(module, model_dir, [[np.nan if v is None else v for v in row] for row in checked])


@pytest.mark.parametrize("name", sorted(DIRECT))
def test_every_covered_kind_is_proven_and_served(name: str, tmp_path: Path, load_handler: LoadHandler) -> None:
    est, X, y = DIRECT[name]
    est.fit(X, y)
    model_dir = _direct(est, X, y, tmp_path, name)
    manifest = load_manifest(model_dir)
    build = build_predictor(model_dir / "model.joblib", manifest)
    assert build.report.serving == "predictor", build.report.reason
    report = build.report.verification
    assert report["unreachable_leaves"] == 0 and report["rows"] >= report["leaves"] / report["trees"]
    module = load_handler(model_dir)
    _answers(module, model_dir, np.nan_to_num(X, nan=0.0).tolist())
    if name.startswith("hgb_missing"):
        _answers(module, model_dir, X.tolist())  # NaN routed where the model learned to send it


def test_a_predictor_that_disagrees_is_never_shipped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The proof has teeth: drop the float32 rounding of inputs and the threshold rows catch it."""
    est = RandomForestClassifier(n_estimators=10, random_state=0).fit(X_IRIS, Y_IRIS)
    model_dir = _direct(est, X_IRIS, Y_IRIS, tmp_path, "rounding")
    from lambdapack.predictor.compiler import entry, forest  # imports the runtime from the templates directory

    real_export = forest.export

    def without_rounding(*args: object) -> object:
        export = real_export(*args)
        export.model["float32_inputs"] = False
        return export

    monkeypatch.setattr(forest, "export", without_rounding)
    features = json.loads((model_dir / "model.json").read_text())["features"]
    request = {"model": str(model_dir / "model.joblib"), "out": str(tmp_path / "p"), "max_nodes": 10**6,
               "features": features, "typed": True}
    reply = entry.compile_and_reply(request)
    assert reply["ok"] is False and reply["kind"] == "unsupported"
    assert re.search(r"disagrees with predict\(\)", reply["message"]), reply["message"]
    assert not (tmp_path / "p").exists()


@pytest.fixture(autouse=True)
def _templates_importable(monkeypatch: pytest.MonkeyPatch) -> None:
    from lambdapack.template_files import template_path

    monkeypatch.syspath_prepend(str(template_path("lambdapack_runtime").parent))


@pytest.mark.parametrize(("est", "reason"), [
    (make_pipeline(PolynomialFeatures(), DecisionTreeClassifier(random_state=0)),
     "its step 'polynomialfeatures' (sklearn.preprocessing.PolynomialFeatures) is outside what the predictor"),
    (RandomForestRegressor(n_estimators=3, random_state=0), "multi-output"),
])
def test_models_outside_the_predictor_keep_the_joblib_path_with_the_reason(est: object, reason: str,
                                                                           tmp_path: Path,
                                                                           load_handler: LoadHandler) -> None:
    y = np.column_stack([Y_DIA, Y_DIA / 2]) if reason == "multi-output" else Y_IRIS
    X = X_DIA if reason == "multi-output" else X_IRIS
    est.fit(X, y)
    model_dir = _direct(est, X, y, tmp_path, "other")
    report = package_function(model_dir, tmp_path / "f.zip")
    assert report.function.serving == "joblib" and report.function.needs_layer
    assert reason in report.function.reason
    assert load_handler(model_dir).MODEL.serving == "joblib"


def test_ties_go_to_the_first_class(tmp_path: Path, load_handler: LoadHandler) -> None:
    # stumps on all rows: the non-setosa leaf is exactly 0.5/0.5 and np.argmax picks the first class
    est = RandomForestClassifier(n_estimators=3, max_depth=1, bootstrap=False, max_features=None,
                                 random_state=3).fit(X_IRIS, Y_IRIS)
    model_dir = _direct(est, X_IRIS, Y_IRIS, tmp_path, "ties")
    module = load_handler(model_dir)
    _, proba = module.MODEL.predictor.predict(X_IRIS.tolist())
    assert any(p.count(max(p)) > 1 for p in proba), "the test needs ties"
    _answers(module, model_dir, X_IRIS.tolist())


def test_init_imports_nothing_from_the_layer(iris_model: Path, tmp_path: Path) -> None:
    package_function(iris_model, tmp_path / "f.zip")
    task = tmp_path / "task"
    archive.safe_extract(tmp_path / "f.zip", task)
    script = ("import json, sys; sys.path.insert(0, sys.argv[1]); import lambda_function as f; "
              f"before = sorted(m for m in sys.modules if m.split('.')[0] in {LAYER_MODULES!r}); "
              "out = f.lambda_handler(json.loads(sys.argv[2]), None); "
              "print(json.dumps({'before': before, 'out': out}))")
    # the host's Python has numpy and scikit-learn installed: importing them would be possible, and wrong
    done = subprocess.run([sys.executable, "-I", "-c", script, str(task), json.dumps(SEED)], capture_output=True,
                          text=True, check=True)
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result == {"before": [], "out": {"statusCode": 200, "body": "virginica"}}


@pytest.mark.parametrize("version", [(3, 10), (3, 12), (3, 13)])
def test_the_function_needs_no_layer_under_python_I_S(version: tuple[int, int], iris_model: Path,
                                                      tmp_path: Path) -> None:
    python = find_python(version)
    assert python is not None, f"CPython {version[0]}.{version[1]} is needed here (pyenv install)"
    package_function(iris_model, tmp_path / "f.zip", runtime=f"python{version[0]}.{version[1]}")
    task = tmp_path / "task"
    archive.safe_extract(tmp_path / "f.zip", task)
    script = ("import json, sys; sys.path[:] = [sys.argv[1]] + [p for p in sys.path if 'site-packages' not in p]; "
              "import lambda_function as f; "
              "print(json.dumps([f.lambda_handler(json.loads(a), None) for a in sys.argv[2:]]))")
    batch = {"instances": X_IRIS[:5].tolist()}
    done = subprocess.run([str(python), "-I", "-S", "-c", script, str(task), json.dumps(SEED), json.dumps(batch)],
                          capture_output=True, text=True, check=True, cwd=tmp_path)
    seed, many = json.loads(done.stdout.strip().splitlines()[-1])
    assert seed == {"statusCode": 200, "body": "virginica"}
    assert json.loads(many["body"])["predictions"] == ["setosa"] * 5


@pytest.mark.parametrize(("damage", "message"), [
    (lambda b: b[:-10], "does not match the function manifest"),
    (lambda b: b[:100] + bytes([b[100] ^ 1]) + b[101:], "does not match the function manifest"),
])
def test_a_tampered_or_truncated_predictor_is_an_init_error_naming_it(damage: Callable[[bytes], bytes],
                                                                      message: str, iris_model: Path,
                                                                      load_handler: LoadHandler,
                                                                      tmp_path: Path) -> None:
    model_dir = tmp_path / "m"
    model_dir.mkdir()
    from function_support import function_files

    for item in iris_model.iterdir():
        (model_dir / item.name).write_bytes(item.read_bytes())
    for name, data in function_files(iris_model).items():
        (model_dir / name).write_bytes(damage(data) if name == "model.predictor" else data)
    with pytest.raises(Exception, match=rf"predictor .*model\.predictor is unusable: .*{message}") as info:
        load_handler(model_dir)
    assert type(info.value).__name__ == "ModelInitError"


def test_a_predictor_with_a_matching_hash_but_broken_tables_is_refused(iris_model: Path) -> None:
    from function_support import function_files

    from lambdapack.template_files import template_path

    sys.path.insert(0, str(template_path("lambdapack_runtime").parent))
    try:
        from lambdapack_runtime import predictor as lp
    finally:
        sys.path.pop(0)
    data = function_files(iris_model)["model.predictor"]
    with pytest.raises(lp.PredictorError, match="truncated"):
        lp.decode(data[:-9])
    with pytest.raises(lp.PredictorError, match="bad magic"):
        lp.decode(b"PK" + data[2:])
    header, tables = lp.decode(data)
    tables["left"][header["model"]["roots"][0]] = 0  # a cycle: the root's left child is itself
    with pytest.raises(ValueError, match="children out of order"):
        lp.Predictor(header, tables).check_nodes()


def test_missing_values_only_for_models_that_take_them(tmp_path: Path, load_handler: LoadHandler,
                                                       trained: Trained) -> None:
    est, X, y = DIRECT["hgb_missing_multiclass"]
    est.fit(X, y)
    module = load_handler(_direct(est, X, y, tmp_path, "hgb"))
    response = module.lambda_handler({"x0": None, "x1": 3.1, "x2": float("nan"), "x3": 2.3}, None)
    assert response["statusCode"] == 200
    expected = est.predict(np.array([[np.nan, 3.1, np.nan, 2.3]]))[0]
    assert response["body"] == str(expected)
    # gradient boosting checks that its input is finite: no input of it may be missing
    boosting = load_handler(trained("iris", "gradient_boosting"))
    refused = boosting.lambda_handler({"sl": None, "sw": 3.1, "pl": 5.1, "pw": 2.3}, None)
    assert refused["statusCode"] == 400 and body_of(refused)["field"] == "sl"
    assert "cannot be missing" in body_of(refused)["detail"] and "got null" in body_of(refused)["detail"]


def test_large_batches_go_to_the_estimator_when_the_layer_is_there(iris_model: Path,
                                                                   load_handler: LoadHandler) -> None:
    module = load_handler(iris_model, env={"LAMBDAPACK_PREDICTOR_MAX_ROWS": "3"})
    assert module.MODEL.uses_predictor(3)
    assert not module.MODEL.uses_predictor(4)  # numpy and scikit-learn are importable here
    small = body_of(module.lambda_handler({"instances": X_IRIS[:3].tolist()}, None))
    large = body_of(module.lambda_handler({"instances": X_IRIS[:10].tolist()}, None))
    assert large["predictions"][:3] == small["predictions"] and large["probabilities"][:3] == small["probabilities"]


def test_the_predictor_can_be_switched_off(iris_model: Path, load_handler: LoadHandler) -> None:
    module = load_handler(iris_model, env={"LAMBDAPACK_PREDICTOR": "0"})
    assert module.MODEL.serving == "joblib"
    assert module.lambda_handler(SEED, None) == {"statusCode": 200, "body": "virginica"}


def test_snapstart_hooks_warm_before_the_snapshot_and_reseed_after(iris_model: Path, load_handler: LoadHandler,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    import snapshot_restore_py

    monkeypatch.setattr(snapshot_restore_py, "_before_snapshot_registry", [])
    monkeypatch.setattr(snapshot_restore_py, "_after_restore_registry", [])
    monkeypatch.setenv("AWS_LAMBDA_INITIALIZATION_TYPE", "snap-start")
    module = load_handler(iris_model)
    before, after = snapshot_restore_py.get_before_snapshot(), snapshot_restore_py.get_after_restore()
    assert [f.__name__ for f, _, _ in before] == ["warm"] and [f.__name__ for f, _, _ in after] == [
        "reseed_after_restore"]
    for func, args, kwargs in [*before, *after]:  # what the runtime does around a snapshot
        func(*args, **kwargs)
    assert module.lambda_handler(SEED, None) == {"statusCode": 200, "body": "virginica"}


def test_no_snapstart_no_hooks(iris_model: Path, load_handler: LoadHandler, monkeypatch: pytest.MonkeyPatch) -> None:
    import snapshot_restore_py

    monkeypatch.setattr(snapshot_restore_py, "_before_snapshot_registry", [])
    monkeypatch.delenv("AWS_LAMBDA_INITIALIZATION_TYPE", raising=False)
    load_handler(iris_model)
    assert snapshot_restore_py.get_before_snapshot() == []


def test_string_labels_without_display_names(tmp_path: Path, load_handler: LoadHandler) -> None:
    labels = np.array(["small", "medium", "large"])[Y_IRIS]
    est = RandomForestClassifier(n_estimators=20, random_state=0).fit(X_IRIS, labels)
    model_dir = write_model_dir(tmp_path / "strings", est, [(f"f{i}", None) for i in range(4)], None,
                                "classification")
    module = load_handler(model_dir)
    assert module.MODEL.serving == "predictor"
    direct = module.lambda_handler({"f0": 6.9, "f1": 3.1, "f2": 5.1, "f3": 2.3}, None)
    assert direct == {"statusCode": 200, "body": str(est.predict([[6.9, 3.1, 5.1, 2.3]])[0])}


def test_direct_event_for_a_regressor_returns_the_number(trained: Trained, load_handler: LoadHandler) -> None:
    model_dir = trained("diabetes", "random_forest_regressor")
    manifest = json.loads((model_dir / "model.json").read_text())
    _, X_test = split_rows("diabetes")
    module = load_handler(model_dir)
    response = module.lambda_handler(dict(zip([f["name"] for f in manifest["features"]], X_test[0], strict=True)),
                                     None)
    expected = joblib.load(model_dir / "model.joblib").predict(np.array(X_test[:1]))
    assert response == {"statusCode": 200, "body": json.dumps(float(expected[0]))}


@pytest.mark.parametrize(("dataset", "estimator"), [("iris", "naive_bayes"), ("iris", "svc"), ("diabetes", "svr")])
def test_models_without_a_predictor_are_served_by_the_estimator(dataset: str, estimator: str, trained: Trained,
                                                                 load_handler: LoadHandler) -> None:
    model_dir = trained(dataset, estimator)
    module = load_handler(model_dir)
    assert module.MODEL.serving == "joblib"
    _, X_test = split_rows(dataset)
    est = joblib.load(model_dir / "model.joblib")
    expected = est.predict(np.array(X_test[:5]))
    body = body_of(module.lambda_handler({"instances": X_test[:5]}, None))
    if module.MODEL.task == "regression":
        assert body["predictions"] == expected.tolist()
    else:
        labels = est.classes_.tolist()
        assert body["predictions"] == [module.MODEL.classes[labels.index(v)] for v in expected]


def test_a_model_over_the_node_limit_keeps_the_joblib_path(iris_model: Path) -> None:
    build = build_predictor(iris_model / "model.joblib", load_manifest(iris_model), max_nodes=100)
    assert build.report.serving == "joblib"
    assert "1,502 nodes, over the predictor's limit of 100" in build.report.reason


def test_big_tables_stay_arrays_and_answer_the_same(iris_model: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from function_support import function_files

    from lambdapack.template_files import template_path

    sys.path.insert(0, str(template_path("lambdapack_runtime").parent))
    try:
        from lambdapack_runtime import predictor as lp
    finally:
        sys.path.pop(0)
    data = function_files(iris_model)["model.predictor"]
    as_lists = lp.Predictor(*lp.decode(data))
    monkeypatch.setattr(lp, "LIST_ENTRIES", 0)  # what a forest of millions of nodes gets
    as_arrays = lp.Predictor(*lp.decode(data))
    assert type(as_arrays.model.threshold).__name__ == "array" and isinstance(as_lists.model.threshold, list)
    as_arrays.self_check()
    rows = X_IRIS.tolist() + as_lists.header["check"]["rows"]
    assert as_arrays.predict(rows) == as_lists.predict(rows)
