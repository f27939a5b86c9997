"""The handler against the shared event samples and the variations real traffic brings."""

from __future__ import annotations

import base64
import copy
import json
from pathlib import Path
from types import ModuleType

import pytest
from function_support import EVENTS, SEED, body_of, event

HTTP_SAMPLES = ["http-api-v2-post", "rest-api-v1-get-query", "function-url-post-base64"]


def test_seed_event_gives_exactly_the_guides_response(iris_handler: ModuleType) -> None:
    assert iris_handler.lambda_handler(event("seed-direct"), None) == {"statusCode": 200, "body": "virginica"}


def test_full_feature_names_are_accepted(iris_handler: ModuleType, iris_model: Path) -> None:
    manifest = json.loads((iris_model / "model.json").read_text())
    full = {f["name"]: SEED[f["alias"]] for f in manifest["features"]}
    assert iris_handler.lambda_handler(full, None) == {"statusCode": 200, "body": "virginica"}


@pytest.mark.parametrize("name", HTTP_SAMPLES)
def test_every_http_sample_predicts_virginica_with_probabilities(iris_handler: ModuleType, name: str) -> None:
    response = iris_handler.lambda_handler(event(name), None)
    assert response["statusCode"] == 200
    assert response["headers"]["Content-Type"] == "application/json"
    body = body_of(response)
    assert body["prediction"] == "virginica"
    assert set(body["probabilities"]) == {"setosa", "versicolor", "virginica"}
    assert sum(body["probabilities"].values()) == pytest.approx(1.0)
    assert max(body["probabilities"], key=body["probabilities"].get) == "virginica"


def test_every_sample_file_is_covered() -> None:
    assert {p.stem for p in EVENTS.glob("*.json")} == {"seed-direct", *HTTP_SAMPLES, *ALB_SAMPLES}


ALB_SAMPLES = ["alb-post", "alb-multi-value-get"]


@pytest.mark.parametrize("name", ALB_SAMPLES)
def test_alb_gets_what_an_alb_requires(iris_handler: ModuleType, name: str) -> None:
    """statusCode, statusDescription, isBase64Encoded, and headers in the shape the request used: else a 502."""
    response = iris_handler.lambda_handler(event(name), None)
    multi = name == "alb-multi-value-get"
    assert set(response) == {"statusCode", "statusDescription", "isBase64Encoded", "body",
                             "multiValueHeaders" if multi else "headers"}
    assert (response["statusCode"], response["statusDescription"], response["isBase64Encoded"]) == (
        200, "200 OK", False)
    content_type = response["multiValueHeaders"]["Content-Type"] if multi else response["headers"]["Content-Type"]
    assert content_type == (["application/json"] if multi else "application/json")
    assert body_of(response)["prediction"] == "virginica"


def test_alb_rejections_carry_their_status_line(iris_handler: ModuleType) -> None:
    bad = copy.deepcopy(event("alb-multi-value-get"))
    bad["multiValueQueryStringParameters"]["sl"] = ["wide"]
    response = iris_handler.lambda_handler(bad, None)
    assert (response["statusCode"], response["statusDescription"]) == (400, "400 Bad Request")
    assert response["multiValueHeaders"]["Content-Type"] == ["application/json"]
    assert body_of(response)["field"] == "sl"
    wrong = dict(copy.deepcopy(event("alb-post")), httpMethod="DELETE")
    response = iris_handler.lambda_handler(wrong, None)
    assert (response["statusCode"], response["statusDescription"]) == (405, "405 Method Not Allowed")
    assert response["headers"]["Allow"] == "GET, POST"


def _v2(body: object = None, method: str = "POST", path: str = "/predict", **extra: object) -> dict:
    ev = copy.deepcopy(event("http-api-v2-post"))
    ev["requestContext"]["http"]["method"] = method
    ev["rawPath"] = path
    ev["routeKey"] = "$default"
    ev["body"] = body if body is None or isinstance(body, str) else json.dumps(body)
    ev.update(extra)
    return ev


def _v1(method: str = "GET", query: dict | None = None, multi: dict | None = None, body: str | None = None,
        **extra: object) -> dict:
    ev = copy.deepcopy(event("rest-api-v1-get-query"))
    ev["httpMethod"] = method
    ev["queryStringParameters"] = query
    ev["multiValueQueryStringParameters"] = multi
    ev["body"] = body
    ev.update(extra)
    return ev


def test_header_case_does_not_matter(iris_handler: ModuleType) -> None:
    form = "sl=6.9&sw=3.1&pl=5.1&pw=2.3"
    for header in ("Content-Type", "content-type", "CONTENT-TYPE"):
        ev = _v2(form, headers={header: "application/x-www-form-urlencoded"})
        assert body_of(iris_handler.lambda_handler(ev, None))["prediction"] == "virginica", header


def test_curl_default_form_content_type_with_a_json_body(iris_handler: ModuleType) -> None:
    # `curl -d '{...}'` labels a JSON body as a form
    ev = _v2(json.dumps(SEED), headers={"content-type": "application/x-www-form-urlencoded"})
    assert body_of(iris_handler.lambda_handler(ev, None))["prediction"] == "virginica"


def test_v2_get_with_raw_query_string(iris_handler: ModuleType) -> None:
    ev = _v2(None, method="GET", rawQueryString="sl=6.9&sw=3.1&pl=5.1&pw=2.3")
    assert body_of(iris_handler.lambda_handler(ev, None))["prediction"] == "virginica"


def test_v2_get_with_only_query_string_parameters(iris_handler: ModuleType) -> None:
    ev = _v2(None, method="GET", queryStringParameters={k: str(v) for k, v in SEED.items()})
    del ev["rawQueryString"]
    assert body_of(iris_handler.lambda_handler(ev, None))["prediction"] == "virginica"


def test_v2_repeated_query_parameter_is_rejected_by_name(iris_handler: ModuleType) -> None:
    ev = _v2(None, method="GET", rawQueryString="sl=6.9&sl=7.0&sw=3.1&pl=5.1&pw=2.3")
    response = iris_handler.lambda_handler(ev, None)
    assert response["statusCode"] == 400
    assert body_of(response)["field"] == "sl"


def test_v1_multi_value_query_string(iris_handler: ModuleType) -> None:
    ok = _v1(query={"sl": "6.9"}, multi={k: [str(v)] for k, v in SEED.items()})
    assert body_of(iris_handler.lambda_handler(ok, None))["prediction"] == "virginica"
    twice = _v1(query={k: str(v) for k, v in SEED.items()}, multi={**{k: [str(v)] for k, v in SEED.items()},
                                                                    "pw": ["2.3", "0.1"]})
    response = iris_handler.lambda_handler(twice, None)
    assert response["statusCode"] == 400
    assert body_of(response)["field"] == "pw"


def test_v1_missing_query_string_parameters(iris_handler: ModuleType) -> None:
    ev = _v1()
    del ev["queryStringParameters"], ev["multiValueQueryStringParameters"]
    response = iris_handler.lambda_handler(ev, None)
    assert response["statusCode"] == 400
    assert body_of(response)["error"] == "missing_input"


def test_v1_post_json_body(iris_handler: ModuleType) -> None:
    ev = _v1(method="POST", body=json.dumps(SEED))
    assert body_of(iris_handler.lambda_handler(ev, None))["prediction"] == "virginica"


@pytest.mark.parametrize("body", [None, "", "   \n"])
def test_empty_and_missing_bodies(iris_handler: ModuleType, body: str | None) -> None:
    response = iris_handler.lambda_handler(_v2(body), None)
    assert response["statusCode"] == 400
    assert body_of(response)["error"] == "missing_input"


def test_empty_body_falls_back_to_the_query_string(iris_handler: ModuleType) -> None:
    ev = _v2("", rawQueryString="sl=6.9&sw=3.1&pl=5.1&pw=2.3")
    assert body_of(iris_handler.lambda_handler(ev, None))["prediction"] == "virginica"


def test_base64_bodies(iris_handler: ModuleType) -> None:
    good = _v2(base64.b64encode(json.dumps(SEED).encode()).decode(), isBase64Encoded=True)
    assert body_of(iris_handler.lambda_handler(good, None))["prediction"] == "virginica"
    bad = _v2("not base64!", isBase64Encoded=True)
    response = iris_handler.lambda_handler(bad, None)
    assert (response["statusCode"], body_of(response)["error"]) == (400, "bad_body")
    latin = _v2(base64.b64encode(b"\xff\xfe").decode(), isBase64Encoded=True)
    assert iris_handler.lambda_handler(latin, None)["statusCode"] == 400


def test_cookies_are_ignored(iris_handler: ModuleType) -> None:
    ev = _v2(SEED, cookies=["session=abc", "theme=dark"])
    assert body_of(iris_handler.lambda_handler(ev, None))["prediction"] == "virginica"


@pytest.mark.parametrize(("path", "route_key", "stage"), [
    ("/predict", "POST /predict", "$default"),
    ("/prod/predict", "$default", "prod"),   # HTTP API with a named stage: rawPath carries it
    ("/prod/predict", "POST /predict", "prod"),
    ("/", "$default", "$default"),             # function URL
    ("/predict/", "$default", "$default"),
])
def test_paths_api_gateway_sends(iris_handler: ModuleType, path: str, route_key: str, stage: str) -> None:
    ev = _v2(SEED, path=path, routeKey=route_key)
    ev["requestContext"]["stage"] = stage
    assert body_of(iris_handler.lambda_handler(ev, None))["prediction"] == "virginica"


def test_rest_proxy_resource_uses_the_path(iris_handler: ModuleType) -> None:
    ev = _v1(method="POST", body=json.dumps(SEED), resource="/{proxy+}", path="/predict")
    assert iris_handler.lambda_handler(ev, None)["statusCode"] == 200
    ev = _v1(method="POST", body=json.dumps(SEED), resource="/{proxy+}", path="/nope")
    assert iris_handler.lambda_handler(ev, None)["statusCode"] == 404


def test_rest_custom_domain_base_path_routes_by_resource(iris_handler: ModuleType) -> None:
    ev = _v1(method="POST", body=json.dumps(SEED), resource="/predict", path="/ml/predict")
    assert body_of(iris_handler.lambda_handler(ev, None))["prediction"] == "virginica"


def test_wrong_path_is_404_and_wrong_method_405(iris_handler: ModuleType) -> None:
    response = iris_handler.lambda_handler(_v2(SEED, path="/predictions"), None)
    assert (response["statusCode"], body_of(response)["error"]) == (404, "not_found")
    response = iris_handler.lambda_handler(_v2(SEED, method="DELETE"), None)
    assert response["statusCode"] == 405
    assert response["headers"]["Allow"] == "GET, POST"
    response = iris_handler.lambda_handler(_v2(None, method="POST", path="/health"), None)
    assert (response["statusCode"], response["headers"]["Allow"]) == (405, "GET")


def test_health_reports_the_model(iris_handler: ModuleType, iris_model: Path) -> None:
    manifest = json.loads((iris_model / "model.json").read_text())
    response = iris_handler.lambda_handler(_v2(None, method="GET", path="/health"), None)
    assert response["statusCode"] == 200
    health = body_of(response)
    assert health["status"] == "ok"
    model = health["model"]
    assert model["sha256"] == manifest["model"]["sha256"]
    assert model["classes"] == manifest["classes"]
    assert [f["alias"] for f in model["features"]] == ["sl", "sw", "pl", "pw"]
    assert model["versions"] == manifest["versions"]
    assert model["serving"] == "predictor"
    assert model["layer"] is None


def test_cors_off_by_default_and_configurable(iris_model: Path, load_handler) -> None:  # type: ignore[no-untyped-def]
    plain = load_handler(iris_model)
    assert "Access-Control-Allow-Origin" not in plain.lambda_handler(_v2(SEED), None)["headers"]
    assert plain.lambda_handler(_v2(None, method="OPTIONS"), None)["statusCode"] == 405

    star = load_handler(iris_model, env={"LAMBDAPACK_CORS_ORIGINS": "*"})
    assert star.lambda_handler(_v2(SEED), None)["headers"]["Access-Control-Allow-Origin"] == "*"
    preflight = star.lambda_handler(_v2(None, method="OPTIONS"), None)
    assert preflight["statusCode"] == 204
    assert "POST" in preflight["headers"]["Access-Control-Allow-Methods"]
    error = star.lambda_handler(_v2({"sl": "x"}), None)
    assert error["headers"]["Access-Control-Allow-Origin"] == "*"

    listed = load_handler(iris_model, env={"LAMBDAPACK_CORS_ORIGINS": "https://a.example, https://b.example"})
    ok = listed.lambda_handler(_v2(SEED, headers={"Origin": "https://b.example"}), None)
    assert ok["headers"]["Access-Control-Allow-Origin"] == "https://b.example"
    other = listed.lambda_handler(_v2(SEED, headers={"Origin": "https://evil.example"}), None)
    assert "Access-Control-Allow-Origin" not in other["headers"]


def test_batches(iris_handler: ModuleType) -> None:
    setosa = [5.1, 3.5, 1.4, 0.2]
    rows = [[6.9, 3.1, 5.1, 2.3], setosa]
    for payload in ({"instances": rows}, [SEED, dict(zip(["sl", "sw", "pl", "pw"], setosa, strict=True))],
                    {"instances": [SEED, setosa]}):
        body = body_of(iris_handler.lambda_handler(_v2(payload), None))
        assert body["predictions"] == ["virginica", "setosa"]
        assert len(body["probabilities"]) == 2
    direct = iris_handler.lambda_handler({"instances": rows}, None)
    assert body_of(direct)["predictions"] == ["virginica", "setosa"]


def test_batch_size_limit(iris_model: Path, load_handler) -> None:  # type: ignore[no-untyped-def]
    module = load_handler(iris_model, env={"LAMBDAPACK_MAX_BATCH": "3"})
    row = [6.9, 3.1, 5.1, 2.3]
    assert module.lambda_handler(_v2({"instances": [row] * 3}), None)["statusCode"] == 200
    response = module.lambda_handler(_v2({"instances": [row] * 4}), None)
    assert (response["statusCode"], body_of(response)["error"]) == (413, "batch_too_large")
    assert module.lambda_handler([SEED] * 4, None)["statusCode"] == 413


def test_large_batch_goes_through_the_estimator(iris_handler: ModuleType) -> None:
    rows = [[6.9, 3.1, 5.1, 2.3], [5.1, 3.5, 1.4, 0.2]] * 50
    body = body_of(iris_handler.lambda_handler(_v2({"instances": rows}), None))
    assert body["predictions"] == ["virginica", "setosa"] * 50


@pytest.mark.parametrize(("payload", "error", "field"), [
    ({"sl": 6.9, "sw": 3.1, "pl": 5.1}, "missing_feature", "pw"),
    ({**SEED, "colour": 1}, "unknown_feature", "colour"),
    ({**SEED, "pw": "abc"}, "invalid_value", "pw"),
    ({**SEED, "pw": True}, "invalid_value", "pw"),
    ({**SEED, "pw": None}, "invalid_value", "pw"),
    ({**SEED, "pw": [2.3]}, "invalid_value", "pw"),
    ({**SEED, "pw": "nan"}, "invalid_value", "pw"),
    ({**SEED, "pw": "1_0"}, "invalid_value", "pw"),
    ({**SEED, "pw": "\u0663"}, "invalid_value", "pw"),  # an Arabic-Indic 3: float() would take it
    ({**SEED, "pw": 1e39}, "invalid_value", "pw"),
    ({**SEED, "petal width (cm)": 2.3}, "duplicate_feature", "petal width (cm)"),
    ({"instances": [[6.9, 3.1, 5.1]]}, "wrong_length", "instances[0]"),
    ({"instances": [[6.9, 3.1, 5.1, "x"]]}, "invalid_value", "instances[0][3]"),
    ({"instances": [SEED, {"sl": 1}]}, "missing_feature", "instances[1].sw"),
    ({"instances": []}, "empty_batch", "instances"),
    ({"instances": "all"}, "bad_body", "instances"),
    ({"instances": [[6.9, 3.1, 5.1, 2.3]], "extra": 1}, "unknown_field", "extra"),
    ([SEED, 3], "bad_body", "[1]"),
    ("virginica", "bad_body", None),
])
def test_bad_input_is_400_naming_the_field(iris_handler: ModuleType, payload: object, error: str,
                                           field: str | None) -> None:
    http = iris_handler.lambda_handler(_v2(json.dumps(payload)), None)
    for response in (http, iris_handler.lambda_handler(payload, None)):
        assert response["statusCode"] == 400
        body = body_of(response)
        assert body["error"] == error
        assert body.get("field") == field
        assert body["detail"]
        assert "Traceback" not in response["body"]


@pytest.mark.parametrize("text", ['{"sl": 6.9,', "NaN", '{"sl": NaN, "sw": 3.1, "pl": 5.1, "pw": 2.3}',
                                  "[" * 100_000, '{"sl": 1' + "0" * 5000 + "}"])
def test_malformed_or_hostile_json_is_400(iris_handler: ModuleType, text: str) -> None:
    response = iris_handler.lambda_handler(_v2(text), None)
    assert response["statusCode"] == 400
    assert body_of(response)["error"] in {"malformed_json", "invalid_value", "bad_body"}


def test_one_structured_log_line_per_request_without_the_body(iris_handler: ModuleType,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    secret = {"sl": "secret-marker-123", "sw": 3.1, "pl": 5.1, "pw": 2.3}
    context = type("Context", (), {"aws_request_id": "req-42"})()
    iris_handler.lambda_handler(_v2(secret), context)
    iris_handler.lambda_handler(event("seed-direct"), context)
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 2
    first, second = (json.loads(line) for line in lines)
    assert "secret-marker-123" not in lines[0]
    assert first["request_id"] == "req-42"
    assert (first["status"], first["outcome"], first["error"]) == (400, "client_error", "invalid_value")
    assert (second["status"], second["outcome"], second["source"]) == (200, "ok", "direct")
    assert second["latency_ms"] >= 0


def test_a_bug_is_a_500_without_traceback_and_logged(iris_handler: ModuleType, monkeypatch: pytest.MonkeyPatch,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    def broken(rows: list) -> tuple:
        raise ZeroDivisionError("boom")

    monkeypatch.setattr(iris_handler.MODEL, "predict", broken)
    capsys.readouterr()
    response = iris_handler.lambda_handler(_v2(SEED), None)
    assert response["statusCode"] == 500
    assert "boom" not in response["body"] and "Traceback" not in response["body"]
    log = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert log["outcome"] == "server_error"
    assert "ZeroDivisionError" in log["traceback"]


def test_echoed_names_stay_short(iris_handler: ModuleType) -> None:
    huge = "k" * 100_000
    for payload in ({**SEED, huge: 1}, {"instances": [[6.9, 3.1, 5.1, 2.3]], huge: 1}):
        response = iris_handler.lambda_handler(payload, None)
        assert response["statusCode"] == 400
        assert len(response["body"]) < 1000


def test_many_features_are_summarised_in_messages(trained, load_handler) -> None:  # type: ignore[no-untyped-def]
    module = load_handler(trained("digits", "random_forest"))
    body = body_of(module.lambda_handler({}, None))
    assert body["error"] == "missing_feature"
    assert "(64 in all)" in body["detail"]
    assert len(body["detail"]) < 400
