"""deploy --dry-run without AWS: no region, no credentials, or no endpoint answering.

The plan is still printed, for an account where nothing exists, marked as not compared with
AWS and why; the command exits 0. A real deploy in the same situation still stops with the error.
"""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

ALL_CREATES = ["create_role", "attach_role_policy", "publish_layer_version", "create_function", "create_http_api",
               "create_integration", "create_route", "create_route", "create_route", "create_stage",
               "add_permission"]


@pytest.fixture
def offline(monkeypatch: pytest.MonkeyPatch) -> None:
    """No credentials, no region, no endpoint, no config files, no instance metadata."""
    for var in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_REGION",
                "AWS_DEFAULT_REGION", "AWS_ENDPOINT_URL", "AWS_PROFILE", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
                "AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_WEB_IDENTITY_TOKEN_FILE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/dev/null")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
    # botocore would otherwise ask the EC2 metadata service (off this machine) for credentials
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


def closed_port() -> int:
    """A loopback port nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_dry_run_without_region_or_credentials_prints_the_plan(offline: None, artifacts, in_tmp: Path,
                                                              run_cli) -> None:
    artifacts()
    out = run_cli("deploy", "--name", "iris", "--dry-run", "--json")
    assert out.exit_code == 0, out.stderr
    doc = out.json()
    assert doc["compared_with_aws"] is False
    assert doc["not_compared_reason"] == "no AWS region configured"
    assert [s["op"] for s in doc["steps"]] == ALL_CREATES
    assert doc["region"] == "<region>" and doc["account"] == "<account>"
    assert doc["write_calls"] == 0
    assert not (in_tmp / ".lambdapack").exists()

    human = run_cli("deploy", "--name", "iris", "--dry-run", "--snapstart")
    assert human.exit_code == 0, human.stderr
    assert "not compared with AWS (no AWS region configured): the plan below is for an account where nothing " \
           "exists yet" in human.stderr
    assert "plan for iris (<region>, account <account>): 13 action(s)" in human.stderr
    assert "alias live" in human.stderr and "dry run: nothing was changed" in human.stderr
    assert "lambdapack bug" not in human.stderr


def test_dry_run_with_a_region_but_no_credentials(offline: None, artifacts, in_tmp: Path, run_cli) -> None:
    artifacts()
    out = run_cli("deploy", "--name", "iris", "--dry-run", "--region", "eu-west-1", "--json")
    assert out.exit_code == 0, out.stderr
    doc = out.json()
    assert (doc["compared_with_aws"], doc["not_compared_reason"]) == (False, "no AWS credentials found")
    assert doc["region"] == "eu-west-1"
    permission = doc["steps"][-1]["summary"]
    assert "arn:aws:execute-api:eu-west-1:<account>:${api.id}/*" in permission

    real = run_cli("deploy", "--name", "iris", "--region", "eu-west-1")
    assert real.exit_code == 1
    assert "error: no AWS credentials found" in real.stderr


def test_dry_run_with_no_network(offline: None, artifacts, in_tmp: Path, run_cli,
                                 monkeypatch: pytest.MonkeyPatch) -> None:
    artifacts()
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAOFFLINE000000000")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "offline")
    endpoint = f"http://127.0.0.1:{closed_port()}"
    out = run_cli("deploy", "--name", "iris", "--dry-run", "--region", "us-east-1", "--endpoint-url", endpoint,
                  "--json")
    assert out.exit_code == 0, out.stderr
    doc = out.json()
    assert doc["compared_with_aws"] is False
    assert doc["not_compared_reason"].startswith(f"sts GetCallerIdentity: cannot reach {endpoint}")
    assert [s["op"] for s in doc["steps"]] == ALL_CREATES

    real = run_cli("deploy", "--name", "iris", "--region", "us-east-1", "--endpoint-url", endpoint)
    assert real.exit_code == 1
    assert f"error: sts GetCallerIdentity: cannot reach {endpoint}" in real.stderr


def test_credentials_behind_a_dead_proxy_are_an_error_not_a_bug(artifacts, in_tmp: Path, run_cli,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """With nothing configured botocore asks the instance metadata service, through HTTPS_PROXY."""
    for var in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE",
                "AWS_EC2_METADATA_DISABLED", "AWS_ENDPOINT_URL", "NO_PROXY", "no_proxy"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/dev/null")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
    dead = f"http://127.0.0.1:{closed_port()}"  # loopback only: the metadata service is never reached
    for var in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"):
        monkeypatch.setenv(var, dead)
    artifacts()
    real = run_cli("deploy", "--name", "iris", "--region", "us-east-1")
    assert real.exit_code == 1, real.stderr
    assert "error: cannot look up AWS credentials: ProxyConnectionError" in real.stderr
    assert "lambdapack bug" not in real.stderr and "HTTPS_PROXY" in real.stderr
    dry = run_cli("deploy", "--name", "iris", "--region", "us-east-1", "--dry-run", "--json")
    assert dry.exit_code == 0, dry.stderr
    assert dry.json()["not_compared_reason"].startswith("cannot look up AWS credentials")
