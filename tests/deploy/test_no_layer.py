"""deploy --no-layer: the function alone, for a package whose function.json says it needs no layer."""

from __future__ import annotations

import json
from pathlib import Path

import boto3
import pytest
from stackfiles import REGION, Sent, write_function, write_function_with_manifest

from lambdapack.deploy.aws import AwsClient
from lambdapack.deploy.deployer import DeployRequest, deploy, destroy
from lambdapack.deploy.models import ApiKind
from lambdapack.errors import LambdapackError


def lam():  # type: ignore[no-untyped-def]
    return boto3.client("lambda", region_name=REGION)


def request(name: str, tmp_path: Path, function: Path, **kw: object) -> DeployRequest:
    return DeployRequest(name=name, function=function, root=tmp_path, no_layer=True, **kw)  # type: ignore[arg-type]


def test_a_layer_free_function_deploys_alone(aws: AwsClient, name: str, tmp_path: Path) -> None:
    function = write_function_with_manifest(tmp_path / "dist" / "function.zip", needs_layer=False,
                                            runtime="python3.13")
    sent = Sent().attach(aws.client("lambda"))
    result = deploy(request(name, tmp_path, function, api=ApiKind.NONE), aws=aws)
    assert {c.operation for c in aws.writes} == {"CreateRole", "AttachRolePolicy", "CreateFunction"}
    (create,) = sent.of("CreateFunction")
    assert create["Layers"] == []
    cfg = lam().get_function_configuration(FunctionName=name)
    assert cfg.get("Layers", []) == []
    assert cfg["Runtime"] == "python3.13"  # the runtime function.json records
    assert result.layer_version_arn is None
    assert "layer" not in json.loads(Path(result.state_file).read_text())["resources"]
    assert lam().list_layer_versions(LayerName=f"{name}-deps")["LayerVersions"] == []

    again = deploy(request(name, tmp_path, function, api=ApiKind.NONE), aws=aws)
    assert again.write_calls == 0
    newer = deploy(request(name, tmp_path, function, api=ApiKind.NONE, runtime="python3.14"), aws=aws)
    assert [s.op for s in newer.steps] == ["update_function_configuration"]  # --runtime wins
    assert lam().get_function_configuration(FunctionName=name)["Runtime"] == "python3.14"
    destroy(name, root=tmp_path, aws=aws)


def test_no_layer_without_a_recorded_runtime_takes_the_default(aws: AwsClient, name: str, tmp_path: Path) -> None:
    function = write_function_with_manifest(tmp_path / "function.zip", needs_layer=False, runtime=None)
    result = deploy(request(name, tmp_path, function, api=ApiKind.NONE), aws=aws, dry_run=True)
    (create,) = [s for s in result.steps if s.op == "create_function"]
    assert create.summary == f"function {name} (python3.12, x86_64, 512 MB, 30 s, no layer)"


def test_a_layered_stack_drops_its_layer(aws: AwsClient, name: str, artifacts, tmp_path: Path) -> None:
    layer, _ = artifacts()
    function = write_function_with_manifest(tmp_path / "dist" / "function.zip", needs_layer=False)
    first = deploy(DeployRequest(name=name, layer=layer, function=function, root=tmp_path, api=ApiKind.NONE),
                   aws=aws)
    assert [x["Arn"] for x in lam().get_function_configuration(FunctionName=name)["Layers"]] == [
        first.layer_version_arn]
    second = deploy(request(name, tmp_path, function, api=ApiKind.NONE), aws=aws)
    assert [s.op for s in second.steps] == ["update_function_configuration"]
    assert "Layers" in second.steps[0].summary
    assert lam().get_function_configuration(FunctionName=name).get("Layers", []) == []
    # the layer version stays on record until destroy removes it
    recorded = json.loads(Path(second.state_file).read_text())["resources"]
    assert recorded["layer"]["versions"] == [first.layer_version_arn]
    gone = destroy(name, root=tmp_path, aws=aws)
    assert "delete_layer_version" in [s.op for s in gone.steps]


@pytest.mark.parametrize("needs_layer", [True, None])
def test_a_function_that_needs_its_layer_is_refused_before_any_aws_call(
        aws: AwsClient, name: str, tmp_path: Path, needs_layer: bool | None) -> None:
    if needs_layer is None:  # packaged before function.json existed: it reads as needing the layer
        function = write_function(tmp_path / "function.zip")
    else:
        function = write_function_with_manifest(tmp_path / "function.zip", needs_layer=True)
    with pytest.raises(LambdapackError) as caught:
        deploy(request(name, tmp_path, function), aws=aws)
    assert caught.value.message.startswith(f"{function} needs its scikit-learn layer: it serves by joblib")
    assert "drop --no-layer" in caught.value.hint
    assert aws.calls == []
    with pytest.raises(lam().exceptions.ResourceNotFoundException):
        lam().get_function(FunctionName=name)


def test_no_layer_through_the_cli(moto: str, name: str, in_tmp: Path, run_cli) -> None:
    write_function_with_manifest(in_tmp / "dist" / "function.zip", needs_layer=False)
    out = run_cli("deploy", "--name", name, "--no-layer", "--api", "url", "--dry-run", "--json")
    assert out.exit_code == 0, out.stderr
    assert [s["op"] for s in out.json()["steps"]] == ["create_role", "attach_role_policy", "create_function",
                                                      "create_function_url", "add_permission", "add_permission"]
    both = run_cli("deploy", "--name", name, "--no-layer", "--layer", "dist/layer.zip")
    assert both.exit_code == 1 and "error: --layer and --no-layer are exclusive" in both.stderr

    write_function_with_manifest(in_tmp / "dist" / "function.zip", needs_layer=True)
    refused = run_cli("deploy", "--name", name, "--no-layer")
    assert refused.exit_code == 1
    assert f"error: {in_tmp / 'dist' / 'function.zip'} needs its scikit-learn layer" in refused.stderr
    assert "hint: drop --no-layer" in refused.stderr
