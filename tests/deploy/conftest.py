"""A real moto server on loopback for the deploy tests, and tiny synthetic layer/function zips."""

from __future__ import annotations

import json
import os
import urllib.request
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from lambdapack.deploy.aws import AwsClient

# A distinctive fake key, so a test can prove it never reaches output or the state file.
TEST_ACCESS_KEY = "AKIALAMBDAPACKTEST42"
TEST_SECRET_KEY = "lambdapack/secret/never-print-me"
REGION = "us-east-1"
VERSIONS = {"scikit-learn": "1.7.2", "numpy": "2.2.6", "scipy": "1.16.3", "joblib": "1.5.2"}


def _post(url: str, body: dict[str, object] | None = None) -> None:
    data = json.dumps(body or {}).encode()
    req = urllib.request.Request(url, data=data, method="POST", headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as resp:
        resp.read()


@pytest.fixture(scope="session")
def moto_server() -> Iterator[str]:
    """``http://127.0.0.1:PORT`` of a moto server for the whole session."""
    from moto.server import ThreadedMotoServer

    # read when moto builds its IAM backend: loads AWSLambdaBasicExecutionRole & co.
    os.environ["MOTO_IAM_LOAD_MANAGED_POLICIES"] = "true"
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    url = f"http://{host}:{port}"
    # without Docker moto cannot run a function; its "simple" Lambda echoes the payload instead
    _post(f"{url}/moto-api/config", {"lambda": {"use_docker": False}})
    yield url
    server.stop()


@pytest.fixture
def moto(moto_server: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """A freshly reset moto account, reached through the standard environment variables."""
    _post(f"{moto_server}/moto-api/reset")
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_server)
    monkeypatch.setenv("AWS_REGION", REGION)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", TEST_ACCESS_KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", TEST_SECRET_KEY)
    return moto_server


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def aws(moto: str, sleeps: list[float]) -> AwsClient:
    """The same client users get, with sleep recorded instead of slept."""
    return AwsClient(sleep=sleeps.append, waiter_delay=1)


def layer_record(runtime: str | None = "python3.12", arch: str = "x86_64",
                 versions: dict[str, str] | None = None) -> dict[str, object]:
    py = (runtime or "python3.12").removeprefix("python")
    packages = [{"name": n, "version": v, "wheel": f"{n}-{v}.whl", "sha256": "0" * 64}
                for n, v in sorted((versions or VERSIONS).items())]
    return {"schema": "lambdapack.layer/1", "runtime": runtime, "arch": arch, "python_version": py,
            "abi": "cp" + py.replace(".", ""), "glibc": "2.34", "platforms": [],
            "site_packages": f"python/lib/python{py}/site-packages", "packages": packages,
            "options": {}, "compiled_with": None}


def write_layer(path: Path, *, runtime: str | None = "python3.12", arch: str = "x86_64",
                versions: dict[str, str] | None = None, payload: bytes = b"# layer\n",
                extra_unzipped: int = 0) -> Path:
    """A small valid layer zip (record at the root); ``payload`` makes it any size."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("lambdapack-layer.json", json.dumps(layer_record(runtime, arch, versions)))
        py = (runtime or "python3.12").removeprefix("python")
        zf.writestr(zipfile.ZipInfo(f"python/lib/python{py}/site-packages/blob.bin"), payload,
                    compress_type=zipfile.ZIP_STORED)
        if extra_unzipped:
            # highly compressible: a huge unzipped size in a tiny zip
            zf.writestr(f"python/lib/python{py}/site-packages/zeros.bin", b"\0" * extra_unzipped,
                        compress_type=zipfile.ZIP_DEFLATED)
    return path


def write_function(path: Path, *, versions: dict[str, str] | None = None, handler: str = "v1") -> Path:
    """A small function zip: the handler file and a model manifest."""
    path.parent.mkdir(parents=True, exist_ok=True)
    manifest = {"schema": "lambdapack.model/1", "task": "classification",
                "versions": {"python": "3.12.1", **(versions or VERSIONS)},
                "model": {"file": "model.joblib", "bytes": 1, "sha256": "0" * 64}}
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("lambda_function.py", f"# {handler}\ndef lambda_handler(event, context):\n    return event\n")
        zf.writestr("model/model.json", json.dumps(manifest))
        zf.writestr("model/model.joblib", b"x")
    return path


@pytest.fixture
def artifacts(tmp_path: Path) -> Callable[..., tuple[Path, Path]]:
    """``make(**layer_kwargs) -> (layer.zip, function.zip)`` under tmp_path/dist."""

    def make(**layer_kwargs: object) -> tuple[Path, Path]:
        layer = write_layer(tmp_path / "dist" / "layer-python3.12-x86_64.zip", **layer_kwargs)  # type: ignore[arg-type]
        function = write_function(tmp_path / "dist" / "function.zip")
        return layer, function

    return make
