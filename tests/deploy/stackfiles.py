"""Tiny synthetic layer and function zips (valid layer record and model manifest) for deploy tests."""

from __future__ import annotations

import contextlib
import json
import os
import zipfile
from collections.abc import Iterator
from pathlib import Path

# A distinctive fake key, so a test can prove it never reaches output or the state file.
TEST_ACCESS_KEY = "AKIALAMBDAPACKTEST42"
TEST_SECRET_KEY = "lambdapack/secret/never-print-me"
REGION = "us-east-1"
VERSIONS = {"scikit-learn": "1.7.2", "numpy": "2.2.6", "scipy": "1.16.3", "joblib": "1.5.2"}



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


def moto_post(url: str, body: dict[str, object] | None = None) -> None:
    """POST JSON to a moto server's control API (``/moto-api/...``)."""
    import urllib.request

    req = urllib.request.Request(url, data=json.dumps(body or {}).encode(), method="POST",
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as resp:
        resp.read()


@contextlib.contextmanager
def moto_server_running() -> Iterator[str]:
    """A real moto server on 127.0.0.1 (a free port); yields ``http://127.0.0.1:PORT``."""
    from moto.server import ThreadedMotoServer

    # read when moto builds its IAM backend: loads AWSLambdaBasicExecutionRole & co.
    os.environ["MOTO_IAM_LOAD_MANAGED_POLICIES"] = "true"
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        url = f"http://{host}:{port}"
        # without Docker moto cannot run a function; its "simple" Lambda echoes the payload instead
        moto_post(f"{url}/moto-api/config", {"lambda": {"use_docker": False}})
        yield url
    finally:
        server.stop()


class Sent:
    """What lambdapack sends: botocore ``before-parameter-build`` hooks on the real clients.

    moto accepts some parameters without keeping them (SnapStart reads back as off): the
    request parameters are the evidence of what lambdapack asked AWS for. Upload bytes are
    left out of the record.
    """

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, object]]] = []

    def attach(self, client: object) -> Sent:
        client.meta.events.register("before-parameter-build", self._record)  # type: ignore[attr-defined]
        return self

    def _record(self, params: dict[str, object], model: object, **_: object) -> None:
        kept = {k: v for k, v in params.items() if k not in ("ZipFile", "Code", "Content", "Body")}
        self.calls.append((model.name, json.loads(json.dumps(kept, default=str))))  # type: ignore[attr-defined]

    def of(self, operation: str) -> list[dict[str, object]]:
        return [params for name, params in self.calls if name == operation]

    def operations(self) -> list[str]:
        return [name for name, _ in self.calls]


def write_function_with_manifest(path: Path, *, needs_layer: bool, runtime: str | None = "python3.12",
                                 handler: str = "v1") -> Path:
    """A function zip with a hand-written ``function.json`` (what ``lambdapack package`` writes)."""
    from lambdapack.archive import ZipEntry, write_zip
    from lambdapack.function.manifest import FunctionManifest

    manifest = FunctionManifest(
        serving="joblib" if needs_layer else "predictor",
        reason="the estimator needs scikit-learn" if needs_layer else "a forest the stdlib predictor evaluates",
        needs_layer=needs_layer, runtime=runtime, predictor=None)
    handler_code = f"# {handler}\ndef lambda_handler(event, context):\n    return event\n".encode()
    path.parent.mkdir(parents=True, exist_ok=True)
    write_zip(path, [ZipEntry("lambda_function.py", handler_code), ZipEntry("function.json", manifest.to_bytes())])
    return path
