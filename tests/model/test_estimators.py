"""Every estimator lambdapack names trains and predicts; --param parsing and validation."""

from __future__ import annotations

from pathlib import Path

import joblib
import pytest

from lambdapack.errors import ModelError
from lambdapack.model import _child_train
from lambdapack.model.estimators import ESTIMATORS, check_params, get_estimator, literal_params, parse_params
from lambdapack.model.manifest import load_manifest
from lambdapack.model.train import train

# fewer boosting rounds keep the suite quick on a shared 2-core machine; the code path is the same
QUICK = {"hist_gradient_boosting": ["max_iter=15"], "gradient_boosting": ["n_estimators=20"],
         "gradient_boosting_regressor": ["n_estimators=20"]}


@pytest.mark.parametrize("name", list(ESTIMATORS))
def test_every_estimator_trains(name: str, tmp_path: Path) -> None:
    spec = ESTIMATORS[name]
    dataset = "iris" if spec.task == "classification" else "diabetes"
    params = QUICK.get(name, [])
    report = train(dataset=dataset, estimator=name, params=params, out=tmp_path / "m")
    manifest = load_manifest(tmp_path / "m")
    assert manifest.estimator.class_path == spec.class_path
    assert manifest.task == spec.task
    model = joblib.load(report.model_path)
    assert type(model).__name__ == spec.class_name
    assert train(dataset=dataset, estimator=name, params=params, out=tmp_path / "again").sha256 == report.sha256
    if spec.task == "classification":
        assert report.metrics["accuracy"] > 0.85
        assert manifest.classes == ("setosa", "versicolor", "virginica")
    else:
        assert set(report.metrics) == {"r2", "mae"}
        assert report.metrics["mae"] > 0
        assert manifest.classes is None


@pytest.mark.parametrize("name", ["random_forest", "RandomForestClassifier", "random-forest",
                                  "sklearn.ensemble.RandomForestClassifier"])
def test_estimator_names(name: str) -> None:
    assert get_estimator(name).name == "random_forest"


def test_unknown_estimator_suggests() -> None:
    with pytest.raises(ModelError, match="unknown estimator 'random_forrest'") as info:
        get_estimator("random_forrest")
    assert "did you mean 'random_forest'" in info.value.hint


def test_parse_params_keeps_literal_text() -> None:
    assert parse_params(["n_estimators=200", " max_depth = 3 "]) == {"n_estimators": "200", "max_depth": "3"}


@pytest.mark.parametrize(("pair", "message"), [
    ("n_estimators", "is not key=value"),
    ("=3", "is not key=value"),
    ("a b=3", "is not key=value"),
    ("max_depth=", "has no value"),
])
def test_parse_params_refuses(pair: str, message: str) -> None:
    with pytest.raises(ModelError, match=message):
        parse_params([pair])


def test_parse_params_refuses_repeats() -> None:
    with pytest.raises(ModelError, match="given twice"):
        parse_params(["max_depth=3", "max_depth=4"])


@pytest.mark.parametrize(("text", "value"), [
    ("200", 200), ("0.5", 0.5), ("None", None), ("none", None), ("true", True), ("False", False),
    ("'gini'", "gini"), ("entropy", "entropy"), ("log2", "log2"), ("(10, 5)", (10, 5)), ("[1, 2]", [1, 2]),
    ("{'a': 1}", {"a": 1}),
])
def test_literal_values(text: str, value: object) -> None:
    assert _child_train.parse_literal("k", text) == value


@pytest.mark.parametrize("text", ["__import__('os').system('true')", "open('x')", "1e-3x", "[1,", "2 + x"])
def test_code_is_never_evaluated(text: str) -> None:
    with pytest.raises(_child_train.TrainFailure, match="not a literal value"):
        _child_train.parse_literal("k", text)


def test_unknown_param_suggests_the_near_name() -> None:
    with pytest.raises(ModelError, match="has no parameter 'n_estimator'; did you mean 'n_estimators'"):
        check_params(get_estimator("random_forest"), {"n_estimator": "3"})


def test_unknown_param_lists_the_choices() -> None:
    with pytest.raises(ModelError, match=r"it takes: .*n_estimators"):
        check_params(get_estimator("random_forest"), {"zzz": "3"})


@pytest.mark.parametrize(("params", "message"), [
    ({"n_estimators": "-3"}, "'n_estimators' parameter of RandomForestClassifier must be an int"),
    ({"n_estimators": "abc"}, "Got 'abc' instead"),
    ({"criterion": "entropyy"}, "'criterion' parameter"),
    ({"max_depth": "__import__('os')"}, "not a literal value"),
])
def test_bad_values_fail_before_training(params: dict[str, str], message: str) -> None:
    with pytest.raises(ModelError, match=message):
        check_params(get_estimator("random_forest"), params)


def test_params_reach_the_model_and_the_manifest(tmp_path: Path) -> None:
    report = train(params=["n_estimators=7", "max_depth=3", "criterion=entropy"], out=tmp_path / "m")
    model = joblib.load(report.model_path)
    assert (len(model.estimators_), model.max_depth, model.criterion) == (7, 3, "entropy")
    params = load_manifest(tmp_path / "m").estimator.params
    assert params == {"n_estimators": 7, "random_state": 42, "max_depth": 3, "criterion": "entropy"}


def test_random_state_seeds_the_estimator(tmp_path: Path) -> None:
    report = train(random_state=7, out=tmp_path / "m")
    assert joblib.load(report.model_path).random_state == 7
    assert load_manifest(tmp_path / "m").dataset.split_random_state == 7  # type: ignore[union-attr]


def test_literal_params_records_unjsonable_values_as_written() -> None:
    assert literal_params({"a": "{1, 2}", "b": "3"}) == {"a": "{1, 2}", "b": 3}
