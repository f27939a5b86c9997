"""The one end-to-end test: real layer and model → deploy → invoke → redeploy (no write) → destroy.

moto runs the control plane faithfully but cannot execute a function without Docker: its
Lambda answers an invoke by echoing the request payload. So the test invokes through the
Lambda API against moto (the call path users run), proves the deployed code and layer are
byte-for-byte the local artifacts (Lambda's ``CodeSha256``), and runs those same artifacts in
lambdapack's local emulator, which is where the prediction is checked.
"""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path

import boto3
import pytest
from stackfiles import REGION

from lambdapack.deploy.aws import AwsClient
from lambdapack.deploy.deployer import DeployRequest, deploy, destroy
from lambdapack.deploy.remote import invoke_lambda
from lambdapack.interpreters import find_python

SEED = {"sl": 6.9, "sw": 3.1, "pl": 5.1, "pw": 2.3}


def code_sha256(path: Path) -> str:
    return base64.b64encode(hashlib.sha256(path.read_bytes()).digest()).decode()


@pytest.mark.slow
def test_deploy_invoke_redeploy_destroy(real_layer, moto: str, name: str, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from lambdapack.emulator.session import LocalFunctionSpec, invoke_local
    from lambdapack.function.manifest import read_function_manifest
    from lambdapack.function.package import package_function
    from lambdapack.model.train import train

    # the emulator and train --layer need the runtime's Python: a machine without it fails here
    assert find_python((3, 12)) is not None, "CPython 3.12 is needed to train and run the function"
    layer = real_layer(runtime="python3.12", arch="x86_64", compile=False)
    train(layer=layer, out=tmp_path / "model")
    function = package_function(tmp_path / "model", tmp_path / "dist" / "function.zip", layer).path
    request = DeployRequest(name=name, layer=layer, function=function, root=tmp_path)

    # --dry-run: every action listed, nothing written
    planner_view = AwsClient(sleep=lambda s: None)
    dry = deploy(request, aws=planner_view, dry_run=True)
    assert planner_view.writes == []
    assert not (tmp_path / ".lambdapack" / f"{name}.json").exists()

    aws = AwsClient(sleep=lambda s: None)
    applied = deploy(request, aws=aws)
    assert [s.op for s in applied.steps] == [s.op for s in dry.steps]
    assert {"create_role", "publish_layer_version", "create_function", "create_http_api", "add_permission"} <= {
        s.op for s in applied.steps}

    lam = boto3.client("lambda", region_name=REGION)
    deployed = lam.get_function(FunctionName=name)["Configuration"]
    assert deployed["CodeSha256"] == code_sha256(function)
    layer_name, version = applied.layer_version_arn.rsplit(":", 2)[-2:]  # type: ignore[union-attr]
    published = lam.get_layer_version(LayerName=layer_name, VersionNumber=int(version))
    assert published["Content"]["CodeSha256"] == code_sha256(layer)

    # through the Lambda API, as `lambdapack invoke --name` does: moto echoes the payload
    remote = invoke_lambda(name, SEED, logs=True, root=tmp_path, aws=aws)
    assert remote.status_code == 200 and remote.function_error is None
    assert remote.payload == SEED

    # the same bytes, run for real in the local emulator
    local = invoke_local(LocalFunctionSpec(function_zip=function, layers=(layer,)), json.dumps(SEED).encode())
    assert local.ok
    assert local.payload == {"statusCode": 200, "body": "virginica"}

    # a rerun with nothing changed makes no write call at all
    rerun = AwsClient(sleep=lambda s: None)
    again = deploy(request, aws=rerun)
    assert again.steps == () and rerun.writes == []
    assert {c.operation for c in rerun.calls} >= {"GetFunction", "GetRole", "ListLayerVersions", "GetApi"}

    state = json.loads((tmp_path / ".lambdapack" / f"{name}.json").read_text())["resources"]
    destroy(name, root=tmp_path, aws=rerun)
    assert not (tmp_path / ".lambdapack" / f"{name}.json").exists()
    with pytest.raises(lam.exceptions.ResourceNotFoundException):
        lam.get_function(FunctionName=name)
    assert lam.list_layer_versions(LayerName=layer_name)["LayerVersions"] == []
    iam = boto3.client("iam", region_name=REGION)
    with pytest.raises(iam.exceptions.NoSuchEntityException):
        iam.get_role(RoleName=f"lambdapack-{name}-role")
    v2 = boto3.client("apigatewayv2", region_name=REGION)
    assert state["api"]["id"] not in [a["ApiId"] for a in v2.get_apis()["Items"]]
    if "bucket" in state:  # the slimmed layer is near 50 MB: it may have gone through S3
        s3 = boto3.client("s3", region_name=REGION)
        assert state["bucket"]["name"] not in [b["Name"] for b in s3.list_buckets()["Buckets"]]

    # the same zip alone: iris is served by the stdlib predictor, so it needs no layer; behind SnapStart
    assert read_function_manifest(function).needs_layer is False
    alone = DeployRequest(name=name, function=function, root=tmp_path, no_layer=True, snapstart=True)
    solo = deploy(alone, aws=aws)
    live = lam.get_function(FunctionName=name, Qualifier="live")["Configuration"]
    assert live.get("Layers", []) == [] and live["CodeSha256"] == code_sha256(function)
    assert live["Runtime"] == "python3.12" and solo.version == "1"
    assert deploy(alone, aws=AwsClient(sleep=lambda s: None)).write_calls == 0
    bare = invoke_local(LocalFunctionSpec(function_zip=function, layers=(), runtime="python3.12"),
                        json.dumps(SEED).encode())
    assert bare.ok and bare.payload == {"statusCode": 200, "body": "virginica"}
    destroy(name, root=tmp_path, aws=aws)
    with pytest.raises(lam.exceptions.ResourceNotFoundException):
        lam.get_function(FunctionName=name)
