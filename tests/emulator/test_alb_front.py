"""serve as an ALB target: the packaged function (predictor, no layer) behind an ALB-shaped front."""

from __future__ import annotations

import http.client
import json
from pathlib import Path

import pytest
from emulator_support import Logs, make_function

from lambdapack.emulator.gateway import start_gateway
from lambdapack.emulator.http_events import HttpRequest, alb_event
from lambdapack.emulator.session import LocalFunctionSpec, function_layers
from lambdapack.errors import PackageError
from lambdapack.function.package import package_function

# answers the way an API Gateway integration does: no isBase64Encoded, so an ALB refuses it
GATEWAY_SHAPED = '''
def lambda_handler(event, context):
    return {"statusCode": 200, "headers": {"Content-Type": "text/plain"}, "body": "hello"}
'''


@pytest.fixture(scope="module")
def iris_zip(iris_model: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("alb") / "function.zip"
    report = package_function(iris_model, out, runtime="python3.12")
    assert not report.function.needs_layer, report.function.reason
    return out


def get(url: str, path: str) -> tuple[int, dict[str, str], bytes]:
    host, port = url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=30)
    conn.request("GET", path, headers={"X-Forwarded-For": "203.0.113.10"})
    response = conn.getresponse()
    return response.status, dict(response.getheaders()), response.read()


def test_alb_events_carry_the_target_group_and_lowercased_headers() -> None:
    request = HttpRequest("GET", "/predict?sl=6.9&sl=7&pw=2%2C3", (("X-A", "1"), ("X-A", "2")), b"")
    single = alb_event(request)
    assert "elb" in single["requestContext"] and single["headers"] == {"x-a": "2"}
    assert single["queryStringParameters"] == {"sl": "7", "pw": "2%2C3"}  # ALBs do not decode query values
    multi = alb_event(request, multi_value=True)
    assert multi["multiValueHeaders"] == {"x-a": ["1", "2"]}
    assert multi["multiValueQueryStringParameters"] == {"sl": ["6.9", "7"], "pw": ["2%2C3"]}
    assert "headers" not in multi and multi["body"] == "" and multi["isBase64Encoded"] is False


@pytest.mark.parametrize("payload", ["alb", "alb-multi"])
def test_the_packaged_function_serves_behind_an_alb_without_a_layer(payload: str, iris_zip: Path,
                                                                    logs: Logs) -> None:
    layers, runtime = function_layers(iris_zip, (), no_layer=True)
    spec = LocalFunctionSpec(iris_zip, layers, runtime=runtime)
    with start_gateway(spec, port=0, payload_version=payload, log_sink=logs) as (_, info):
        status, headers, body = get(info.url, "/predict?sl=6.9&sw=3.1&pl=5.1&pw=2.3")
        assert status == 200, body
        assert headers["Content-Type"] == "application/json"
        assert json.loads(body)["prediction"] == "virginica"
        status, _, body = get(info.url, "/predict?sl=wide&sw=3.1&pl=5.1&pw=2.3")
        assert status == 400 and json.loads(body)["field"] == "sl"


def test_an_api_gateway_shaped_response_is_a_502_at_an_alb(tmp_path: Path, tiny: tuple[Path, Path],
                                                            logs: Logs) -> None:
    function = make_function(tmp_path, GATEWAY_SHAPED)
    spec = LocalFunctionSpec(function, (tiny[1],))
    with start_gateway(spec, port=0, payload_version="alb", log_sink=logs) as (_, info):
        assert get(info.url, "/")[0] == 502


def test_no_layer_is_refused_for_a_function_that_needs_one(iris_model: Path, tmp_path: Path) -> None:
    joblib_zip = tmp_path / "joblib.zip"
    package_function(iris_model, joblib_zip, predictor=False)
    with pytest.raises(PackageError, match="needs its scikit-learn layer: it serves by joblib") as info:
        function_layers(joblib_zip, (), no_layer=True)
    assert "drop --no-layer" in info.value.hint
