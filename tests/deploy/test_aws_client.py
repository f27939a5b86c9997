"""AwsClient: the standard AWS environment, error translation and the write log."""

from __future__ import annotations

from pathlib import Path

import pytest
from stackfiles import VERSIONS, write_layer

from lambdapack.deploy.aws import AwsCallError, AwsClient, is_write
from lambdapack.errors import DeployError


def test_profile_region_and_endpoint_come_from_the_standard_environment(
        moto: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "config"
    config.write_text("[profile dev]\nregion = eu-west-2\n")
    credentials = tmp_path / "credentials"
    credentials.write_text("[dev]\naws_access_key_id = AKIADEVPROFILE000001\naws_secret_access_key = dev\n")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(credentials))
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    monkeypatch.delenv("AWS_REGION")
    monkeypatch.setenv("AWS_PROFILE", "dev")

    aws = AwsClient()
    assert aws.profile == "dev"
    assert aws.region == "eu-west-2"
    assert aws.check_region() == "eu-west-2"
    assert aws.check_credentials() == "123456789012"  # signed with the profile's key, answered by moto
    assert aws.client("lambda").meta.endpoint_url == moto
    assert aws.client("lambda").meta.region_name == "eu-west-2"

    monkeypatch.setenv("AWS_DEFAULT_REGION", "ap-south-1")
    assert AwsClient().region == "ap-south-1"  # the environment beats the profile
    monkeypatch.setenv("AWS_REGION", "us-west-2")
    assert AwsClient().region == "us-west-2"
    assert AwsClient(region="eu-central-1").region == "eu-central-1"  # and --region beats everything


def test_an_unknown_profile(moto: str) -> None:
    with pytest.raises(DeployError) as caught:
        AwsClient(profile="nope")
    assert caught.value.message == "AWS profile 'nope' not found"


def test_errors_are_translated_with_codes_and_hints(aws: AwsClient) -> None:
    with pytest.raises(AwsCallError) as caught:
        aws.call("lambda", "get_function", FunctionName="does-not-exist-anywhere")
    assert caught.value.code == "ResourceNotFoundException"
    assert caught.value.message.startswith("lambda GetFunction failed: ResourceNotFoundException")
    assert aws.call_or_none("lambda", "get_function", FunctionName="does-not-exist-anywhere") is None

    with pytest.raises(DeployError, match="invalid request"):
        aws.call("lambda", "get_function")  # botocore's ParamValidationError, before any request
    assert [c.write for c in aws.calls] == [False, False, False]


def test_the_call_log_marks_writes(aws: AwsClient, name: str, tmp_path: Path) -> None:
    layer = write_layer(tmp_path / "layer.zip", versions=VERSIONS)
    aws.call("lambda", "list_functions")
    aws.call("lambda", "publish_layer_version", LayerName=f"{name}-probe", Content={"ZipFile": layer.read_bytes()})
    assert [(c.operation, c.write) for c in aws.calls] == [("ListFunctions", False), ("PublishLayerVersion", True)]
    assert [c.operation for c in aws.writes] == ["PublishLayerVersion"]
    assert not is_write("GetPolicy") and not is_write("Invoke") and is_write("AddPermission")
