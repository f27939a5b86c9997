"""Deploy against a real moto server, reading every resource back through boto3."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import boto3
import pytest
from stackfiles import REGION, TEST_ACCESS_KEY, TEST_SECRET_KEY, write_layer

from lambdapack import targets
from lambdapack.deploy.aws import AwsClient
from lambdapack.deploy.deployer import DeployRequest, deploy, destroy
from lambdapack.deploy.models import ApiKind
from lambdapack.errors import DeployError

BASIC = "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"


def client(service: str):  # type: ignore[no-untyped-def]
    return boto3.client(service, region_name=REGION)


def layer_version(arn: str) -> dict:  # type: ignore[type-arg]
    # moto has no GetLayerVersionByArn; the name and number are in the ARN
    name, number = arn.rsplit(":", 2)[-2:]
    return client("lambda").get_layer_version(LayerName=name, VersionNumber=int(number))


def request(name: str, tmp_path: Path, layer: Path, function: Path, **kw: object) -> DeployRequest:
    return DeployRequest(name=name, layer=layer, function=function, root=tmp_path, **kw)  # type: ignore[arg-type]


def test_http_stack_reads_back_as_specified(aws: AwsClient, name: str, artifacts, tmp_path: Path) -> None:
    layer, function = artifacts()
    result = deploy(request(name, tmp_path, layer, function, memory=256, timeout=20), aws=aws)

    iam = client("iam")
    role = iam.get_role(RoleName=f"lambdapack-{name}-role")["Role"]
    assert role["AssumeRolePolicyDocument"]["Statement"] == [
        {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]
    attached = iam.list_attached_role_policies(RoleName=f"lambdapack-{name}-role")["AttachedPolicies"]
    assert [p["PolicyArn"] for p in attached] == [BASIC]
    assert iam.list_role_policies(RoleName=f"lambdapack-{name}-role")["PolicyNames"] == []

    lam = client("lambda")
    cfg = lam.get_function_configuration(FunctionName=name)
    assert (cfg["Runtime"], cfg["Handler"], cfg["MemorySize"], cfg["Timeout"], cfg["Architectures"]) == (
        "python3.12", "lambda_function.lambda_handler", 256, 20, ["x86_64"])
    assert cfg["Role"] == role["Arn"]
    assert [x["Arn"] for x in cfg["Layers"]] == [result.layer_version_arn]
    published = layer_version(result.layer_version_arn)
    assert published["CompatibleRuntimes"] == ["python3.12"]
    assert published["CompatibleArchitectures"] == ["x86_64"]

    api_id = json.loads(Path(result.state_file).read_text())["resources"]["api"]["id"]
    v2 = client("apigatewayv2")
    routes = v2.get_routes(ApiId=api_id)["Items"]
    assert sorted(r["RouteKey"] for r in routes) == ["GET /health", "GET /predict", "POST /predict"]
    (integration,) = v2.get_integrations(ApiId=api_id)["Items"]
    assert integration["IntegrationType"] == "AWS_PROXY"
    assert integration["IntegrationUri"] == result.function_arn
    assert integration["PayloadFormatVersion"] == "2.0"
    assert {r["Target"] for r in routes} == {f"integrations/{integration['IntegrationId']}"}
    stage = v2.get_stage(ApiId=api_id, StageName="$default")
    assert stage["AutoDeploy"] is True
    assert stage["DefaultRouteSettings"]["ThrottlingBurstLimit"] == 50
    assert stage["DefaultRouteSettings"]["ThrottlingRateLimit"] == 20.0

    (statement,) = json.loads(lam.get_policy(FunctionName=name)["Policy"])["Statement"]
    assert statement["Principal"] == {"Service": "apigateway.amazonaws.com"}
    assert statement["Condition"]["ArnLike"]["AWS:SourceArn"] == f"arn:aws:execute-api:{REGION}:123456789012:{api_id}/*"
    assert result.endpoint and api_id in result.endpoint


def test_state_file_is_private_and_holds_no_credentials(aws: AwsClient, name: str, artifacts, tmp_path: Path,
                                                        run_cli, monkeypatch: pytest.MonkeyPatch) -> None:
    layer, function = artifacts()
    monkeypatch.chdir(tmp_path)
    out = run_cli("deploy", "--name", name, "--layer", str(layer), "--function", str(function), "--json")
    assert out.exit_code == 0, out.stderr
    state_file = tmp_path / ".lambdapack" / f"{name}.json"
    assert stat.S_IMODE(state_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(state_file.parent.stat().st_mode) == 0o700
    text = state_file.read_text()
    for secret in (TEST_ACCESS_KEY, TEST_SECRET_KEY):
        assert secret not in text
        assert secret not in out.stdout and secret not in out.stderr
    assert "X-Amz-Signature" not in text
    assert out.json()["function_arn"].endswith(f":function:{name}")


def test_a_layer_over_the_direct_limit_goes_through_a_private_encrypted_bucket(
        aws: AwsClient, name: str, artifacts, tmp_path: Path) -> None:
    # incompressible, so the zip itself is over 50 MB
    payload = os.urandom(targets.DIRECT_UPLOAD_LIMIT + 1024)
    layer = write_layer(tmp_path / "dist" / "big-layer.zip", payload=payload)
    _, function = artifacts()
    assert layer.stat().st_size > targets.DIRECT_UPLOAD_LIMIT
    result = deploy(request(name, tmp_path, layer, function), aws=aws)

    state = json.loads(Path(result.state_file).read_text())["resources"]
    bucket = state["bucket"]["name"]
    s3 = client("s3")
    assert bucket == f"lambdapack-123456789012-us-east-1-{name}"
    pab = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
    assert pab == {"BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True,
                   "RestrictPublicBuckets": True}
    rule = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"][0]
    assert rule["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    (key,) = state["bucket"]["keys"]
    head = s3.head_object(Bucket=bucket, Key=key)
    assert head["ContentLength"] == layer.stat().st_size
    assert head["ServerSideEncryption"] == "AES256"
    ops = [(c.service, c.operation) for c in aws.writes]
    assert ("s3", "PutObject") in ops
    assert ops.index(("s3", "PutObject")) < ops.index(("lambda", "PublishLayerVersion"))
    version = layer_version(result.layer_version_arn)
    assert version["Content"]["CodeSize"] == layer.stat().st_size

    destroy(name, root=tmp_path, aws=aws)
    assert bucket not in [b["Name"] for b in s3.list_buckets()["Buckets"]]


def test_rest_api_front(aws: AwsClient, name: str, artifacts, tmp_path: Path) -> None:
    layer, function = artifacts()
    result = deploy(request(name, tmp_path, layer, function, api=ApiKind.REST), aws=aws)
    api = json.loads(Path(result.state_file).read_text())["resources"]["api"]
    apigw = client("apigateway")
    resources = apigw.get_resources(restApiId=api["id"])["items"]
    proxy = next(r for r in resources if r["path"] == "/{proxy+}")
    integration = apigw.get_integration(restApiId=api["id"], resourceId=proxy["id"], httpMethod="ANY")
    assert integration["type"] == "AWS_PROXY"
    assert result.function_arn in integration["uri"]
    stage = apigw.get_stage(restApiId=api["id"], stageName="prod")
    assert stage["methodSettings"]["*/*"]["throttlingBurstLimit"] == 50
    (statement,) = json.loads(client("lambda").get_policy(FunctionName=name)["Policy"])["Statement"]
    assert statement["Condition"]["ArnLike"]["AWS:SourceArn"].endswith(f":{api['id']}/*")
    assert deploy(request(name, tmp_path, layer, function, api=ApiKind.REST), aws=aws).write_calls == 0


def test_function_url_front_and_switching_fronts(aws: AwsClient, name: str, artifacts, tmp_path: Path) -> None:
    layer, function = artifacts()
    first = deploy(request(name, tmp_path, layer, function), aws=aws)
    old_api = json.loads(Path(first.state_file).read_text())["resources"]["api"]["id"]
    result = deploy(request(name, tmp_path, layer, function, api=ApiKind.URL), aws=aws)
    assert any("AuthType NONE" in n for n in result.notes)
    lam = client("lambda")
    url = lam.get_function_url_config(FunctionName=name)
    assert url["AuthType"] == "NONE"
    assert result.endpoint == url["FunctionUrl"]
    sids = {s["Sid"] for s in json.loads(lam.get_policy(FunctionName=name)["Policy"])["Statement"]}
    assert sids == {"lambdapack-url", "lambdapack-url-invoke"}
    assert old_api not in [a["ApiId"] for a in client("apigatewayv2").get_apis()["Items"]]

    iam_auth = deploy(request(name, tmp_path, layer, function, api=ApiKind.URL, url_auth="AWS_IAM"), aws=aws)
    assert lam.get_function_url_config(FunctionName=name)["AuthType"] == "AWS_IAM"
    assert iam_auth.notes == ()


def test_api_none_deploys_only_the_function(aws: AwsClient, name: str, artifacts, tmp_path: Path) -> None:
    layer, function = artifacts()
    result = deploy(request(name, tmp_path, layer, function, api=ApiKind.NONE), aws=aws)
    assert result.endpoint is None
    assert f"{name}-api" not in [a["Name"] for a in client("apigatewayv2").get_apis()["Items"]]
    assert {c.operation for c in aws.writes} == {"CreateRole", "AttachRolePolicy", "PublishLayerVersion",
                                                 "CreateFunction"}


def test_changed_code_updates_the_function_and_changed_layer_publishes_a_version(
        aws: AwsClient, name: str, artifacts, tmp_path: Path) -> None:
    layer, function = artifacts()
    first = deploy(request(name, tmp_path, layer, function), aws=aws)
    function.write_bytes(function.read_bytes())  # same bytes: still nothing to do
    assert deploy(request(name, tmp_path, layer, function), aws=aws).write_calls == 0

    from stackfiles import write_function
    write_function(function, handler="v2")
    second = deploy(request(name, tmp_path, layer, function), aws=aws)
    assert [s.op for s in second.steps] == ["update_function_code"]
    cfg = client("lambda").get_function_configuration(FunctionName=name)
    import base64
    import hashlib
    assert cfg["CodeSha256"] == base64.b64encode(hashlib.sha256(function.read_bytes()).digest()).decode()

    write_layer(layer, payload=b"# a new layer\n")
    third = deploy(request(name, tmp_path, layer, function), aws=aws)
    assert [s.op for s in third.steps] == ["publish_layer_version", "update_function_configuration"]
    assert third.layer_version_arn != first.layer_version_arn
    cfg = client("lambda").get_function_configuration(FunctionName=name)
    assert [x["Arn"] for x in cfg["Layers"]] == [third.layer_version_arn]

    destroy(name, root=tmp_path, aws=aws)
    # every version lambdapack published goes, not just the last one
    assert client("lambda").list_layer_versions(LayerName=f"{name}-deps")["LayerVersions"] == []


def test_a_lost_state_file_still_finds_the_unchanged_stack(
        aws: AwsClient, name: str, artifacts, tmp_path: Path) -> None:
    layer, function = artifacts()
    first = deploy(request(name, tmp_path, layer, function, api=ApiKind.NONE), aws=aws)
    Path(first.state_file).unlink()
    again = deploy(request(name, tmp_path, layer, function, api=ApiKind.NONE), aws=aws)
    # the role and function carry the stack tag and the layer version its hash: adopted, not recreated
    assert again.write_calls == 0
    assert again.layer_version_arn == first.layer_version_arn


def test_someone_elses_function_with_the_same_name_is_refused(
        aws: AwsClient, name: str, artifacts, tmp_path: Path) -> None:
    layer, function = artifacts()
    iam = client("iam")
    role = iam.create_role(RoleName=f"theirs-{name}", AssumeRolePolicyDocument="{}")["Role"]
    client("lambda").create_function(FunctionName=name, Runtime="python3.12", Role=role["Arn"],
                                     Handler="x.y", Code={"ZipFile": function.read_bytes()})
    with pytest.raises(DeployError, match="did not create"):
        deploy(request(name, tmp_path, layer, function), aws=aws)


def test_destroy_tolerates_what_is_already_gone(aws: AwsClient, name: str, artifacts, tmp_path: Path) -> None:
    layer, function = artifacts()
    result = deploy(request(name, tmp_path, layer, function), aws=aws)
    api_id = json.loads(Path(result.state_file).read_text())["resources"]["api"]["id"]
    client("apigatewayv2").delete_api(ApiId=api_id)
    client("lambda").delete_function(FunctionName=name)
    destroyed = destroy(name, root=tmp_path, aws=aws)
    assert "delete_role" in [s.op for s in destroyed.steps]
    assert not Path(result.state_file).exists()
    assert [r["RoleName"] for r in client("iam").list_roles()["Roles"]
            if r["RoleName"].startswith(f"lambdapack-{name}")] == []


def test_an_api_deleted_outside_lambdapack_is_recreated(aws: AwsClient, name: str, artifacts, tmp_path: Path) -> None:
    layer, function = artifacts()
    first = deploy(request(name, tmp_path, layer, function), aws=aws)
    old = json.loads(Path(first.state_file).read_text())["resources"]["api"]
    client("apigatewayv2").delete_api(ApiId=old["id"])
    second = deploy(request(name, tmp_path, layer, function), aws=aws)
    assert [s.op for s in second.steps] == ["create_http_api", "create_integration", "create_route", "create_route",
                                            "create_route", "create_stage", "remove_permission", "add_permission"]
    new = json.loads(Path(second.state_file).read_text())["resources"]["api"]
    assert new["id"] != old["id"] and new["integration_id"] != old["integration_id"]
    (statement,) = json.loads(client("lambda").get_policy(FunctionName=name)["Policy"])["Statement"]
    assert statement["Condition"]["ArnLike"]["AWS:SourceArn"].endswith(f":{new['id']}/*")
    assert deploy(request(name, tmp_path, layer, function), aws=aws).write_calls == 0


def test_switching_fronts_after_the_old_api_was_deleted_outside(aws: AwsClient, name: str, artifacts,
                                                                tmp_path: Path) -> None:
    layer, function = artifacts()
    first = deploy(request(name, tmp_path, layer, function), aws=aws)
    client("apigatewayv2").delete_api(ApiId=json.loads(Path(first.state_file).read_text())["resources"]["api"]["id"])
    second = deploy(request(name, tmp_path, layer, function, api=ApiKind.URL), aws=aws)
    assert second.endpoint == client("lambda").get_function_url_config(FunctionName=name)["FunctionUrl"]
    assert "api" not in json.loads(Path(second.state_file).read_text())["resources"]
