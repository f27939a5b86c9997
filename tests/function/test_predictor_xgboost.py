"""XGBoost served by the stdlib predictor with no layer: proven in XGBoost itself, bit for bit where it is."""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import joblib
import numpy as np
import pytest
from function_support import _BUILDS, function_files

from lambdapack.errors import ModelError
from lambdapack.model.importer import import_model
from lambdapack.model.manifest import load_manifest
from lambdapack.predictor.build import build_predictor
from lambdapack.template_files import template_path

try:
    import pandas as pd
    import xgboost as xgb
except ImportError:  # pragma: no cover - the test extra installs both
    pd = xgb = None

LoadHandler = Callable[..., ModuleType]
NAMES = ["a", "b", "c"]
COLOURS = ["red", "green", "blue", "grey"]


@pytest.fixture(autouse=True)
def _xgboost_here(cannot_run: Callable[[str], Any], monkeypatch: pytest.MonkeyPatch) -> None:
    if xgb is None or pd is None:
        cannot_run("xgboost and pandas are needed (pip install -e '.[test]' installs xgboost-cpu and pandas)")
    monkeypatch.syspath_prepend(str(template_path("lambdapack_runtime").parent))


def _frame(n: int, seed: int, missing: float = 0.2) -> Any:
    rng = np.random.default_rng(seed)
    df = pd.DataFrame({"a": rng.normal(size=n), "b": rng.normal(size=n) * 10,
                       "c": pd.Categorical(rng.choice(COLOURS, size=n), categories=COLOURS)})
    df.loc[rng.random(n) < missing, "a"] = np.nan
    df.loc[rng.random(n) < missing / 2, "c"] = np.nan
    return df


TRAIN = None


def _data() -> tuple[Any, Any, Any, Any]:
    global TRAIN
    if TRAIN is None:
        df = _frame(600, 0)
        noise = np.random.default_rng(1).normal(size=len(df)) * 0.3
        score = df.a.fillna(0.3) + (df.c == "red") * 1.0 - (df.c == "blue") * 0.7 + df.b / 20 + noise
        TRAIN = df, (score > 0.2).astype(int), np.digitize(score, [-0.3, 0.6]), np.abs(df.b) + 1 + noise
    return TRAIN


def _fit(kind: str) -> Any:
    df, binary, three, positive = _data()
    small = {"n_estimators": 12, "max_depth": 4, "enable_categorical": True, "max_cat_to_onehot": 1}
    fits = {
        "binary": lambda: xgb.XGBClassifier(**small).fit(df, binary),
        "onehot_splits": lambda: xgb.XGBClassifier(**dict(small, max_cat_to_onehot=8)).fit(df, binary),
        "multiclass": lambda: xgb.XGBClassifier(**small).fit(df, three),
        "softmax": lambda: xgb.XGBClassifier(**small, objective="multi:softmax").fit(df, three),
        "logitraw": lambda: xgb.XGBClassifier(**small, objective="binary:logitraw").fit(df, binary),
        "hinge": lambda: xgb.XGBClassifier(**small, objective="binary:hinge").fit(df, binary),
        "dart": lambda: xgb.XGBClassifier(**small, booster="dart", rate_drop=0.3).fit(df, binary),
        "dart_multiclass": lambda: xgb.XGBClassifier(**small, booster="dart", rate_drop=0.3).fit(df, three),
        "random_forest": lambda: xgb.XGBRFClassifier(n_estimators=8, max_depth=4, enable_categorical=True).fit(
            df, binary),
        "random_forest_regressor": lambda: xgb.XGBRFRegressor(n_estimators=8, max_depth=4,
                                                              enable_categorical=True).fit(df, positive),
        "early_stopping": lambda: xgb.XGBClassifier(**dict(small, n_estimators=300), learning_rate=0.6,
                                                    early_stopping_rounds=2).fit(
            df[:400], binary[:400], eval_set=[(df[400:], binary[400:])], verbose=False),
        "lossguide": lambda: xgb.XGBClassifier(**dict(small, max_depth=0), grow_policy="lossguide", max_leaves=12,
                                               gamma=0.5).fit(df, binary),
        "numbers_only": lambda: xgb.XGBClassifier(n_estimators=12, max_depth=4).fit(df[["a", "b"]].to_numpy(),
                                                                                     binary),
        "squarederror": lambda: xgb.XGBRegressor(**small).fit(df, positive),
        "absoluteerror": lambda: xgb.XGBRegressor(**small, objective="reg:absoluteerror").fit(df, positive),
        "pseudohubererror": lambda: xgb.XGBRegressor(**small, objective="reg:pseudohubererror", huber_slope=5.0).fit(
            df, positive),
        "quantileerror": lambda: xgb.XGBRegressor(**small, objective="reg:quantileerror", quantile_alpha=0.3).fit(
            df, positive),
        "logistic_regression": lambda: xgb.XGBRegressor(**small, objective="reg:logistic").fit(df, binary * 0.8 + .1),
        "poisson": lambda: xgb.XGBRegressor(**small, objective="count:poisson").fit(df, positive),
        "gamma": lambda: xgb.XGBRegressor(**small, objective="reg:gamma").fit(df, positive),
        "tweedie": lambda: xgb.XGBRegressor(**small, objective="reg:tweedie").fit(df, positive),
    }
    return fits[kind]()


def _built(model_dir: Path) -> Any:
    """``package``'s predictor build for ``model_dir``, made once: the handler loaded next serves it."""
    function_files(model_dir)
    return _BUILDS[(str(model_dir), load_manifest(model_dir).model.sha256)]


def _imported(est: Any, tmp_path: Path, name: str, features: str | None = None) -> Path:
    joblib.dump(est, tmp_path / f"{name}.joblib")
    return import_model(tmp_path / f"{name}.joblib", features=features, out=tmp_path / name).out


def _probe_frame(names: list[str]) -> Any:
    """Training-like rows, rows half missing, and every category with every missing pattern."""
    df = pd.concat([_data()[0], _frame(300, 7, missing=0.5)], ignore_index=True)
    return df[names]


def _rows(df: Any) -> list[list]:
    rows = []
    for record in df.itertuples(index=False):
        rows.append([None if (isinstance(v, float) and math.isnan(v)) and name == "c" else v
                     for name, v in zip(df.columns, record, strict=True)])
    return rows


def _answers_like_xgboost(module: ModuleType, est: Any, df: Any, bound_ulps: int = 0) -> None:
    """The handler's predictor answers XGBoost's predict and predict_proba: bit for bit unless bound_ulps."""
    model = module.MODEL
    assert model.serving == "predictor"
    outputs, probas = model.predictor.predict(_rows(df))
    expected = est.predict(df)
    if model.task == "regression":
        assert outputs == [float(v) for v in expected]
        return
    assert outputs == [int(v) for v in expected]
    reference = est.predict_proba(df)
    if bound_ulps:
        np.testing.assert_array_max_ulp(np.array(probas, dtype=np.float32), reference, maxulp=bound_ulps)
    else:
        assert probas == reference.tolist()


COVERED = ["binary", "onehot_splits", "multiclass", "softmax", "logitraw", "hinge", "dart", "dart_multiclass",
           "random_forest", "random_forest_regressor", "early_stopping", "lossguide", "squarederror",
           "absoluteerror", "pseudohubererror", "quantileerror", "logistic_regression", "poisson", "gamma", "tweedie"]


@pytest.mark.parametrize("kind", COVERED)
def test_every_covered_xgboost_model_is_proven_and_served_bit_for_bit(kind: str, tmp_path: Path,
                                                                      load_handler: LoadHandler) -> None:
    est = _fit(kind)
    model_dir = _imported(est, tmp_path, kind)
    build = _built(model_dir)
    assert build.report.serving == "predictor", build.report.reason
    report = build.report.verification
    assert report["unreachable_leaves"] == 0 and report["missing_nodes"] > report["missing_unreached"]
    assert report["scores"]["margins"] == "bit-identical"
    exact = kind != "softmax"  # multi:softmax's predict_proba is scipy's softmax: numpy's own float32 exp
    assert build.report.claim["exact"] is exact, build.report.claim
    module = load_handler(model_dir)
    df = _probe_frame(NAMES)
    _answers_like_xgboost(module, est, df, bound_ulps=0 if exact else 4)


def test_the_margins_are_xgboost_s_own_bit_for_bit(tmp_path: Path, load_handler: LoadHandler) -> None:
    est = _fit("multiclass")
    module = load_handler(_imported(est, tmp_path, "m"))
    df = _probe_frame(NAMES)
    raw = [module.MODEL.predictor.raw(row) for row in _rows(df)]
    assert raw == est.predict(df, output_margin=True).tolist()


def test_a_model_fitted_on_an_array_takes_numbers_and_missing_values(tmp_path: Path,
                                                                     load_handler: LoadHandler) -> None:
    est = _fit("numbers_only")
    model_dir = _imported(est, tmp_path, "numbers", features="a,b")
    features = load_manifest(model_dir).features
    assert [(f.name, f.type, f.nullable) for f in features] == [("a", "number", True), ("b", "number", True)]
    module = load_handler(model_dir)
    X = _probe_frame(["a", "b"]).to_numpy()
    outputs, probas = module.MODEL.predictor.predict(X.tolist())
    assert outputs == est.predict(X).tolist() and probas == est.predict_proba(X).tolist()


def test_a_category_is_typed_with_the_model_s_own_categories(tmp_path: Path, load_handler: LoadHandler) -> None:
    model_dir = _imported(_fit("binary"), tmp_path, "typed")
    manifest = json.loads((model_dir / "model.json").read_text())
    assert manifest["input_frame"] == "pandas_categorical"
    assert manifest["features"][2] == {"name": "c", "alias": None, "type": "category", "nullable": True,
                                       "categories": COLOURS, "unknown": "accept"}
    assert manifest["versions"]["xgboost"] == xgb.__version__
    module = load_handler(model_dir)
    est = joblib.load(model_dir / "model.joblib")
    unseen = module.lambda_handler({"a": 0.1, "b": 3.0, "c": "violet"}, None)  # XGBoost: an unknown is missing
    missing = module.lambda_handler({"a": 0.1, "b": 3.0, "c": None}, None)
    assert unseen == missing == {"statusCode": 200, "body": str(est.predict(
        pd.DataFrame({"a": [0.1], "b": [3.0], "c": pd.Categorical([None], categories=COLOURS)}))[0])}


# ---------------------------------------------------------------------------------------------
# Native model files: model import of .json / .ubj, served by the predictor and by the estimator


@pytest.mark.parametrize("suffix", [".json", ".ubj"])
def test_a_native_model_file_is_imported_proven_and_served_both_ways(suffix: str, tmp_path: Path,
                                                                     load_handler: LoadHandler) -> None:
    est = _fit("early_stopping")
    path = tmp_path / f"model{suffix}"
    est.get_booster().save_model(path)
    model_dir = import_model(path, out=tmp_path / "native").out
    manifest = load_manifest(model_dir)
    assert manifest.estimator.class_path == "xgboost.Booster" and manifest.classes == ("0", "1")
    assert manifest.versions["xgboost"] == xgb.__version__ and manifest.input_frame == "pandas_categorical"
    module = load_handler(model_dir)
    df = _probe_frame(NAMES)
    _answers_like_xgboost(module, est, df)  # best_iteration kept: the wrapper's trees, not all of them
    by_estimator = load_handler(model_dir, env={"LAMBDAPACK_PREDICTOR": "0"})
    assert by_estimator.MODEL.serving == "joblib"
    rows = _rows(df)
    assert by_estimator.MODEL.predict(rows) == module.MODEL.predict(rows)


@pytest.mark.parametrize("kind", ["multiclass", "softmax", "poisson", "hinge"])
def test_the_booster_adapter_answers_like_the_scikit_learn_wrapper(kind: str) -> None:
    from lambdapack_runtime.adapters import adapt

    est = _fit(kind)
    adapted = adapt(est.get_booster())
    assert type(adapted).adapts == "xgboost.Booster"
    df = _probe_frame(NAMES)
    assert np.array_equal(adapted.predict(df), est.predict(df))
    assert np.array_equal(adapted.predict(df, output_margin=True), est.predict(df, output_margin=True))
    if hasattr(est, "classes_"):
        assert np.array_equal(adapted.classes_, est.classes_)
        assert np.array_equal(adapted.predict_proba(df), est.predict_proba(df))
    else:
        assert not hasattr(adapted, "classes_")


def _with_booster(data: bytes, name: str) -> bytes:
    document = json.loads(data)
    document["learner"]["gradient_booster"]["name"] = name
    return json.dumps(document).encode()


def _saved(tmp_path: Path, suffix: str = ".json") -> tuple[Path, bytes]:
    path = tmp_path / f"model{suffix}"
    _fit("binary").get_booster().save_model(path)
    return path, path.read_bytes()


@pytest.mark.parametrize(("suffix", "damage", "message"), [
    (".json", lambda b: b[: len(b) // 2], r"is truncated or not JSON \(.* at byte \d+\)"),
    (".ubj", lambda b: b[: len(b) // 2], "is truncated or not UBJSON"),
    (".ubj", lambda b: b[:-1], "is truncated or not UBJSON"),
    (".ubj", lambda b: b + b"{}", r"is not an XGBoost model \(2 bytes after the end\)"),
    (".ubj", lambda b: b"\x00" + b[1:], r"is not an XGBoost model \(an unknown marker"),
    (".json", lambda b: json.dumps({"schema": "lambdapack.model/2"}).encode(), "lambdapack's model manifest"),
    (".json", lambda b: b"[1, 2, 3]", "no XGBoost learner in it"),
    (".json", lambda b: _with_booster(b, "nonsense"), "XGBoost cannot read"),
])
def test_a_truncated_or_foreign_model_file_is_one_error_with_a_hint(suffix: str, damage: Callable[[bytes], bytes],
                                                                    message: str, tmp_path: Path) -> None:
    path, data = _saved(tmp_path, suffix)
    path.write_bytes(damage(data))
    with pytest.raises(ModelError, match=message) as info:
        import_model(path, out=tmp_path / "out")
    assert "\n" not in info.value.message and "Booster.save_model" in info.value.hint
    assert not (tmp_path / "out").exists()


def test_every_truncation_of_a_ubj_model_is_refused_before_xgboost_reads_it(tmp_path: Path) -> None:
    from lambdapack.model.native_xgboost import read_document

    path, data = _saved(tmp_path, ".ubj")
    assert read_document(path, data)["version"] == [int(p) for p in xgb.__version__.split(".")[:3]]
    for cut in range(0, len(data), max(1, len(data) // 400)):
        with pytest.raises(ModelError, match="truncated"):
            read_document(path, data[:cut])


def test_a_model_saved_by_a_newer_xgboost_is_refused(tmp_path: Path) -> None:
    path, data = _saved(tmp_path)
    document = json.loads(data)
    document["version"] = [99, 1, 0]
    path.write_text(json.dumps(document))
    with pytest.raises(ModelError, match=r"saved by XGBoost 99\.1\.0, newer than this environment's") as info:
        import_model(path, out=tmp_path / "out")
    assert "xgboost-cpu==99.1.0" in info.value.hint


def test_a_native_file_without_xgboost_installed_says_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path, _ = _saved(tmp_path)
    monkeypatch.setitem(sys.modules, "xgboost", None)  # import xgboost raises ImportError
    with pytest.raises(ModelError, match="XGBoost is not installed here") as info:
        import_model(path, out=tmp_path / "out")
    assert "pip install xgboost-cpu" in info.value.hint


# ---------------------------------------------------------------------------------------------
# What stays on the estimator path, and why


def _reason(est: Any, tmp_path: Path, features: str | None = None) -> str:
    model_dir = _imported(est, tmp_path, "other", features)
    build = build_predictor(model_dir / "model.joblib", load_manifest(model_dir))
    assert build.report.serving == "joblib" and build.report.reason
    return build.report.reason


def test_uncovered_xgboost_models_keep_the_estimator_path_with_the_reason(tmp_path: Path) -> None:
    df, binary, _, positive = _data()
    numbers = df[["a", "b"]]
    cases = [
        (xgb.XGBRegressor(booster="gblinear", n_estimators=5), numbers, positive, "gblinear (a linear model"),
        (xgb.XGBClassifier(n_estimators=5, missing=-999.0), numbers, binary, "missing-value marker is -999.0"),
        (xgb.XGBRegressor(n_estimators=5), numbers, np.column_stack([positive, -positive]), "multi-output"),
        (xgb.XGBRegressor(n_estimators=5, tree_method="hist", multi_strategy="multi_output_tree"), numbers,
         np.column_stack([positive, -positive]), "multi-output"),
        (xgb.XGBRegressor(n_estimators=5, objective="survival:cox"), numbers, positive, "survival objectives"),
        (xgb.XGBClassifier(n_estimators=5, objective="multi:softprob", num_class=2), numbers, binary,
         "a multi-class objective with two classes"),
    ]
    for i, (est, X, y, reason) in enumerate(cases):
        est.fit(X, y)
        (tmp_path / str(i)).mkdir()
        assert reason in _reason(est, tmp_path / str(i)), reason


def test_categories_the_model_does_not_store_keep_the_estimator_path(tmp_path: Path) -> None:
    df, binary, _, _ = _data()
    codes = np.column_stack([df.a, df.c.cat.codes.replace(-1, np.nan)])
    est = xgb.XGBClassifier(n_estimators=5, enable_categorical=True, feature_types=["q", "c"]).fit(codes, binary)
    assert "its categorical inputs come without their categories" in _reason(est, tmp_path, features="a,c")


def test_the_front_end_names_what_it_cannot_repeat() -> None:
    from lambdapack.predictor.compiler.errors import Unsupported
    from lambdapack.predictor.compiler.xgboost import _output, _Sets, _tree, export

    df, _, _, positive = _data()
    custom = xgb.XGBRegressor(n_estimators=3, objective=lambda y, p: (p - y, np.ones_like(p)))
    with pytest.raises(Unsupported, match="a custom objective"):
        export(custom.fit(df[["a", "b"]], positive), "regression")

    tree = {"tree_param": {"size_leaf_vector": "2"}}
    with pytest.raises(Unsupported, match="multi_output_tree"):
        _tree(tree, _Sets())
    with pytest.raises(Unsupported, match="ranking objectives"):
        _output("rank:ndcg", "regression")
    with pytest.raises(Unsupported, match="a regression objective in a classification model"):
        _output("reg:squarederror", "classification")


def test_a_categorical_input_the_pipeline_transforms_first_is_refused() -> None:
    from lambdapack.predictor.compiler.errors import Unsupported
    from lambdapack.predictor.compiler.lower import Column, Facts
    from lambdapack.predictor.compiler.xgboost import lower_inputs

    est = _fit("binary")
    columns = [Column(0), Column(1), Column(2, "number", lambda v: v * 2.0)]
    with pytest.raises(Unsupported, match="a categorical input that the pipeline's steps transform first"):
        lower_inputs(est, columns, Facts())


# ---------------------------------------------------------------------------------------------
# The proof's teeth, and its bound where expf is not the C library's


def _compile(model_dir: Path) -> dict:
    from lambdapack.predictor.compiler import entry

    manifest = json.loads((model_dir / "model.json").read_text())
    request = {"model": str(model_dir / "model.joblib"), "out": str(model_dir / "p"), "max_nodes": 10**6,
               "features": manifest["features"], "typed": True, "input_frame": manifest["input_frame"]}
    return entry.compile_and_reply(request)


def test_thresholds_not_moved_below_the_split_are_caught(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """XGBoost tests x < split: keeping the split itself for the kernel's <= must disagree on the split rows."""
    from lambdapack.predictor.compiler import xgboost as front_end

    model_dir = _imported(_fit("binary"), tmp_path, "teeth")
    real = front_end._tree

    def at_the_split(tree: dict, sets: Any) -> tuple:
        feature, left, right, threshold, values, missing_left, categorical = real(tree, sets)
        numeric = (left >= 0) & (categorical == 0)
        split = np.nextafter(threshold.astype(np.float32), np.float32(np.inf)).astype(np.float64)
        return feature, left, right, np.where(numeric, split, threshold), values, missing_left, categorical

    monkeypatch.setattr(front_end, "_tree", at_the_split)
    reply = _compile(model_dir)
    assert reply["ok"] is False and "disagrees with predict()" in reply["message"], reply
    assert not (model_dir / "p").exists()


def test_a_baseline_off_by_one_float32_step_is_caught_in_the_margins(tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    from lambdapack.predictor.compiler import xgboost as front_end

    model_dir = _imported(_fit("poisson"), tmp_path, "baseline")
    real = front_end._baseline
    monkeypatch.setattr(front_end, "_baseline", lambda *a: [float(np.nextafter(np.float32(b), np.float32(1)))
                                                            for b in real(*a)])
    reply = _compile(model_dir)
    assert reply["ok"] is False, reply
    assert "raw scores differ from the model's margins" in reply["message"] or "disagrees" in reply["message"]


def test_without_the_c_library_s_expf_the_difference_is_measured_and_bounded(tmp_path: Path,
                                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    from lambdapack_runtime import links

    from lambdapack.predictor.compiler import proof

    model_dir = _imported(_fit("softmax"), tmp_path, "softmax")
    reply = _compile(model_dir)
    assert reply["ok"], reply
    probabilities = reply["report"]["probabilities"]
    assert probabilities["claim"] == "expf" and 0 < probabilities["max_ulps"] <= proof.FLOAT32_EXP_ULPS
    monkeypatch.setattr(proof, "FLOAT32_EXP_ULPS", probabilities["max_ulps"] - 1)
    refused = _compile(model_dir)
    assert refused["ok"] is False and "float32 ulp (bound" in refused["message"], refused
    monkeypatch.undo()
    monkeypatch.syspath_prepend(str(template_path("lambdapack_runtime").parent))
    monkeypatch.setattr(links, "_expf", links._python_expf)  # a C library without expf: exp rounded to float32
    reply = _compile(_imported(_fit("multiclass"), tmp_path, "python_exp"))
    assert reply["ok"], reply
    assert reply["report"]["probabilities"]["claim"] in ("bit-identical", "expf")


def test_xgboost_s_sigmoid_is_repeated_bit_for_bit_over_the_float32_range() -> None:
    """binary:logistic on a million margins (base_margin through trees with zero leaves): every bit the same."""
    from lambdapack_runtime import links

    rng = np.random.default_rng(0)
    X = rng.normal(size=(50, 2))
    zero = xgb.train({"objective": "binary:logistic", "learning_rate": 0.0, "max_depth": 1},
                     xgb.DMatrix(X, label=(X[:, 0] > 0).astype(int)), 1)
    margins = np.concatenate([rng.uniform(-110, 110, 400_000), rng.normal(0, 4, 400_000),
                              rng.uniform(-1e-6, 1e-6, 200_000)]).astype(np.float32)
    expected = zero.predict(xgb.DMatrix(np.zeros((len(margins), 2)), base_margin=margins))
    expf = links.c_expf()
    got = np.array([links.xgb_sigmoid(m, expf) for m in margins.tolist()], dtype=np.float32)
    assert np.array_equal(got.view(np.int32), expected.view(np.int32))
    fallback = np.array([links.xgb_sigmoid(m, links._python_expf) for m in margins[:200_000].tolist()],
                        dtype=np.float32)
    np.testing.assert_array_max_ulp(fallback, expected[:200_000], maxulp=3)
