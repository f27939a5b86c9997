"""Bad input stops a deploy before any AWS write, with one clear message and a hint."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest
from stackfiles import VERSIONS, write_function, write_layer

from lambdapack import targets
from lambdapack.deploy.aws import AwsClient
from lambdapack.deploy.deployer import DeployRequest, deploy
from lambdapack.errors import LambdapackError, VersionMismatchError


def attempt(aws: AwsClient, tmp_path: Path, **kw: object) -> LambdapackError:
    kw.setdefault("name", "iris")
    kw.setdefault("layer", tmp_path / "dist" / "layer-python3.12-x86_64.zip")
    kw.setdefault("function", tmp_path / "dist" / "function.zip")
    with pytest.raises(LambdapackError) as caught:
        deploy(DeployRequest(root=tmp_path, **kw), aws=aws)  # type: ignore[arg-type]
    assert aws.writes == [], "a refused deploy must not write anything"
    assert not (tmp_path / ".lambdapack").exists()
    assert caught.value.hint
    return caught.value


@pytest.mark.parametrize("bad", ["", "9lives", "has space", "x" * 41, "semi;colon", "dot.ted", "ünï"])
def test_a_name_aws_would_reject(aws: AwsClient, artifacts, tmp_path: Path, bad: str) -> None:
    artifacts()
    error = attempt(aws, tmp_path, name=bad)
    assert error.message == f"invalid stack name {bad!r}"
    assert aws.calls == []  # refused before even reading the account


def test_the_longest_valid_name_fits_every_aws_limit(aws: AwsClient, artifacts, tmp_path: Path) -> None:
    layer, function = artifacts()
    name = "N" + "a_b-" * 9 + "z" * 3  # 40 characters, mixed case: the bucket name falls back to a hash
    result = deploy(DeployRequest(name=name, layer=layer, function=function, root=tmp_path), aws=aws, dry_run=True)
    assert result.steps[0].summary.startswith(f"IAM role lambdapack-{name}-role")
    assert len(f"lambdapack-{name}-role") <= 64


def test_no_credentials(moto: str, artifacts, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    artifacts()
    for var in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.delenv(var)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")  # never ask an instance metadata service
    error = attempt(AwsClient(sleep=lambda s: None), tmp_path)
    assert error.message == "no AWS credentials found"
    assert "aws configure" in error.hint


def test_an_unknown_region(moto: str, artifacts, tmp_path: Path) -> None:
    artifacts()
    aws = AwsClient(region="us-middle-7", sleep=lambda s: None)
    error = attempt(aws, tmp_path)
    assert error.message == "unknown AWS region 'us-middle-7'"
    assert aws.calls == []


def test_no_region_at_all(moto: str, artifacts, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    artifacts()
    monkeypatch.delenv("AWS_REGION")
    monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)
    error = attempt(AwsClient(sleep=lambda s: None), tmp_path)
    assert error.message == "no AWS region configured"


def test_a_layer_for_another_runtime(aws: AwsClient, tmp_path: Path) -> None:
    layer = write_layer(tmp_path / "dist" / "layer-python3.11-x86_64.zip", runtime="python3.11")
    write_function(tmp_path / "dist" / "function.zip")
    error = attempt(aws, tmp_path, layer=layer, runtime="python3.12")
    assert error.message == "layer layer-python3.11-x86_64.zip is for python3.11, the function is for python3.12"
    assert "build-layer --runtime python3.12 --arch x86_64" in error.hint
    assert aws.calls == []


def test_a_layer_for_another_arch(aws: AwsClient, tmp_path: Path) -> None:
    layer = write_layer(tmp_path / "dist" / "layer-python3.12-arm64.zip", arch="arm64")
    write_function(tmp_path / "dist" / "function.zip")
    error = attempt(aws, tmp_path, layer=layer, arch="x86_64")
    assert error.message == "layer layer-python3.12-arm64.zip is for arm64, the function is for x86_64"


def test_a_model_the_layer_cannot_load(aws: AwsClient, tmp_path: Path) -> None:
    write_layer(tmp_path / "dist" / "layer-python3.12-x86_64.zip")
    write_function(tmp_path / "dist" / "function.zip", versions={**VERSIONS, "scikit-learn": "1.5.2"})
    error = attempt(aws, tmp_path)
    assert isinstance(error, VersionMismatchError)
    assert error.message == (f"the model and the layer disagree: scikit-learn 1.5.2 (model) vs layer has "
                             f"{VERSIONS['scikit-learn']}")
    assert "build-layer --model" in error.hint


def test_over_the_unzipped_size_limit(aws: AwsClient, tmp_path: Path) -> None:
    layer = tmp_path / "dist" / "layer-python3.12-x86_64.zip"
    write_layer(layer)
    # stream zeros into the zip: a real 250 MB+ unzipped layer without holding it in memory
    with zipfile.ZipFile(layer, "a") as zf, zf.open("python/lib/python3.12/site-packages/huge.bin", "w") as out:
        chunk = b"\0" * (1 << 20)
        for _ in range(targets.UNZIPPED_LIMIT // len(chunk) + 1):
            out.write(chunk)
    write_function(tmp_path / "dist" / "function.zip")
    error = attempt(aws, tmp_path)
    assert "over Lambda's 262,144,000" in error.message
    assert aws.calls == []


def test_a_layer_without_a_build_record(aws: AwsClient, tmp_path: Path) -> None:
    layer = tmp_path / "dist" / "layer-python3.12-x86_64.zip"
    layer.parent.mkdir(parents=True)
    with zipfile.ZipFile(layer, "w") as zf:
        zf.writestr("python/sklearn/__init__.py", "")
    write_function(tmp_path / "dist" / "function.zip")
    error = attempt(aws, tmp_path)
    assert "no lambdapack-layer.json" in error.message


def test_missing_and_corrupt_inputs(aws: AwsClient, tmp_path: Path) -> None:
    error = attempt(aws, tmp_path)
    assert error.message == f"layer {tmp_path / 'dist' / 'layer-python3.12-x86_64.zip'} not found"
    write_layer(tmp_path / "dist" / "layer-python3.12-x86_64.zip")
    (tmp_path / "dist" / "function.zip").write_bytes(b"not a zip")
    error = attempt(aws, tmp_path)
    assert "not a valid zip archive" in error.message


def test_memory_timeout_and_exclusive_inputs(aws: AwsClient, artifacts, tmp_path: Path) -> None:
    artifacts()
    assert "--memory 64" in attempt(aws, tmp_path, memory=64).message
    assert "--timeout 901" in attempt(aws, tmp_path, timeout=901).message
    assert attempt(aws, tmp_path, model=tmp_path / "m").message == "--function and --model are exclusive"


def test_state_for_another_region_is_not_overwritten(aws: AwsClient, artifacts, tmp_path: Path) -> None:
    artifacts()
    state = tmp_path / ".lambdapack" / "iris.json"
    state.parent.mkdir()
    recorded = {"schema": "lambdapack.deploy/1", "name": "iris", "region": "eu-west-1", "account": "123456789012",
                "api": "http", "resources": {}}
    state.write_text(json.dumps(recorded))
    with pytest.raises(LambdapackError, match="eu-west-1") as caught:
        deploy(DeployRequest(name="iris", layer=tmp_path / "dist" / "layer-python3.12-x86_64.zip",
                             function=tmp_path / "dist" / "function.zip", root=tmp_path), aws=aws)
    assert "--region eu-west-1" in caught.value.hint
    assert aws.writes == []
    assert json.loads(state.read_text()) == recorded


def test_cli_reports_error_and_hint_and_exits_1(moto: str, artifacts, in_tmp: Path, run_cli) -> None:
    artifacts()
    out = run_cli("deploy", "--name", "bad name")
    assert out.exit_code == 1
    assert out.stdout == ""
    lines = out.stderr.strip().splitlines()
    assert lines[0] == "error: invalid stack name 'bad name'"
    assert lines[1].startswith("hint: use 1-40 letters")


def test_a_concurrent_deploy_of_the_same_stack_is_refused(aws: AwsClient, artifacts, tmp_path: Path) -> None:
    from filelock import FileLock

    layer, function = artifacts()
    (tmp_path / ".lambdapack").mkdir()
    with FileLock(str(tmp_path / ".lambdapack" / "iris.json.lock")), pytest.raises(LambdapackError) as caught:
        deploy(DeployRequest(name="iris", layer=layer, function=function, root=tmp_path), aws=aws)
    assert caught.value.message == "another deploy or destroy of 'iris' is running here"
    assert aws.writes == []
