"""One request contract for both serving paths: the predictor and the estimator accept and refuse the same
requests, with the same answers, for pipelines that take categories and missing values."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import numpy as np
import pandas as pd
import pytest
from function_support import write_model_dir
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier, RandomForestRegressor
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, OrdinalEncoder, StandardScaler

LoadHandler = Callable[..., ModuleType]

RNG = np.random.default_rng(7)
N = 300
FRAME = pd.DataFrame({
    "age": RNG.integers(18, 80, N).astype(float),
    "income": RNG.lognormal(10, 1, N),
    "city": RNG.choice(["nice", "lyon", "paris"], N),
    "plan": RNG.choice(["basic", "plus", "pro"], N),
})
FRAME.loc[RNG.random(N) < 0.1, "income"] = np.nan
FRAME.loc[RNG.random(N) < 0.1, "city"] = None
TARGET = ((FRAME["income"].fillna(20000) > 22000) ^ (FRAME["city"] == "nice")).astype(int)


def _imputing_boosting() -> Pipeline:
    pre = ColumnTransformer([
        ("num", make_pipeline(SimpleImputer(add_indicator=True), StandardScaler()), ["age", "income"]),
        ("cat", OneHotEncoder(handle_unknown="ignore"), ["city"]),
    ])
    return Pipeline([("pre", pre), ("model", HistGradientBoostingClassifier(max_iter=20, random_state=0))])


def _strict_forest() -> Pipeline:
    pre = ColumnTransformer([("plan", OrdinalEncoder(), ["plan"]),
                             ("num", SimpleImputer(), ["income"])], remainder="passthrough")
    return Pipeline([("pre", pre), ("model", RandomForestClassifier(n_estimators=10, random_state=0))])


def _custom_step() -> Pipeline:
    pre = ColumnTransformer([("log", FunctionTransformer(np.log1p), ["age"]),
                             ("cat", OneHotEncoder(handle_unknown="ignore"), ["city", "plan"])])
    return Pipeline([("pre", pre), ("model", RandomForestRegressor(n_estimators=5, random_state=0))])


MODELS = {"imputing_boosting": (_imputing_boosting, ["age", "income", "city"]),
          "strict_forest": (_strict_forest, ["age", "income", "plan"]),
          "custom_step": (_custom_step, ["age", "city", "plan"])}

ROW = {"age": 41.0, "income": 25000.0, "city": "lyon", "plan": "pro"}
CHANGES = [
    {},
    {"age": "42"},  # a numeric string: a query string sends every value as text
    {"income": None},
    {"city": None},
    {"city": "tokyo"},  # never seen: the encoder ignores it, or refuses it
    {"plan": "gold"},
    {"plan": None},
    {"age": None},
    {"age": "abc"},
    {"city": 3},
    {"plan": 2.0},
    {"age": float("inf")},
]


@pytest.fixture(scope="module")
def model_dirs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = {}
    for name, (make, columns) in MODELS.items():
        model = make().fit(FRAME[columns], TARGET if name != "custom_step" else FRAME["age"] * 2.0)
        task = "classification" if name != "custom_step" else "regression"
        classes = ["no", "yes"] if task == "classification" else None
        out[name] = write_model_dir(tmp_path_factory.mktemp(name) / "model", model, [(c, None) for c in columns],
                                    classes, task)
    return out


def _request(columns: list[str], change: dict) -> dict:
    return {c: change.get(c, ROW[c]) for c in columns}


def _http(payload: object) -> dict:
    return {"version": "2.0", "routeKey": "POST /predict", "rawPath": "/predict", "headers": {},
            "requestContext": {"http": {"method": "POST", "path": "/predict"}, "requestId": "r"},
            "body": json.dumps(payload), "isBase64Encoded": False}


@pytest.mark.parametrize("name", sorted(MODELS))
def test_both_paths_accept_and_refuse_the_same_requests(name: str, model_dirs: dict[str, Path],
                                                        load_handler: LoadHandler) -> None:
    columns = MODELS[name][1]
    by_predictor = load_handler(model_dirs[name])
    by_estimator = load_handler(model_dirs[name], env={"LAMBDAPACK_PREDICTOR": "0"})
    assert by_estimator.MODEL.serving == "joblib"
    assert by_predictor.MODEL.serving == ("joblib" if name == "custom_step" else "predictor")
    changes = [c for c in CHANGES if set(c) <= set(columns)]
    requests = [_request(columns, c) for c in changes]
    requests.append({"instances": [_request(columns, c) for c in changes[:4]]})
    requests.append({"instances": [[_request(columns, {})[c] for c in columns]]})
    answers = {}
    for request in requests:
        mine = by_predictor.lambda_handler(_http(request), None)
        theirs = by_estimator.lambda_handler(_http(request), None)
        assert mine["statusCode"] == theirs["statusCode"], request
        assert json.loads(mine["body"]) == json.loads(theirs["body"]), request
        assert mine["statusCode"] < 500, (request, mine["body"])
        answers[json.dumps(request, default=str)] = (mine["statusCode"], json.loads(mine["body"]))
    statuses = {key: status for key, (status, _) in answers.items()}
    assert 200 in statuses.values() and 400 in statuses.values()


def test_the_schema_says_what_each_model_takes(model_dirs: dict[str, Path]) -> None:
    def inputs(name: str) -> dict:
        manifest = json.loads((model_dirs[name] / "model.json").read_text())
        return {f["name"]: f for f in manifest["features"]}

    boosting = inputs("imputing_boosting")
    assert boosting["income"]["nullable"] and boosting["age"]["nullable"]  # the imputer fills them
    assert boosting["city"] == {"name": "city", "alias": None, "type": "category", "nullable": True,
                                "categories": ["lyon", "nice", "paris"], "unknown": "accept"}
    forest = inputs("strict_forest")
    assert forest["plan"]["unknown"] == "error" and not forest["plan"]["nullable"]
    assert forest["income"]["nullable"] and not forest["age"]["nullable"]  # age reaches the trees as it is
    custom = inputs("custom_step")
    # the custom step keeps the joblib path; the encoder beside it still types its inputs
    assert custom["city"]["type"] == custom["plan"]["type"] == "category"
    assert json.loads((model_dirs["custom_step"] / "model.json").read_text())["input_frame"] == "pandas"


@pytest.mark.parametrize(("change", "error", "words"), [
    ({"plan": "gold"}, "unknown_category", "plan must be one of basic, plus, pro, got 'gold'"),
    ({"plan": None}, "invalid_value", "plan cannot be missing"),
    ({"age": None}, "invalid_value", "age cannot be missing"),
    ({"age": "abc"}, "invalid_value", "age must be a number, got 'abc'"),
    ({"plan": 2.0}, "invalid_value", "plan must be one of basic, plus, pro, got 2.0"),
])
def test_a_refusal_names_the_field_and_what_it_takes(change: dict, error: str, words: str,
                                                     model_dirs: dict[str, Path], load_handler: LoadHandler) -> None:
    module = load_handler(model_dirs["strict_forest"])
    response = module.lambda_handler(_http(_request(MODELS["strict_forest"][1], change)), None)
    body = json.loads(response["body"])
    assert (response["statusCode"], body["error"], body["field"]) == (400, error, next(iter(change)))
    assert words in body["detail"]


def test_health_prints_the_schema(model_dirs: dict[str, Path], load_handler: LoadHandler) -> None:
    module = load_handler(model_dirs["imputing_boosting"])
    event = {"version": "2.0", "routeKey": "GET /health", "rawPath": "/health", "headers": {},
             "requestContext": {"http": {"method": "GET", "path": "/health"}}}
    model = json.loads(module.lambda_handler(event, None)["body"])["model"]
    city = next(f for f in model["features"] if f["name"] == "city")
    assert city["type"] == "category" and city["categories"] == ["lyon", "nice", "paris"] and city["nullable"]
    assert model["claim"]["predict"] == "identical labels and values"


def test_package_types_an_old_manifest_from_the_model(tmp_path: Path) -> None:
    """A lambdapack.model/1 manifest says no input's type: the function carries the types the model has."""
    import zipfile

    from lambdapack.function.package import package_function

    columns = MODELS["imputing_boosting"][1]
    model = _imputing_boosting().fit(FRAME[columns], TARGET)
    old = write_model_dir(tmp_path / "old", model, [(c, None) for c in columns], ["no", "yes"], "classification",
                          typed=False)
    report = package_function(old, tmp_path / "f.zip")
    assert report.inputs_read_from_model and report.function.serving == "predictor"
    assert "city: category (3: lyon, nice, paris; unknown accepted) or null" in report.inputs
    with zipfile.ZipFile(tmp_path / "f.zip") as zf:
        packed = json.loads(zf.read("model.json"))
    assert packed["schema"] == "lambdapack.model/2" and packed["input_frame"] == "pandas"
    assert json.loads((old / "model.json").read_text())["schema"] == "lambdapack.model/1"  # left as it was
    assert packed["model"] == json.loads((old / "model.json").read_text())["model"]


def test_the_handler_reads_an_old_manifest_as_numbers(tmp_path: Path, load_handler: LoadHandler) -> None:
    from sklearn.datasets import load_iris

    X, y = load_iris(return_X_y=True)
    model = RandomForestClassifier(n_estimators=5, random_state=0).fit(X, y)
    old = write_model_dir(tmp_path / "old", model, [("sl", None), ("sw", None), ("pl", None), ("pw", None)],
                          None, "classification", typed=False)
    module = load_handler(old, predictor=False)
    assert [f.kind for f in module.MODEL.inputs.fields] == ["number"] * 4
    ok = module.lambda_handler({"sl": "6.9", "sw": 3.1, "pl": 5.1, "pw": 2.3}, None)
    assert ok["statusCode"] == 200
    refused = module.lambda_handler({"sl": None, "sw": 3.1, "pl": 5.1, "pw": 2.3}, None)
    assert refused["statusCode"] == 400 and "sl cannot be missing" in json.loads(refused["body"])["detail"]
