"""deploy --snapstart against a real moto server.

moto 5.x takes the ``SnapStart`` parameter and always reports it off, so what lambdapack
*sent* is captured with botocore hooks on the real clients (:class:`stackfiles.Sent`), and
everything moto does keep (versions, the alias, the API integration, the invoke permission's
resource) is read back from the server.
"""

from __future__ import annotations

import json
from pathlib import Path

import boto3
import pytest
from stackfiles import REGION, Sent, write_function, write_layer

from lambdapack.deploy.aws import AwsClient
from lambdapack.deploy.deployer import DeployRequest, deploy, destroy
from lambdapack.deploy.models import ApiKind
from lambdapack.errors import DeployError

SNAPSTART_ON = {"ApplyOn": "PublishedVersions"}


def client(service: str):  # type: ignore[no-untyped-def]
    return boto3.client(service, region_name=REGION)


def request(name: str, tmp_path: Path, layer: Path, function: Path, **kw: object) -> DeployRequest:
    return DeployRequest(name=name, layer=layer, function=function, root=tmp_path, **kw)  # type: ignore[arg-type]


def state_of(result) -> dict:  # type: ignore[no-untyped-def, type-arg]
    return json.loads(Path(result.state_file).read_text())["resources"]


def versions(name: str) -> list[str]:
    return [v["Version"] for v in client("lambda").list_versions_by_function(FunctionName=name)["Versions"]]


def statements(name: str) -> list[dict]:  # type: ignore[type-arg]
    return json.loads(client("lambda").get_policy(FunctionName=name)["Policy"])["Statement"]


def http_integration_uri(result) -> str:  # type: ignore[no-untyped-def]
    (integration,) = client("apigatewayv2").get_integrations(ApiId=state_of(result)["api"]["id"])["Items"]
    return str(integration["IntegrationUri"])


def test_snapstart_publishes_a_version_behind_an_alias_that_the_http_api_calls(
        aws: AwsClient, name: str, artifacts, tmp_path: Path) -> None:
    layer, function = artifacts()
    lam = Sent().attach(aws.client("lambda"))
    result = deploy(request(name, tmp_path, layer, function, snapstart=True), aws=aws)

    (create,) = lam.of("CreateFunction")
    assert create["SnapStart"] == SNAPSTART_ON
    (publish,) = lam.of("PublishVersion")
    assert str(publish["Description"]).startswith("lambdapack sha256:")
    assert publish["CodeSha256"] == client("lambda").get_function(FunctionName=name)["Configuration"]["CodeSha256"]
    ops = lam.operations()
    assert ops.index("CreateFunction") < ops.index("PublishVersion") < ops.index("CreateAlias") < ops.index(
        "AddPermission")

    assert versions(name) == ["$LATEST", "1"]
    alias = client("lambda").get_alias(FunctionName=name, Name="live")
    assert alias["FunctionVersion"] == "1"
    assert result.alias_arn == alias["AliasArn"] == f"{result.function_arn}:live"
    assert result.version == "1" and result.snapstart is True
    assert http_integration_uri(result) == alias["AliasArn"]
    (statement,) = statements(name)
    assert statement["Resource"] == alias["AliasArn"]  # the permission is the alias's, not $LATEST's
    assert statement["Condition"]["ArnLike"]["AWS:SourceArn"].endswith(f":{state_of(result)['api']['id']}/*")
    (permission,) = lam.of("AddPermission")
    assert permission["Qualifier"] == "live"

    recorded = state_of(result)
    assert recorded["version"] == {"number": "1", "arn": f"{result.function_arn}:1"}
    assert recorded["alias"]["name"] == "live" and recorded["alias"]["version"] == "1"
    assert recorded["alias"]["permissions"] == {"lambdapack-api": statement["Condition"]["ArnLike"]["AWS:SourceArn"]}
    assert recorded["function"]["versions"] == ["1"]

    again = deploy(request(name, tmp_path, layer, function, snapstart=True), aws=aws)
    assert again.steps == () and again.write_calls == 0
    assert again.version == "1" and again.alias_arn == result.alias_arn
    assert versions(name) == ["$LATEST", "1"]


def test_changed_code_or_configuration_publishes_a_new_version_and_moves_the_alias(
        aws: AwsClient, name: str, artifacts, tmp_path: Path) -> None:
    layer, function = artifacts()
    deploy(request(name, tmp_path, layer, function, snapstart=True), aws=aws)
    lam = Sent().attach(aws.client("lambda"))

    write_function(function, handler="v2")
    second = deploy(request(name, tmp_path, layer, function, snapstart=True), aws=aws)
    ops = [s.op for s in second.steps]
    assert ops[0] == "update_function_code" and ops[-2:] == ["publish_version", "update_alias"]
    # moto reports SnapStart off, so it is asserted again before the publish (AWS would report it on)
    assert [p["SnapStart"] for p in lam.of("UpdateFunctionConfiguration")] == [SNAPSTART_ON]
    assert client("lambda").get_alias(FunctionName=name, Name="live")["FunctionVersion"] == "2"
    assert second.version == "2"
    version = client("lambda").get_function(FunctionName=name, Qualifier="2")["Configuration"]
    assert version["CodeSha256"] == client("lambda").get_function(FunctionName=name)["Configuration"]["CodeSha256"]

    third = deploy(request(name, tmp_path, layer, function, snapstart=True, memory=1024), aws=aws)
    assert [s.op for s in third.steps] == ["update_function_configuration", "publish_version", "update_alias"]
    assert client("lambda").get_function(FunctionName=name, Qualifier="live")["Configuration"]["MemorySize"] == 1024
    assert versions(name) == ["$LATEST", "1", "2", "3"]
    assert state_of(third)["function"]["versions"] == ["1", "2", "3"]

    write_layer(layer, payload=b"# a new layer\n")
    fourth = deploy(request(name, tmp_path, layer, function, snapstart=True, memory=1024), aws=aws)
    assert [s.op for s in fourth.steps] == ["publish_layer_version", "update_function_configuration",
                                            "publish_version", "update_alias"]
    live = client("lambda").get_function(FunctionName=name, Qualifier="live")["Configuration"]
    assert [x["Arn"] for x in live["Layers"]] == [fourth.layer_version_arn]

    assert deploy(request(name, tmp_path, layer, function, snapstart=True, memory=1024), aws=aws).write_calls == 0


def test_turning_snapstart_off_moves_the_api_back_and_removes_the_alias(
        aws: AwsClient, name: str, artifacts, tmp_path: Path) -> None:
    layer, function = artifacts()
    first = deploy(request(name, tmp_path, layer, function, snapstart=True), aws=aws)
    off = deploy(request(name, tmp_path, layer, function), aws=aws)
    # the unqualified permission exists before the integration moves; the alias's goes after
    assert [s.op for s in off.steps] == ["add_permission", "update_integration", "remove_permission", "delete_alias"]
    assert http_integration_uri(off) == off.function_arn
    with pytest.raises(client("lambda").exceptions.ResourceNotFoundException):
        client("lambda").get_alias(FunctionName=name, Name="live")
    (statement,) = statements(name)
    assert statement["Resource"] == off.function_arn
    recorded = state_of(off)
    assert "alias" not in recorded and "version" not in recorded
    assert off.alias_arn is None and off.version is None
    assert deploy(request(name, tmp_path, layer, function), aws=aws).write_calls == 0

    # back on: version 1 still holds exactly this code and configuration, so nothing is published
    on = deploy(request(name, tmp_path, layer, function, snapstart=True), aws=aws)
    assert [s.op for s in on.steps] == ["create_alias", "add_permission", "update_integration", "remove_permission"]
    assert on.version == "1" and on.alias_arn == first.alias_arn
    assert http_integration_uri(on) == on.alias_arn
    assert [s["Resource"] for s in statements(name)] == [on.alias_arn]


def test_rest_api_integration_follows_the_alias(aws: AwsClient, name: str, artifacts, tmp_path: Path) -> None:
    layer, function = artifacts()
    apigw = client("apigateway")

    def proxy_uri(result) -> str:  # type: ignore[no-untyped-def]
        api_id = state_of(result)["api"]["id"]
        resources = apigw.get_resources(restApiId=api_id)["items"]
        uris = {r["path"]: apigw.get_integration(restApiId=api_id, resourceId=r["id"], httpMethod="ANY")["uri"]
                for r in resources}
        assert len(set(uris.values())) == 1, uris  # the root and {proxy+} invoke the same target
        return str(uris["/{proxy+}"])

    on = deploy(request(name, tmp_path, layer, function, snapstart=True, api=ApiKind.REST), aws=aws)
    assert proxy_uri(on).endswith(f"/functions/{on.alias_arn}/invocations")
    assert deploy(request(name, tmp_path, layer, function, snapstart=True, api=ApiKind.REST), aws=aws).write_calls == 0

    off = deploy(request(name, tmp_path, layer, function, api=ApiKind.REST), aws=aws)
    assert [s.op for s in off.steps] == ["add_permission", "update_rest_integration", "remove_permission",
                                         "delete_alias"]
    assert proxy_uri(off).endswith(f"/functions/{off.function_arn}/invocations")
    assert state_of(off)["api"]["id"] == state_of(on)["api"]["id"]  # patched in place: the URL stays
    assert deploy(request(name, tmp_path, layer, function, api=ApiKind.REST), aws=aws).write_calls == 0


def test_function_url_is_the_alias_url(aws: AwsClient, name: str, artifacts, tmp_path: Path) -> None:
    layer, function = artifacts()
    lam = Sent().attach(aws.client("lambda"))
    result = deploy(request(name, tmp_path, layer, function, snapstart=True, api=ApiKind.URL), aws=aws)
    (url,) = lam.of("CreateFunctionUrlConfig")
    assert url["Qualifier"] == "live" and url["AuthType"] == "NONE"
    assert [p["Qualifier"] for p in lam.of("AddPermission")] == ["live", "live"]
    assert sorted(s["Resource"] for s in statements(name)) == [result.alias_arn] * 2
    assert state_of(result)["url"]["qualifier"] == "live"
    assert result.endpoint == client("lambda").get_function_url_config(FunctionName=name,
                                                                       Qualifier="live")["FunctionUrl"]
    assert deploy(request(name, tmp_path, layer, function, snapstart=True, api=ApiKind.URL), aws=aws).write_calls == 0

    gone = destroy(name, root=tmp_path, aws=aws)
    ops = [s.op for s in gone.steps]
    assert ops[:2] == ["remove_permission", "remove_permission"]
    assert ops.index("delete_function_url") < ops.index("delete_alias") < ops.index("delete_function")
    (deleted,) = lam.of("DeleteFunctionUrlConfig")
    assert deleted["Qualifier"] == "live"


def test_destroy_removes_the_alias_and_every_published_version(
        aws: AwsClient, name: str, artifacts, tmp_path: Path) -> None:
    layer, function = artifacts()
    deploy(request(name, tmp_path, layer, function, snapstart=True), aws=aws)
    write_function(function, handler="v2")
    result = deploy(request(name, tmp_path, layer, function, snapstart=True), aws=aws)
    assert state_of(result)["function"]["versions"] == ["1", "2"]

    dry = destroy(name, root=tmp_path, aws=aws, dry_run=True)
    assert [s.op for s in dry.steps] == ["remove_permission", "delete_http_api", "delete_alias", "delete_function",
                                         "delete_layer_version", "delete_role"]
    assert dry.steps[3].summary == f"function {name} (and its published versions 1, 2)"

    client("lambda").delete_alias(FunctionName=name, Name="live")  # already gone: tolerated
    destroy(name, root=tmp_path, aws=aws)
    for qualifier in ("1", "2", "live"):
        with pytest.raises(client("lambda").exceptions.ResourceNotFoundException):
            client("lambda").get_function(FunctionName=name, Qualifier=qualifier)
    assert client("lambda").list_versions_by_function(FunctionName=name)["Versions"] == []
    assert not Path(result.state_file).exists()


def test_a_lost_state_file_finds_the_published_version(aws: AwsClient, name: str, artifacts, tmp_path: Path) -> None:
    layer, function = artifacts()
    first = deploy(request(name, tmp_path, layer, function, snapstart=True, api=ApiKind.NONE), aws=aws)
    Path(first.state_file).unlink()
    again = deploy(request(name, tmp_path, layer, function, snapstart=True, api=ApiKind.NONE), aws=aws)
    assert again.write_calls == 0
    assert (again.version, again.alias_arn) == ("1", first.alias_arn)


@pytest.mark.parametrize("runtime", ["python3.10", "python3.11"])
def test_snapstart_is_refused_before_anything_on_python_older_than_3_12(
        aws: AwsClient, name: str, tmp_path: Path, runtime: str) -> None:
    layer = write_layer(tmp_path / "dist" / f"layer-{runtime}-x86_64.zip", runtime=runtime)
    function = write_function(tmp_path / "dist" / "function.zip")
    with pytest.raises(DeployError) as caught:
        deploy(request(name, tmp_path, layer, function, snapstart=True), aws=aws)
    assert caught.value.message == f"--snapstart needs python3.12 or newer; this function runs on {runtime}"
    assert "without --snapstart" in caught.value.hint
    assert aws.calls == []  # not even a read
    assert not (tmp_path / ".lambdapack" / f"{name}.json").exists()
    with pytest.raises(client("lambda").exceptions.ResourceNotFoundException):
        client("lambda").get_function(FunctionName=name)
