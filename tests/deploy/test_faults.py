"""Fault injection on the real boto3 clients (botocore ``before-call`` hooks), against moto.

moto cannot throttle or conflict on demand, so a hook answers chosen calls with the error
AWS would send; every other call reaches the moto server unchanged.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.awsrequest import AWSResponse
from stackfiles import REGION, TEST_ACCESS_KEY, TEST_SECRET_KEY

from lambdapack.deploy.aws import AwsClient
from lambdapack.deploy.deployer import DeployRequest, deploy, destroy
from lambdapack.errors import DeployError


def inject(aws: AwsClient, service: str, operation: str, code: str, *, status: int = 400,
           fail_on: Callable[[int], bool] = lambda n: True, message: str = "injected") -> list[int]:
    """Answer the ``operation`` calls for which ``fail_on(n)`` (1-based) holds with error ``code``."""
    seen: list[int] = []

    def handler(**kwargs: Any) -> tuple[AWSResponse, dict[str, Any]] | None:
        seen.append(len(seen) + 1)
        if not fail_on(len(seen)):
            return None
        body = {"Error": {"Code": code, "Message": message}, "ResponseMetadata": {"HTTPStatusCode": status}}
        return AWSResponse("http://127.0.0.1/injected", status, {}, None), body

    aws.client(service).meta.events.register(f"before-call.{service}.{operation}", handler)
    return seen


def client(service: str):  # type: ignore[no-untyped-def]
    return boto3.client(service, region_name=REGION)


def req(name: str, tmp_path: Path, layer: Path, function: Path) -> DeployRequest:
    return DeployRequest(name=name, layer=layer, function=function, root=tmp_path)


def test_throttling_is_retried_with_backoff(aws: AwsClient, sleeps: list[float], name: str, artifacts,
                                            tmp_path: Path) -> None:
    layer, function = artifacts()
    calls = inject(aws, "lambda", "CreateFunction", "TooManyRequestsException", status=429,
                   fail_on=lambda n: n <= 3)
    result = deploy(req(name, tmp_path, layer, function), aws=aws)
    assert len(calls) == 4
    assert sleeps == [0.5, 1.0, 2.0]
    attempts = [c for c in aws.calls if c.operation == "CreateFunction"]
    assert [c.error for c in attempts] == ["TooManyRequestsException"] * 3 + [None]
    assert client("lambda").get_function(FunctionName=name)["Configuration"]["FunctionArn"] == result.function_arn


def test_a_conflict_while_lambda_is_busy_is_retried(aws: AwsClient, sleeps: list[float], name: str, artifacts,
                                                    tmp_path: Path) -> None:
    layer, function = artifacts()
    deploy(req(name, tmp_path, layer, function), aws=aws)
    from stackfiles import write_function
    write_function(function, handler="v2")
    inject(aws, "lambda", "UpdateFunctionCode", "ResourceConflictException", status=409, fail_on=lambda n: n == 1,
           message="The operation cannot be performed at this time. An update is in progress")
    second = deploy(req(name, tmp_path, layer, function), aws=aws)
    assert [s.op for s in second.steps] == ["update_function_code"]
    assert sleeps == [0.5]


def test_a_fresh_role_not_yet_assumable_is_retried(aws: AwsClient, sleeps: list[float], name: str, artifacts,
                                                   tmp_path: Path) -> None:
    layer, function = artifacts()
    inject(aws, "lambda", "CreateFunction", "InvalidParameterValueException", fail_on=lambda n: n <= 2,
           message="The role defined for the function cannot be assumed by Lambda.")
    deploy(req(name, tmp_path, layer, function), aws=aws)
    assert sleeps == [0.5, 1.0]


def test_endless_throttling_gives_up_with_a_hint(moto: str, name: str, artifacts, tmp_path: Path) -> None:
    sleeps: list[float] = []
    aws = AwsClient(sleep=sleeps.append, max_attempts=5, base_delay=1.0, max_delay=3.0)
    layer, function = artifacts()
    inject(aws, "apigatewayv2", "CreateApi", "TooManyRequestsException", status=429)
    with pytest.raises(DeployError) as caught:
        deploy(req(name, tmp_path, layer, function), aws=aws)
    assert "TooManyRequestsException" in caught.value.message
    assert "rerun" in caught.value.hint
    assert sleeps == [1.0, 2.0, 3.0, 3.0]  # capped backoff, 5 attempts


def test_access_denied_is_not_retried(aws: AwsClient, sleeps: list[float], name: str, artifacts,
                                      tmp_path: Path) -> None:
    layer, function = artifacts()
    inject(aws, "iam", "CreateRole", "AccessDenied", status=403,
           message="User is not authorized to perform: iam:CreateRole")
    with pytest.raises(DeployError) as caught:
        deploy(req(name, tmp_path, layer, function), aws=aws)
    assert caught.value.message.startswith("iam CreateRole failed: AccessDenied")
    assert "permission" in caught.value.hint
    assert sleeps == []
    assert [c.operation for c in aws.writes] == ["CreateRole"]


def test_a_failure_halfway_leaves_state_a_rerun_converges_from(aws: AwsClient, name: str, artifacts,
                                                               tmp_path: Path) -> None:
    layer, function = artifacts()
    inject(aws, "apigatewayv2", "CreateRoute", "BadRequestException", fail_on=lambda n: n == 2)
    with pytest.raises(DeployError, match="CreateRoute"):
        deploy(req(name, tmp_path, layer, function), aws=aws)

    state = json.loads((tmp_path / ".lambdapack" / f"{name}.json").read_text())["resources"]
    assert set(state) == {"role", "layer", "function", "api"}
    assert list(state["api"]["routes"]) == ["POST /predict"]
    api_id = state["api"]["id"]

    fresh = AwsClient(sleep=lambda s: None)
    second = deploy(req(name, tmp_path, layer, function), aws=fresh)
    assert [s.op for s in second.steps] == ["create_route", "create_route", "create_stage", "add_permission"]
    routes = client("apigatewayv2").get_routes(ApiId=api_id)["Items"]
    assert sorted(r["RouteKey"] for r in routes) == ["GET /health", "GET /predict", "POST /predict"]
    assert [a["ApiId"] for a in client("apigatewayv2").get_apis()["Items"] if a["Name"] == f"{name}-api"] == [api_id]
    assert deploy(req(name, tmp_path, layer, function), aws=fresh).write_calls == 0

    destroy(name, root=tmp_path, aws=fresh)
    assert not (tmp_path / ".lambdapack" / f"{name}.json").exists()
    with pytest.raises(client("lambda").exceptions.ResourceNotFoundException):
        client("lambda").get_function(FunctionName=name)


def test_destroy_cleans_up_after_a_deploy_that_failed_early(aws: AwsClient, name: str, artifacts,
                                                            tmp_path: Path) -> None:
    layer, function = artifacts()
    inject(aws, "lambda", "CreateFunction", "ServiceException", status=500)
    with pytest.raises(DeployError):
        deploy(req(name, tmp_path, layer, function), aws=aws)
    state = json.loads((tmp_path / ".lambdapack" / f"{name}.json").read_text())["resources"]
    assert set(state) == {"role", "layer"}
    destroyed = destroy(name, root=tmp_path, aws=AwsClient(sleep=lambda s: None))
    assert [s.op for s in destroyed.steps] == ["delete_layer_version", "delete_role"]
    iam = client("iam")
    with pytest.raises(iam.exceptions.NoSuchEntityException):
        iam.get_role(RoleName=f"lambdapack-{name}-role")
    assert client("lambda").list_layer_versions(LayerName=f"{name}-deps")["LayerVersions"] == []


def test_errors_never_carry_credentials(aws: AwsClient, name: str, artifacts, tmp_path: Path, run_cli,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    layer, function = artifacts()
    monkeypatch.chdir(tmp_path)
    # nothing listens on port 9: the failure message names the endpoint, never the key
    out = run_cli("deploy", "--name", name, "--layer", str(layer), "--function", str(function),
                  "--endpoint-url", "http://127.0.0.1:9/")
    assert out.exit_code == 1
    assert "cannot reach" in out.stderr and "hint:" in out.stderr
    for secret in (TEST_ACCESS_KEY, TEST_SECRET_KEY):
        assert secret not in out.stdout + out.stderr
    assert not (tmp_path / ".lambdapack").exists()


def _drop_connection(aws: AwsClient, service: str, operation: str, times: int) -> list[int]:
    from botocore.exceptions import ConnectionClosedError

    seen: list[int] = []

    def handler(**kwargs: Any) -> None:
        seen.append(1)
        if len(seen) <= times:
            raise ConnectionClosedError(endpoint_url="http://127.0.0.1/dropped")

    aws.client(service).meta.events.register(f"before-call.{service}.{operation}", handler)
    return seen


def test_a_dropped_connection_is_retried_for_reads_only(aws: AwsClient, sleeps: list[float], name: str, artifacts,
                                                        tmp_path: Path) -> None:
    layer, function = artifacts()
    _drop_connection(aws, "lambda", "GetFunction", times=1)
    deploy(req(name, tmp_path, layer, function), aws=aws)
    assert sleeps == [0.5]

    fresh = AwsClient(sleep=sleeps.append)
    _drop_connection(fresh, "apigatewayv2", "CreateApi", times=1)
    other = f"{name}w"
    with pytest.raises(DeployError) as caught:
        deploy(req(other, tmp_path, layer, function), aws=fresh)
    assert "CreateApi" in caught.value.message or "dropped" in caught.value.message
    assert [c.error for c in fresh.calls if c.operation == "CreateApi"] == ["ConnectionClosedError"]


def _lose_answer(aws: AwsClient, service: str, operation: str) -> None:
    """AWS performs the call, but its answer never arrives (the hardest case for a state file)."""
    from botocore.exceptions import ReadTimeoutError

    lost: list[int] = []

    def handler(**kwargs: Any) -> None:
        if not lost:
            lost.append(1)
            raise ReadTimeoutError(endpoint_url="http://127.0.0.1/lost")

    aws.client(service).meta.events.register(f"after-call.{service}.{operation}", handler)


@pytest.mark.parametrize(("api", "service", "operation"), [
    ("http", "apigatewayv2", "CreateApi"),
    ("rest", "apigateway", "CreateRestApi"),
])
def test_an_api_created_but_unrecorded_is_adopted_not_leaked(aws: AwsClient, name: str, artifacts, tmp_path: Path,
                                                             api: str, service: str, operation: str) -> None:
    from lambdapack.deploy.models import ApiKind

    layer, function = artifacts()
    request = DeployRequest(name=name, layer=layer, function=function, root=tmp_path, api=ApiKind(api))
    _lose_answer(aws, service, operation)
    with pytest.raises(DeployError):
        deploy(request, aws=aws)
    assert "api" not in json.loads((tmp_path / ".lambdapack" / f"{name}.json").read_text())["resources"]

    fresh = AwsClient(sleep=lambda s: None)
    deploy(request, aws=fresh)
    assert deploy(request, aws=fresh).write_calls == 0
    if api == "http":
        names = [a["Name"] for a in client("apigatewayv2").get_apis()["Items"]]
    else:
        names = [a["name"] for a in client("apigateway").get_rest_apis()["items"]]
    assert names.count(f"{name}-api") == 1
    destroy(name, root=tmp_path, aws=fresh)
    if api == "http":
        assert f"{name}-api" not in [a["Name"] for a in client("apigatewayv2").get_apis()["Items"]]
    else:
        assert f"{name}-api" not in [a["name"] for a in client("apigateway").get_rest_apis()["items"]]


def test_an_upload_whose_answer_was_lost_is_recorded_and_destroyed(aws: AwsClient, name: str, artifacts,
                                                                    tmp_path: Path) -> None:
    import os

    from stackfiles import write_layer

    from lambdapack import targets

    layer = write_layer(tmp_path / "dist" / "big.zip", payload=os.urandom(targets.DIRECT_UPLOAD_LIMIT + 1))
    _, function = artifacts()
    _lose_answer(aws, "s3", "PutObject")
    with pytest.raises(DeployError):
        deploy(req(name, tmp_path, layer, function), aws=aws)
    fresh = AwsClient(sleep=lambda s: None)
    second = deploy(req(name, tmp_path, layer, function), aws=fresh)
    assert "upload_object" not in [s.op for s in second.steps]  # it is there already
    state = json.loads((tmp_path / ".lambdapack" / f"{name}.json").read_text())["resources"]
    destroy(name, root=tmp_path, aws=fresh)
    assert state["bucket"]["name"] not in [b["Name"] for b in client("s3").list_buckets()["Buckets"]]
