"""A real moto server on loopback for the deploy tests, and tiny synthetic layer/function zips."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from stackfiles import (
    REGION,
    TEST_ACCESS_KEY,
    TEST_SECRET_KEY,
    moto_server_running,
    write_function,
    write_layer,
)

from lambdapack.deploy.aws import AwsClient


@pytest.fixture(scope="session")
def moto_server() -> Iterator[str]:
    """``http://127.0.0.1:PORT`` of a moto server for the whole session."""
    with moto_server_running() as url:
        yield url


@pytest.fixture
def moto(moto_server: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """The moto server, reached through the standard environment variables.

    The account is not reset between tests (a reset reloads IAM's ~1,000 managed policies,
    seconds each time): every test deploys under its own ``name`` and reads back only
    that stack's resources.
    """
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_server)
    monkeypatch.setenv("AWS_REGION", REGION)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", TEST_ACCESS_KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", TEST_SECRET_KEY)
    return moto_server


@pytest.fixture
def name(request: pytest.FixtureRequest) -> str:
    """A stack name unique to the test (lower case, so its bucket name stays readable)."""
    return "t" + hashlib.sha256(request.node.nodeid.encode()).hexdigest()[:10]


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def aws(moto: str, sleeps: list[float]) -> AwsClient:
    """The same client users get, with sleep recorded instead of slept."""
    return AwsClient(sleep=sleeps.append, waiter_delay=1)


@pytest.fixture
def artifacts(tmp_path: Path) -> Callable[..., tuple[Path, Path]]:
    """``make(**layer_kwargs) -> (layer.zip, function.zip)`` under tmp_path/dist."""

    def make(**layer_kwargs: object) -> tuple[Path, Path]:
        layer = write_layer(tmp_path / "dist" / "layer-python3.12-x86_64.zip", **layer_kwargs)  # type: ignore[arg-type]
        function = write_function(tmp_path / "dist" / "function.zip")
        return layer, function

    return make
