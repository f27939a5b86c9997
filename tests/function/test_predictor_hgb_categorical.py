"""HistGradientBoosting's native categorical splits in the stdlib predictor: its own encoder, then bitsets.

Categories come through the estimator's preprocessor (an ``OrdinalEncoder``: a category it never
saw, and a missing one, become NaN) and a categorical split sends a code left when its bit is set.
The predictor repeats both, and must give scikit-learn's answers bit for bit on every category, an
unseen one, a missing one and codes that are no category.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import joblib
import numpy as np
import pytest
from function_support import predictor_build
from sklearn.compose import make_column_transformer
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OrdinalEncoder

from lambdapack.model.importer import import_model

try:
    import pandas as pd
except ImportError:  # pragma: no cover - the test extra installs it
    pd = None

LoadHandler = Callable[..., ModuleType]
CITIES = ["brest", "lille", "lyon", "nice", "paris"]


@pytest.fixture(autouse=True)
def _runtime(cannot_run: Callable[[str], None], monkeypatch: pytest.MonkeyPatch) -> None:
    if pd is None:
        cannot_run("pandas is not installed (pip install -e '.[test]')")
    from lambdapack.template_files import template_path

    monkeypatch.syspath_prepend(str(template_path("lambdapack_runtime").parent))


def _frame(n: int = 1500, seed: int = 0) -> tuple[Any, np.ndarray]:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({"age": rng.normal(40, 10, n), "city": pd.Categorical(rng.choice(CITIES, n)),
                          "code": rng.integers(0, 6, n).astype(float)})
    frame.loc[rng.random(n) < 0.1, "age"] = np.nan
    frame.loc[rng.random(n) < 0.1, "city"] = np.nan
    frame.loc[rng.random(n) < 0.05, "code"] = np.nan
    y = (frame.city.isin(["paris", "nice"]) ^ (frame.age.fillna(0) > 40) ^ frame.code.isin([1, 4])).to_numpy()
    return frame, y.astype(int)


def _imported(model: Any, tmp_path: Path, name: str, features: str | None = None) -> Path:
    joblib.dump(model, tmp_path / f"{name}.joblib")
    import_model(tmp_path / f"{name}.joblib", features=features, out=tmp_path / name)
    return tmp_path / name


def _rows() -> list[list]:
    """Every category, an unseen one and a missing one; codes that are categories, not quite, or none."""
    return [[age, city, code] for age in (float("nan"), 30.0, 45.0) for city in [*CITIES, "rome", None]
            for code in (0.0, 1.0, 4.0, 5.0, 2.5, 6.0, -1.0, 1e6, float("nan"))]


def _same_answers(module: ModuleType, model: Any, rows: list[list]) -> None:
    from lambdapack_runtime.frames import estimator_input

    served = module.MODEL
    X = estimator_input(rows, served.inputs.fields, served.manifest.get("input_frame"))
    outputs, probas = served.predictor.predict(rows)
    if served.task == "regression":
        assert outputs == model.predict(X).tolist()
        return
    assert [model.classes_[i] for i in outputs] == model.predict(X).tolist()
    if served.predictor.output.link == "softmax":  # numpy's vectorised exp may differ from the C library's
        np.testing.assert_array_max_ulp(np.array(probas), model.predict_proba(X), maxulp=8)
    else:
        assert probas == model.predict_proba(X).tolist()
    raw = [served.predictor.raw(r) for r in rows]
    assert np.array(raw).reshape(len(rows), -1).tolist() == model.decision_function(X).reshape(len(rows), -1).tolist()


def test_categories_from_the_pandas_dtype(tmp_path: Path, load_handler: LoadHandler) -> None:
    frame, y = _frame()
    model = HistGradientBoostingClassifier(max_iter=25, categorical_features="from_dtype", random_state=0)
    model.fit(frame, y)
    model_dir = _imported(model, tmp_path, "dtype")
    manifest = json.loads((model_dir / "model.json").read_text())
    city = manifest["features"][1]
    assert (city["type"], city["categories"], city["unknown"], city["nullable"]) == ("category", CITIES, "accept",
                                                                                    True)
    assert manifest["features"][2]["type"] == "number"  # a float column is no category to "from_dtype"
    build = predictor_build(model_dir)
    assert build.report.serving == "predictor", build.report.reason
    report = build.report.verification
    assert report["transforms"] == "bit-identical" and report["unreachable_leaves"] == 0
    assert build.report.claim["exact"]
    module = load_handler(model_dir)
    _same_answers(module, model, [[age, city, 1.0] for age, city, _ in _rows()])
    direct = module.lambda_handler({"age": None, "city": "rome", "code": 4}, None)
    assert direct["statusCode"] == 200


@pytest.mark.parametrize("categorical", [[1], [False, True], "names"])
def test_categories_given_by_index_mask_or_name(categorical: Any, tmp_path: Path, load_handler: LoadHandler) -> None:
    frame, y = _frame(seed=1)
    numeric = frame[["age", "code"]]
    X = numeric if categorical == "names" else numeric.to_numpy()
    model = HistGradientBoostingRegressor(max_iter=25, random_state=0,
                                          categorical_features=["code"] if categorical == "names" else categorical)
    model.fit(X, y + 0.5 * frame.code.fillna(0).to_numpy())
    model_dir = _imported(model, tmp_path, "codes", features=None if categorical == "names" else "age,code")
    code = json.loads((model_dir / "model.json").read_text())["features"][1]
    assert (code["type"], code["categories"], code["unknown"]) == ("category", [0.0, 1.0, 2.0, 3.0, 4.0, 5.0],
                                                                   "accept")
    build = predictor_build(model_dir)
    assert build.report.serving == "predictor", build.report.reason
    rows = [[age, code] for age, _, code in _rows()]
    _same_answers(load_handler(model_dir), model, rows)


def test_several_categorical_inputs_in_a_multiclass_model(tmp_path: Path, load_handler: LoadHandler) -> None:
    frame, y = _frame(seed=2)
    model = HistGradientBoostingClassifier(max_iter=15, categorical_features=["city", "code"], random_state=0)
    model.fit(frame, y + frame.code.fillna(0).astype(int).to_numpy() % 2)
    model_dir = _imported(model, tmp_path, "multi")
    assert predictor_build(model_dir).report.serving == "predictor"
    _same_answers(load_handler(model_dir), model, [r for r in _rows() if r[2] in (0.0, 1.0, 4.0, 5.0, 2.5)])


def test_categories_encoded_by_an_earlier_step_are_typed_by_that_step(tmp_path: Path,
                                                                      load_handler: LoadHandler) -> None:
    frame, y = _frame(seed=3)
    X = frame[["city", "age"]].astype({"city": object}).fillna({"city": "none"}).to_numpy()
    model = make_pipeline(make_column_transformer((OrdinalEncoder(), [0]), remainder="passthrough"),
                          HistGradientBoostingClassifier(max_iter=15, categorical_features=[0], random_state=0))
    model.fit(X, y)
    model_dir = _imported(model, tmp_path, "pipeline", features="city,age")
    city = json.loads((model_dir / "model.json").read_text())["features"][0]
    assert city["categories"] == sorted([*CITIES, "none"])  # the first encoder's categories, not its codes
    build = predictor_build(model_dir)
    assert build.report.serving == "predictor", build.report.reason
    module = load_handler(model_dir)
    rows = [[city, age] for age in (30.0, 45.0, float("nan")) for city in [*CITIES, "none"]]
    outputs, _ = module.MODEL.predictor.predict(rows)
    assert [model.classes_[i] for i in outputs] == model.predict(np.array(rows, dtype=object)).tolist()


def _compile(model_dir: Path, tmp_path: Path) -> dict:
    from lambdapack.predictor.compiler import entry

    manifest = json.loads((model_dir / "model.json").read_text())
    return entry.compile_and_reply({"model": str(model_dir / "model.joblib"), "out": str(tmp_path / "p"),
                                    "max_nodes": 10**6, "features": manifest["features"], "typed": True,
                                    "input_frame": manifest.get("input_frame")})


def test_the_proof_catches_a_category_left_out_of_a_split(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from lambdapack.predictor.compiler import hist_gradient_boosting as front

    frame, y = _frame(seed=4)
    model = HistGradientBoostingClassifier(max_iter=10, categorical_features="from_dtype", random_state=0)
    model_dir = _imported(model.fit(frame, y), tmp_path, "teeth")
    assert _compile(model_dir, tmp_path)["ok"]
    real = front._category_set
    monkeypatch.setattr(front, "_category_set", lambda bitset: real(bitset)[1:])
    reply = _compile(model_dir, tmp_path)
    assert reply["ok"] is False and "disagrees with predict()" in reply["message"], reply


@pytest.mark.parametrize(("damage", "reason"), [
    (lambda est: setattr(est, "_preprocessor", None), "its categorical features are read without an encoder"),
    (lambda est: est._preprocessor.transformers_.__setitem__(
        1, ("scaled", *est._preprocessor.transformers_[1][1:])), "its preprocessor has a part 'scaled'"),
])
def test_categorical_models_the_predictor_does_not_read_say_why(damage: Callable[[Any], None], reason: str) -> None:
    from lambdapack.predictor.compiler.lower import lower

    frame, y = _frame(seed=5)
    model = HistGradientBoostingClassifier(max_iter=5, categorical_features="from_dtype", random_state=0)
    model.fit(frame, y)
    assert lower(model, 3).blocker is None
    damage(model)
    blocker = lower(model, 3).blocker
    assert blocker is not None and reason in blocker, blocker
