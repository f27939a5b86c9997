"""Property: no event and no body makes the handler fail; every answer is a proxy response, 200 or 4xx."""

from __future__ import annotations

import base64
import json
import sys
from pathlib import Path
from types import ModuleType

import joblib
import numpy as np
import pytest
from function_support import SEED, import_handler, lay_out_task
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

FUZZ = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=10), children, max_size=5),
    max_leaves=20,
)
names = st.sampled_from(["sl", "sw", "pl", "pw", "sepal length (cm)", "petal width (cm)", "instances"]) | st.text(
    max_size=8)
numbers_ish = (st.floats() | st.integers() | st.text(max_size=12) | st.sampled_from(["6.9", " 1e3 ", "nan", "-inf",
                                                                                      "1e400", "0x10", "+.5"]))
feature_objects = st.dictionaries(names, numbers_ish | json_values, max_size=6) | st.builds(
    lambda extra: {**SEED, **extra}, st.dictionaries(names, numbers_ish, max_size=2))
payloads = (feature_objects | st.lists(feature_objects | st.lists(numbers_ish, max_size=5), max_size=4)
            | st.builds(lambda rows: {"instances": rows}, st.lists(st.lists(numbers_ish, max_size=5), max_size=4))
            | json_values)


@st.composite
def bodies(draw: st.DrawFn) -> tuple[object, object]:
    kind = draw(st.sampled_from(["json", "text", "base64-json", "base64-bytes", "other"]))
    if kind == "json":
        return json.dumps(draw(payloads)), draw(st.booleans() | st.none())
    if kind == "text":
        return draw(st.text(max_size=40)), False
    if kind == "base64-json":
        return base64.b64encode(json.dumps(draw(payloads)).encode()).decode(), True
    if kind == "base64-bytes":
        return base64.b64encode(draw(st.binary(max_size=30))).decode(), True
    return draw(json_values), draw(json_values)


methods = st.sampled_from(["GET", "POST", "get", "OPTIONS", "DELETE", "HEAD", ""]) | json_values
paths = st.sampled_from(["/", "/predict", "/health", "/prod/predict", "/predict/", "", "//", "/x"]) | json_values
headers = st.dictionaries(st.sampled_from(["content-type", "Content-Type", "origin", "Host"]) | st.text(max_size=8),
                          st.sampled_from(["application/json", "application/x-www-form-urlencoded", "text/plain"])
                          | json_values, max_size=4) | json_values
queries = st.dictionaries(names, st.text(max_size=8) | json_values, max_size=5) | json_values


@st.composite
def v2_events(draw: st.DrawFn) -> dict:
    body, encoded = draw(bodies())
    event = {"version": draw(st.just("2.0") | json_values), "routeKey": draw(st.sampled_from(
        ["$default", "POST /predict", "GET /health", "ANY /{proxy+}"]) | json_values),
        "rawPath": draw(paths), "rawQueryString": draw(st.sampled_from(["", "sl=6.9&sw=3.1&pl=5.1&pw=2.3",
                                                                         "sl=1&sl=2", "%zz=&&="]) | json_values),
        "headers": draw(headers), "cookies": draw(json_values),
        "requestContext": {"http": {"method": draw(methods), "path": draw(paths)},
                           "stage": draw(st.sampled_from(["$default", "prod"]) | json_values),
                           "requestId": draw(json_values)},
        "body": body, "isBase64Encoded": encoded}
    for key in draw(st.lists(st.sampled_from(sorted(event)), max_size=3)):
        event.pop(key, None)
    return event


@st.composite
def v1_events(draw: st.DrawFn) -> dict:
    body, encoded = draw(bodies())
    event = {"resource": draw(st.sampled_from(["/predict", "/health", "/{proxy+}", "/"]) | json_values),
             "path": draw(paths), "httpMethod": draw(methods), "headers": draw(headers),
             "multiValueHeaders": draw(json_values), "queryStringParameters": draw(queries),
             "multiValueQueryStringParameters": draw(st.dictionaries(names, st.lists(st.text(max_size=5),
                                                                                     max_size=3)) | json_values),
             "requestContext": draw(st.fixed_dictionaries({"stage": st.just("prod"), "requestId": json_values})
                                    | json_values),
             "body": body, "isBase64Encoded": encoded}
    for key in draw(st.lists(st.sampled_from(sorted(event)), max_size=3)):
        event.pop(key, None)
    return event


@pytest.fixture(scope="module")
def estimator(iris_model: Path) -> object:
    """The reference: the pickled estimator itself, loaded here and not through the handler."""
    return joblib.load(iris_model / "model.joblib")


@pytest.fixture(scope="module")
def handler(iris_model: Path, tmp_path_factory: pytest.TempPathFactory) -> ModuleType:
    task = lay_out_task(iris_model, tmp_path_factory.mktemp("fuzz-task"))
    yield import_handler(task, "lambda_function_fuzzed")
    sys.modules.pop("lambda_function_fuzzed", None)


def _check(response: object) -> None:
    assert isinstance(response, dict)
    status = response["statusCode"]
    assert status == 200 or 400 <= status < 500, response
    assert isinstance(response["body"], str)
    assert set(response) <= {"statusCode", "headers", "body"}
    if "headers" in response:
        assert all(isinstance(k, str) and isinstance(v, str) for k, v in response["headers"].items())
        assert response["headers"]["Content-Type"] == "application/json"
        payload = json.loads(response["body"])
        if status >= 400:
            assert isinstance(payload["error"], str) and isinstance(payload["detail"], str)
            assert "Traceback" not in response["body"]
    else:
        assert status == 200  # the guide's bare {"statusCode": 200, "body": label}


@FUZZ
@given(json_values | payloads)
def test_direct_events_never_break_the_handler(handler: ModuleType, event: object) -> None:
    _check(handler.lambda_handler(event, None))


@FUZZ
@given(v2_events())
def test_http_api_and_function_url_events_never_break_the_handler(handler: ModuleType, event: dict) -> None:
    _check(handler.lambda_handler(event, None))


@FUZZ
@given(v1_events())
def test_rest_api_events_never_break_the_handler(handler: ModuleType, event: dict) -> None:
    _check(handler.lambda_handler(event, None))


finite = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, allow_infinity=False) | st.sampled_from(
    [0.0, -0.0, 0.8, 1.75, 2.45, 4.95, 5.45, 1e-45, 3.4e38])


@FUZZ
@given(st.lists(st.tuples(finite, finite, finite, finite), min_size=1, max_size=20))
def test_any_finite_rows_get_sklearns_answer(handler: ModuleType, estimator: object, rows: list) -> None:
    assert handler.MODEL.serving == "predictor"
    body = json.loads(handler.lambda_handler({"instances": [list(r) for r in rows]}, None)["body"])
    X = np.array(rows, dtype=np.float64)
    labels = estimator.classes_.tolist()
    names = handler.MODEL.classes
    assert body["predictions"] == [names[labels.index(v)] for v in estimator.predict(X).tolist()]
    assert [list(p.values()) for p in body["probabilities"]] == estimator.predict_proba(X).tolist()
