"""LightGBM served by the stdlib predictor: compiled from the model, proven in LightGBM itself, bit for bit.

Each model is fitted here, brought in by ``model import`` (a pickled scikit-learn wrapper or
LightGBM's own text model), compiled by ``package``'s builder and answered by the handler's
predictor; the answers are then compared with LightGBM's on rows the proof did not choose:
training rows, rows on every threshold and one step either side, rows half missing, values
within LightGBM's zero threshold, every category, an unseen one and a missing one.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import joblib
import numpy as np
import pytest
from function_support import predictor_build

from lambdapack.errors import ModelError
from lambdapack.model.importer import import_model
from lambdapack.model.manifest import load_manifest
from lambdapack.predictor.build import build_predictor

try:
    import lightgbm as lgb
    import pandas as pd
except ImportError:  # pragma: no cover - the test extra installs both
    lgb = pd = None

LoadHandler = Callable[..., ModuleType]
KZERO = 1.0000000180025095e-35  # LightGBM's kZeroThreshold, the float 1e-35f


@pytest.fixture(autouse=True)
def _lightgbm(cannot_run: Callable[[str], None], monkeypatch: pytest.MonkeyPatch) -> None:
    if lgb is None:
        cannot_run("lightgbm and pandas are not installed (pip install -e '.[test]')")
    from lambdapack.template_files import template_path

    monkeypatch.syspath_prepend(str(template_path("lambdapack_runtime").parent))


def _data(n: int = 800, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Five inputs: two with missing values, one with many exact zeros, one a category code, one plain."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 5))
    X[rng.random(n) < 0.2, 0] = np.nan
    X[rng.random(n) < 0.3, 1] = 0.0
    X[:, 3] = rng.integers(0, 7, size=n)
    X[rng.random(n) < 0.1, 3] = np.nan
    X[rng.random(n) < 0.1, 4] = np.nan
    signal = np.nan_to_num(X[:, 0]) + (X[:, 1] < 0) - (X[:, 1] == 0) + np.isin(X[:, 3], [1, 4, 5]) + 0.3 * X[:, 2]
    return X, signal


def _labels(signal: np.ndarray, classes: int) -> np.ndarray:
    return np.digitize(signal, np.quantile(signal, np.linspace(0, 1, classes + 1)[1:-1]))


def _imported(model: Any, tmp_path: Path, name: str, features: str | None = "a,b,c,d,e") -> Path:
    path = tmp_path / f"{name}.joblib"
    if isinstance(model, lgb.Booster):
        path = tmp_path / f"{name}.txt"
        model.save_model(str(path))
    else:
        joblib.dump(model, path)
    import_model(path, features=features if features and not hasattr(model, "feature_names_in_") else None,
                 out=tmp_path / name)
    return tmp_path / name


def _probe_rows(X: np.ndarray, model: Any) -> np.ndarray:
    """Rows the proof did not pick: training rows, every threshold and its neighbours, half missing, near zero."""
    booster = model if isinstance(model, lgb.Booster) else model.booster_
    cuts = []

    def walk(node: dict) -> None:
        if "split_feature" in node:
            if node["decision_type"] == "<=":
                cuts.append((node["split_feature"], float(node["threshold"])))
            walk(node["left_child"])
            walk(node["right_child"])

    for tree in booster.dump_model()["tree_info"]:
        walk(tree["tree_structure"])
    rng = np.random.default_rng(1)
    rows = [X.copy()]
    for f, t in cuts:
        for value in (t, math.nextafter(t, -math.inf), math.nextafter(t, math.inf)):
            row = X[rng.integers(len(X))].copy()
            row[f] = value
            rows.append(row[None, :])
    holes = X[:200].copy()
    holes[rng.random(holes.shape) < 0.5] = np.nan
    tiny = X[:200].copy()
    near_zero = np.array([0.0, -0.0, KZERO, -KZERO, 1e-35, -1e-35, 1e-36, math.nextafter(KZERO, 1.0),
                          -math.nextafter(KZERO, 1.0)])
    mask = rng.random(tiny.shape) < 0.5
    tiny[mask] = rng.choice(near_zero, size=int(mask.sum()))
    codes = np.repeat(X[:20], 12, axis=0)
    codes[:, 3] = np.tile([-1.0, -0.5, 0.0, 0.5, 1.0, 2.0, 3.0, 4.0, 5.9, 6.0, 7.0, 1e10], 20)
    return np.vstack([*rows, holes, tiny, codes])


def _served(module: ModuleType, model: Any, X: np.ndarray) -> None:
    """The handler's predictor gives LightGBM's labels, raw scores and probabilities bit for bit."""
    _same_answers(module.MODEL.predictor, model, X)


def _same_answers(predictor: Any, model: Any, X: np.ndarray) -> None:
    rows = X.tolist()
    outputs, probas = predictor.predict(rows)
    if predictor.task == "regression":
        assert outputs == model.predict(X).tolist()  # bit for bit, not approximately
        return
    classes = list(getattr(model, "classes_", range(len(probas[0]))))
    expected_proba = model.predict_proba(X) if hasattr(model, "predict_proba") else None
    assert [classes[i] for i in outputs] == model.predict(X).tolist()
    assert probas == expected_proba.tolist()
    raw = np.array([predictor.raw(r) for r in rows])
    assert raw.reshape(len(rows), -1).tolist() == np.asarray(model.decision_function(X)).reshape(len(rows), -1).tolist()


def _proven(model_dir: Path) -> dict:
    build = predictor_build(model_dir)
    assert build.report.serving == "predictor", build.report.reason
    claim = dict(build.report.claim or {})
    assert claim["exact"], claim
    return dict(build.report.verification)


X5, SIGNAL = _data()
BINARY = _labels(SIGNAL, 2)


def _cases() -> dict[str, tuple[Callable[[], Any], Any]]:
    """name -> (estimator factory, target): every objective and boosting type the predictor covers."""
    regression = SIGNAL + 1.0
    positive = np.exp(SIGNAL / 3)
    share = 1.0 / (1.0 + np.exp(-SIGNAL))
    small = {"n_estimators": 15, "num_leaves": 8, "verbose": -1, "min_child_samples": 5}
    return {
        "binary": (lambda: lgb.LGBMClassifier(**small), BINARY),
        "binary_sigmoid": (lambda: lgb.LGBMClassifier(objective="binary", sigmoid=0.7, **small), BINARY),
        "multiclass": (lambda: lgb.LGBMClassifier(**small), _labels(SIGNAL, 4)),
        "multiclassova": (lambda: lgb.LGBMClassifier(objective="multiclassova", **small), _labels(SIGNAL, 3)),
        "binary_xentropy": (lambda: lgb.LGBMClassifier(objective="cross_entropy", **small), BINARY),
        "dart": (lambda: lgb.LGBMClassifier(boosting_type="dart", **small), BINARY),
        "goss": (lambda: lgb.LGBMClassifier(data_sample_strategy="goss", **small), _labels(SIGNAL, 3)),
        "rf_binary": (lambda: lgb.LGBMClassifier(boosting_type="rf", bagging_freq=1, bagging_fraction=0.6,
                                                 **small), BINARY),
        "rf_multiclass": (lambda: lgb.LGBMClassifier(boosting_type="rf", bagging_freq=1, bagging_fraction=0.6,
                                                     **small), _labels(SIGNAL, 3)),
        "regression": (lambda: lgb.LGBMRegressor(**small), regression),
        "regression_l1": (lambda: lgb.LGBMRegressor(objective="l1", **small), regression),
        "huber": (lambda: lgb.LGBMRegressor(objective="huber", **small), regression),
        "fair": (lambda: lgb.LGBMRegressor(objective="fair", **small), regression),
        "quantile": (lambda: lgb.LGBMRegressor(objective="quantile", alpha=0.8, **small), regression),
        "mape": (lambda: lgb.LGBMRegressor(objective="mape", **small), regression),
        "sqrt": (lambda: lgb.LGBMRegressor(reg_sqrt=True, **small), regression),
        "poisson": (lambda: lgb.LGBMRegressor(objective="poisson", **small), positive),
        "gamma": (lambda: lgb.LGBMRegressor(objective="gamma", **small), positive),
        "tweedie": (lambda: lgb.LGBMRegressor(objective="tweedie", **small), positive),
        "xentropy": (lambda: lgb.LGBMRegressor(objective="cross_entropy", **small), share),
        "xentlambda": (lambda: lgb.LGBMRegressor(objective="cross_entropy_lambda", **small), share),
        "rf_regression": (lambda: lgb.LGBMRegressor(boosting_type="rf", bagging_freq=1, bagging_fraction=0.6,
                                                    **small), regression),
        "zero_as_missing": (lambda: lgb.LGBMRegressor(zero_as_missing=True, **small), regression),
        "no_missing": (lambda: lgb.LGBMClassifier(use_missing=False, **small), BINARY),
    }


CASES = _cases() if lgb is not None else {}


@pytest.mark.parametrize("name", sorted(CASES))
def test_every_covered_lightgbm_kind_is_proven_and_answers_bit_for_bit(name: str, tmp_path: Path) -> None:
    factory, y = CASES[name]
    model = factory().fit(X5, y, categorical_feature=[3])
    model_dir = _imported(model, tmp_path, name)
    reply = _compile(model_dir, tmp_path)  # package's compiler and proof, here in LightGBM's own process
    assert reply["ok"], reply
    report = reply["report"]
    assert report["unreachable_leaves"] == 0 and report["leaves"] >= report["trees"]
    assert report["predict"] == "identical"  # a regressor's identical values are its scores
    assert report.get("scores", {"claim": "bit-identical"}) == {"claim": "bit-identical"}
    assert report.get("probabilities", {"claim": "bit-identical"}) == {"claim": "bit-identical"}
    from lambdapack_runtime import predictor

    _same_answers(predictor.load(str(tmp_path / "p")), model, _probe_rows(X5, model))


@pytest.mark.parametrize("name", ["binary", "multiclass", "zero_as_missing"])
def test_packaged_lightgbm_models_are_served_by_the_handlers_predictor(name: str, tmp_path: Path,
                                                                       load_handler: LoadHandler) -> None:
    factory, y = CASES[name]
    model = factory().fit(X5, y, categorical_feature=[3])
    model_dir = _imported(model, tmp_path, name)
    report = _proven(model_dir)
    assert report["unreachable_leaves"] == 0
    module = load_handler(model_dir)
    _served(module, model, _probe_rows(X5, model))
    answer = module.lambda_handler({"a": None, "b": 1e-36, "c": 0.5, "d": 4, "e": -2.0}, None)
    expected = model.predict(np.array([[np.nan, 1e-36, 0.5, 4.0, -2.0]]))[0]
    assert answer == {"statusCode": 200, "body": json.dumps(expected.item())}


def test_early_stopping_serves_the_best_iteration(tmp_path: Path, load_handler: LoadHandler) -> None:
    model = lgb.LGBMClassifier(n_estimators=200, learning_rate=0.3, num_leaves=8, verbose=-1)
    model.fit(X5[:600], BINARY[:600], eval_X=X5[600:], eval_y=BINARY[600:],
              callbacks=[lgb.early_stopping(3, verbose=False)])
    assert 0 < model.best_iteration_ < 200
    model_dir = _imported(model, tmp_path, "early")
    assert _proven(model_dir)["trees"] == model.best_iteration_
    _served(load_handler(model_dir), model, _probe_rows(X5, model))


def test_a_native_text_model_is_imported_proven_and_served_on_both_paths(tmp_path: Path,
                                                                         load_handler: LoadHandler) -> None:
    booster = lgb.train({"objective": "multiclass", "num_class": 3, "num_leaves": 8, "verbose": -1},
                        lgb.Dataset(X5, _labels(SIGNAL, 3), feature_name=list("abcde"), categorical_feature=[3]), 12)
    model_dir = _imported(booster, tmp_path, "native", features=None)
    manifest = json.loads((model_dir / "model.json").read_text())
    assert manifest["estimator"]["class"] == "lightgbm.Booster" and manifest["task"] == "classification"
    assert [f["name"] for f in manifest["features"]] == list("abcde") and manifest["versions"]["lightgbm"]
    _proven(model_dir)
    rows = _probe_rows(X5, booster)
    adapted = joblib.load(model_dir / "model.joblib")
    from lambdapack_runtime.adapters import adapt

    served = load_handler(model_dir)
    _served(served, adapt(adapted), rows)
    estimator_path = load_handler(model_dir, env={"LAMBDAPACK_PREDICTOR": "0"})
    assert estimator_path.MODEL.serving == "joblib"
    event = {"instances": [[None if v != v else v for v in row] for row in rows[:40].tolist()]}
    by_estimator = json.loads(estimator_path.lambda_handler(event, None)["body"])
    by_predictor = json.loads(served.lambda_handler(event, None)["body"])
    assert by_estimator == by_predictor


def test_pandas_category_inputs_are_coded_as_lightgbm_codes_them(tmp_path: Path, load_handler: LoadHandler) -> None:
    rng = np.random.default_rng(3)
    n = 1200
    frame = pd.DataFrame({"age": rng.normal(40, 10, n),
                          "city": pd.Categorical(rng.choice(["paris", "lyon", "nice", "lille", "brest"], n)),
                          "size": pd.Categorical(rng.choice([1, 3, 5, 7], n))})
    frame.loc[rng.random(n) < 0.1, "age"] = np.nan
    frame.loc[rng.random(n) < 0.1, "city"] = np.nan
    y = (frame.city.isin(["paris", "nice"]) ^ (frame.age.fillna(0) > 40) ^ (frame["size"].astype(float) > 3))
    model = lgb.LGBMClassifier(n_estimators=20, num_leaves=8, verbose=-1).fit(frame, y.astype(int))
    model_dir = _imported(model, tmp_path, "frame", features=None)
    manifest = json.loads((model_dir / "model.json").read_text())
    assert manifest["input_frame"] == "pandas_categorical"
    city = manifest["features"][1]
    assert (city["type"], city["categories"], city["unknown"], city["nullable"]) == (
        "category", ["brest", "lille", "lyon", "nice", "paris"], "accept", True)
    report = _proven(model_dir)
    assert report["transforms"] == "bit-identical"
    module = load_handler(model_dir)
    rows = [[age, city, size] for age in (np.nan, 30.0, 45.0) for city in ["paris", "lyon", "brest", "rome", None]
            for size in (1, 3, 7, 9, None)]
    from lambdapack_runtime.frames import estimator_input
    from lambdapack_runtime.inputs import Inputs

    test = estimator_input(rows, Inputs(manifest["features"]).fields, "pandas_categorical")  # as the handler asks
    assert test["city"].isna().sum() == 3 * 5 * 2  # "rome" and None: missing to LightGBM
    outputs, probas = module.MODEL.predictor.predict(rows)
    assert [bool(model.classes_[i]) for i in outputs] == model.predict(test).tolist()
    assert probas == model.predict_proba(test).tolist()
    answer = module.lambda_handler({"age": 41.0, "city": "rome", "size": None}, None)
    assert answer["statusCode"] == 200


def test_lightgbm_in_a_pipeline(tmp_path: Path, load_handler: LoadHandler) -> None:
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    model = make_pipeline(StandardScaler(), lgb.LGBMRegressor(n_estimators=10, num_leaves=8, verbose=-1))
    X = np.nan_to_num(X5)
    model.fit(X, SIGNAL)
    model_dir = _imported(model, tmp_path, "pipe")
    assert _proven(model_dir)["transforms"] == "bit-identical"
    rows = X[:100].tolist()
    assert load_handler(model_dir).MODEL.predictor.predict(rows)[0] == model.predict(X[:100]).tolist()


def _compile(model_dir: Path, tmp_path: Path) -> dict:
    from lambdapack.predictor.compiler import entry

    features = json.loads((model_dir / "model.json").read_text())["features"]
    return entry.compile_and_reply({"model": str(model_dir / "model.joblib"), "out": str(tmp_path / "p"),
                                    "max_nodes": 10**6, "features": features, "typed": True})


def _binary_model(tmp_path: Path, name: str = "m", **params: Any) -> tuple[Any, Path]:
    model = lgb.LGBMClassifier(n_estimators=8, num_leaves=8, verbose=-1, **params).fit(X5, BINARY,
                                                                                       categorical_feature=[3])
    return model, _imported(model, tmp_path, name)


@pytest.mark.parametrize(("part", "caught"), [
    ("zero_threshold", "disagrees with predict()"),  # thresholds at -kZero compared as written
    ("none_missing", "disagrees with predict()"),  # NaN sent the default way where LightGBM reads it as 0.0
    ("categories", "disagrees with predict()"),  # one category left out of a split's set
])
def test_the_proof_catches_each_lightgbm_rule_left_out(part: str, caught: str, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    from lambdapack.predictor.compiler import lightgbm as front

    rng = np.random.default_rng(1)
    X = rng.normal(size=(3000, 4))
    X[rng.random(3000) < 0.3, 0] = 0.0
    X[rng.random(3000) < 0.2, 1] = np.nan
    X[:, 3] = rng.integers(0, 6, size=3000)
    y = ((X[:, 0] < 0) ^ (np.nan_to_num(X[:, 1]) > 0.3) ^ np.isin(X[:, 3], [0, 2])).astype(int)
    model = lgb.LGBMClassifier(n_estimators=20, num_leaves=8, verbose=-1, use_missing=False)
    model.fit(X, y, categorical_feature=[3])
    model_dir = _imported(model, tmp_path, part, features="a,b,c,d")
    assert _compile(model_dir, tmp_path)["ok"]
    numerical, category_set = front._Forest._numerical, front._Forest.category_set
    if part == "zero_threshold":
        monkeypatch.setattr(front._Forest, "_numerical",
                            lambda self, f, node: (float(node["threshold"]), numerical(self, f, node)[1]))
    elif part == "none_missing":
        monkeypatch.setattr(front._Forest, "_numerical",
                            lambda self, f, node: (numerical(self, f, node)[0], int(bool(node["default_left"]))))
    else:
        monkeypatch.setattr(front._Forest, "category_set", lambda self, members: category_set(self, members[1:]))
    reply = _compile(model_dir, tmp_path)
    assert reply["ok"] is False and caught in reply["message"], reply


def _dumped(monkeypatch: pytest.MonkeyPatch, change: Callable[[dict], None]) -> None:
    real = lgb.Booster.dump_model

    def dump_model(self: Any, *args: Any, **kwargs: Any) -> dict:
        dump = real(self, *args, **kwargs)
        change(dump)
        return dump

    monkeypatch.setattr(lgb.Booster, "dump_model", dump_model)


def _first_split(dump: dict) -> dict:
    return next(t["tree_structure"] for t in dump["tree_info"] if "split_feature" in t["tree_structure"])


def _set_leaf(dump: dict, **fields: Any) -> None:
    node = _first_split(dump)
    while "split_feature" in node:
        node = node["left_child"]
    node.update(fields)


REFUSALS: dict[str, tuple[Callable[[dict], None], str]] = {
    "newer format": (lambda d: d.update(version="v5"), "model format 'v5' is newer than LightGBM"),
    "ranking": (lambda d: d.update(objective="lambdarank"), "ranks rows"),
    "custom objective": (lambda d: d.pop("objective"), "a custom objective"),
    "unknown objective": (lambda d: d.update(objective="surprise"), "'surprise' has no output transform"),
    "linear trees": (lambda d: _set_leaf(d, leaf_const=0.5, leaf_coeff=[1.0], leaf_features=[0]), "linear trees"),
    "capped leaf": (lambda d: _set_leaf(d, leaf_value=1e300), "beyond ±1e300"),
    "feature out of range": (lambda d: _first_split(d).update(split_feature=9), "tests feature 9 of 5"),
    "comparison": (lambda d: _first_split(d).update(decision_type="<"), "compares with '<'"),
    "missing type": (lambda d: _first_split(d).update(missing_type="Maybe"), "missing type 'Maybe'"),
    "tree count": (lambda d: d.update(num_tree_per_iteration=3), "trees for 3 per iteration"),
}


@pytest.mark.parametrize("case", sorted(REFUSALS))
def test_lightgbm_models_outside_the_predictor_say_why(case: str, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    _, model_dir = _binary_model(tmp_path)
    change, reason = REFUSALS[case]
    _dumped(monkeypatch, change)
    reply = _compile(model_dir, tmp_path)
    assert reply["ok"] is False and reply["kind"] == "unsupported"
    assert reason in reply["message"], reply["message"]


def test_one_feature_with_zero_and_nan_as_missing_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _, model_dir = _binary_model(tmp_path)

    def mixed(dump: dict) -> None:
        kinds = iter(("Zero", "NaN") * 1000)

        def visit(node: dict) -> None:
            if node.get("decision_type") == "<=" and node["split_feature"] == 0:
                node["missing_type"] = next(kinds)
            for side in ("left_child", "right_child"):
                if side in node:
                    visit(node[side])

        for tree in dump["tree_info"]:
            visit(tree["tree_structure"])

    _dumped(monkeypatch, mixed)
    reply = _compile(model_dir, tmp_path)
    assert reply["ok"] is False and "treats zero as missing at some splits and NaN at others" in reply["message"]


def test_a_linear_tree_model_keeps_the_estimator(tmp_path: Path) -> None:
    model = lgb.LGBMRegressor(n_estimators=5, linear_tree=True, verbose=-1).fit(np.nan_to_num(X5), SIGNAL)
    build = build_predictor(_imported(model, tmp_path, "linear") / "model.joblib", load_manifest(tmp_path / "linear"))
    assert build.report.serving == "joblib" and "linear trees" in build.report.reason


def test_pandas_categories_that_cannot_be_matched_to_inputs_keep_the_estimator(tmp_path: Path) -> None:
    rng = np.random.default_rng(4)
    frame = pd.DataFrame({"grade": pd.Categorical(rng.choice(["a", "b", "c"], 300), ordered=True),
                          "x": rng.normal(size=300)})
    model = lgb.LGBMRegressor(n_estimators=5, num_leaves=4, verbose=-1, min_child_samples=5)
    model.fit(frame, rng.normal(size=300) + (frame.grade == "b"))
    build = build_predictor(_imported(model, tmp_path, "ordered", features=None) / "model.joblib",
                            load_manifest(tmp_path / "ordered"))
    assert build.report.serving == "joblib"
    assert "pandas category columns but splits 0 features as categories" in build.report.reason


# -- model import of a text model ------------------------------------------------------------


def _text_model(tmp_path: Path) -> str:
    booster = lgb.train({"objective": "binary", "num_leaves": 8, "verbose": -1}, lgb.Dataset(X5, BINARY), 5)
    return booster.model_to_string()


@pytest.mark.parametrize(("damage", "message"), [
    (lambda s: s[: s.index("Tree=2") + 40], "is truncated: a LightGBM text model ends its trees"),
    (lambda s: s[: s.index("end of parameters") - 10], "truncated in its parameters section"),
    (lambda s: s[: s.index("pandas_categorical:") + 22], "truncated in its pandas_categorical line"),
    (lambda s: s.replace("version=v4", "version=v9"), "was saved by a newer LightGBM (model format v9"),
    (lambda s: s.replace("version=v4\n", ""), "without a model format version"),
    (lambda s: s.replace("Tree=1\n", "Tree=1\nextra=1\n"), "its trees do not have the sizes its header announces"),
    (lambda s: "a,b,c\n1,2,3\n", "is not a LightGBM text model (it begins 'a,b,c'"),
])
def test_a_damaged_or_foreign_text_model_is_one_error_with_a_hint(damage: Callable[[str], str], message: str,
                                                                  tmp_path: Path) -> None:
    path = tmp_path / "model.txt"
    path.write_text(damage(_text_model(tmp_path)))
    with pytest.raises(ModelError) as info:
        import_model(path, features="a,b,c,d,e", out=tmp_path / "out")
    assert message in info.value.message, info.value.message
    assert info.value.hint and not (tmp_path / "out").exists()


def test_a_text_model_that_crashes_lightgbms_reader_is_an_error_here(tmp_path: Path) -> None:
    text = _text_model(tmp_path)
    start = text.index("Tree=1\n")
    line = text.index("leaf_value=", start)
    broken = text[:line] + "leaf_value=1\n" + text[text.index("\n", line) + 1:]
    broken = broken.replace(text.split("tree_sizes=")[1].split("\n")[0], " ".join(
        str(len(block)) for block in _blocks(broken)))
    path = tmp_path / "model.txt"
    path.write_text(broken)
    with pytest.raises(ModelError, match="LightGBM cannot read") as info:
        import_model(path, features="a,b,c,d,e", out=tmp_path / "out")
    assert info.value.hint


def _blocks(text: str) -> list[str]:
    body = text[text.index("Tree=0\n"): text.index("end of trees\n")]
    starts = [i for i in range(len(body)) if body.startswith("Tree=", i) and (i == 0 or body[i - 1] == "\n")]
    return [body[a:b] for a, b in zip(starts, [*starts[1:], len(body)], strict=True)]


def test_a_text_model_is_claimed_by_its_content_whatever_its_name(tmp_path: Path) -> None:
    path = tmp_path / "model.bin"
    path.write_text(_text_model(tmp_path))
    report = import_model(path, features="a,b,c,d,e", out=tmp_path / "out")
    assert report.estimator_class == "lightgbm.Booster" and report.task == "classification"


def test_a_ranking_text_model_is_refused_at_import(tmp_path: Path) -> None:
    booster = lgb.train({"objective": "lambdarank", "num_leaves": 4, "verbose": -1, "min_data_in_leaf": 5},
                        lgb.Dataset(X5, np.minimum(BINARY * 2, 3), group=[100] * 8), 3)
    path = tmp_path / "rank.txt"
    booster.save_model(str(path))
    with pytest.raises(ModelError, match=r"objective \(lambdarank\) neither classifies nor regresses"):
        import_model(path, features="a,b,c,d,e", out=tmp_path / "out")


def test_the_lightgbm_output_transforms_repeat_lightgbms_arithmetic() -> None:
    from lambdapack.predictor.compiler.lightgbm import atof

    # LightGBM's own reader of "sigmoid:2.3": the fraction as an integer over a power of ten
    assert atof("2.3") == 2.0 + 3.0 / 10.0 and atof("1") == 1.0 and atof("-0.125e2") == -12.5
    assert atof("1.23457") == 1.0 + 23457.0 / 100000.0
    from lambdapack_runtime.links import lightgbm_output

    convert = lightgbm_output({"transform": "exp", "average": 4})
    assert convert([800.0]) == [math.exp(200.0)] and lightgbm_output({"transform": "exp"})([800.0]) == [math.inf]
    assert lightgbm_output({"transform": "sigmoid", "sigmoid": 1.0})([-800.0]) == [0.0]
    assert lightgbm_output({"transform": "sqrt"})([-3.0, -0.0]) == [-9.0, 0.0]
