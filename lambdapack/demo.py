"""``lambdapack demo``: the guide end to end, locally, with no AWS account and no Docker.

1. pick the Lambda runtime whose Python is on this machine (python3.12 first, then 3.13,
   3.11, 3.10);
2. build the scikit-learn layer for it and this machine's architecture (wheel cache reused;
   an existing ``dist/layer-<runtime>-<arch>.zip`` with the same packages is reused);
3. train the guide's iris RandomForest inside that layer's environment (reused when
   ``build/model`` already holds it, with versions that agree with the layer);
4. package the function;
5. start the emulator, send the guide's event (cold, then warm), and put the HTTP front on
   it for one ``POST /predict`` like the guide's ``curl``.

Every artifact lands where the next commands expect it (``dist/``, ``build/model``), so
``lambdapack serve`` or ``lambdapack deploy`` pick up where the demo stops.
"""

from __future__ import annotations

import http.client
import json
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lambdapack import defaults, interpreters, targets
from lambdapack.errors import InterpreterError, LambdapackError, ModelError
from lambdapack.events import SEED_EVENT
from lambdapack.layer.inspect import LayerInfo, inspect_layer
from lambdapack.model import version_rule

# the order the demo looks for a runtime whose Python is installed here
RUNTIME_PREFERENCE = ("python3.12", "python3.13", "python3.11", "python3.10")
GUIDE_BODY = b'{"sl":6.9,"sw":3.1,"pl":5.1,"pw":2.3}'
WARM_RUNS = 20

Step = Callable[[str], None]


@dataclass(frozen=True)
class DemoLayer:
    path: Path
    runtime: str
    arch: str
    zip_bytes: int
    unzipped_bytes: int
    direct_upload_limit: int
    unzipped_limit: int
    packages: dict[str, str]
    reused: bool
    seconds: float


@dataclass(frozen=True)
class DemoModel:
    directory: Path
    estimator: str
    dataset: str
    accuracy: float | None
    reused: bool
    seconds: float


@dataclass(frozen=True)
class DemoReport:
    runtime: str
    python: str
    layer: DemoLayer
    model: DemoModel
    function: Path
    function_bytes: int
    serving: str  # "predictor" (the stdlib predictor) or "joblib"
    serving_reason: str
    event: dict[str, float]
    response: Any  # what the guide's event returns
    cold_ms: float  # first invoke round trip, init included
    init_ms: float | None
    warm_ms: float  # median warm round trip
    warm_runs: int
    max_memory_mb: int
    memory_mb: int
    http_request: str
    http_status: int
    http_body: Any
    seconds: float
    next_steps: tuple[str, ...]


def pick_runtime(explicit: str | None = None) -> tuple[str, Path]:
    """The runtime to demo (``explicit`` or the first of RUNTIME_PREFERENCE with a Python here)."""
    candidates = (explicit,) if explicit else RUNTIME_PREFERENCE
    for runtime in candidates:
        python = interpreters.find_python(targets.get_runtime(runtime).python)
        if python is not None:
            return runtime, python
    if explicit:
        version = targets.get_runtime(explicit).python
        raise InterpreterError(f"no Python {version[1]} here for {explicit}",
                               hint=interpreters.install_hint(version) + ", or choose another --runtime")
    raise InterpreterError(
        "no CPython 3.10-3.13 found on PATH, in pyenv or among uv's Pythons: the demo needs the runtime's own Python",
        hint=interpreters.install_hint((3, 12)) + ", then run the demo again")


def _reusable_layer(path: Path, runtime: str, arch: str) -> LayerInfo | None:
    """The layer already in ``dist/`` when it is a lambdapack layer for this runtime and arch with the guide's stack."""
    if not path.is_file():
        return None
    try:
        layer = inspect_layer(path)
    except LambdapackError:
        return None  # unusable: built again
    if layer.record is None or layer.runtime != runtime or layer.arch != arch:
        return None
    return layer if {"scikit-learn", "joblib"} <= set(layer.versions) else None


def ensure_layer(root: Path, runtime: str, arch: str, rebuild: bool, step: Step) -> DemoLayer:
    started = time.monotonic()
    path = root / defaults.layer_zip(f"{runtime}-{arch}")
    layer = None if rebuild else _reusable_layer(path, runtime, arch)
    reused = layer is not None
    if layer is None:
        from lambdapack.layer.build import LayerOptions, build_layer

        step(f"building the scikit-learn layer for {runtime} {arch} (the first run downloads ~60 MB of wheels)")
        build_layer(LayerOptions(runtime=runtime, arch=arch, out=path, check=False),
                    on_step=lambda description, _advance, _total: step(f"  {description}"))
        layer = inspect_layer(path)
    else:
        step(f"reusing {path} (pass --rebuild to build it again)")
    return DemoLayer(path=path, runtime=runtime, arch=arch, zip_bytes=layer.zip_bytes,
                     unzipped_bytes=layer.unzipped_bytes, direct_upload_limit=targets.DIRECT_UPLOAD_LIMIT,
                     unzipped_limit=targets.UNZIPPED_LIMIT, packages=layer.versions, reused=reused,
                     seconds=round(time.monotonic() - started, 2))


def ensure_model(root: Path, layer: DemoLayer, python: Path, step: Step) -> DemoModel:
    from lambdapack.model.manifest import load_manifest

    started = time.monotonic()
    directory = root / defaults.MODEL_DIR
    manifest = None
    if (directory / "model.json").is_file():
        try:
            manifest = load_manifest(directory)
        except ModelError:
            manifest = None
        if manifest is not None and not _is_guide_model(manifest):
            raise ModelError(f"{directory} holds another model ({manifest.estimator.class_path} on "
                             f"{manifest.dataset.name if manifest.dataset else 'imported data'})",
                             hint="the demo would overwrite it: run the demo in another directory (--dir DIR)")
    reused = manifest is not None and not version_rule.version_mismatches(manifest.versions, layer.packages)
    if manifest is not None and reused:
        step(f"reusing the model in {directory} (its versions match the layer)")
    else:
        from lambdapack.model.train import train

        step(f"training the iris RandomForest inside the layer's environment (Python {layer.runtime[6:]})")
        train(out=directory, layer=layer.path, python=str(python))
        manifest = load_manifest(directory)
    return DemoModel(directory=directory, estimator=manifest.estimator.class_path.rpartition(".")[2],
                     dataset=manifest.dataset.name if manifest.dataset else "imported",
                     accuracy=manifest.metrics.get("accuracy"), reused=reused,
                     seconds=round(time.monotonic() - started, 2))


def _is_guide_model(manifest: Any) -> bool:
    return (manifest.dataset is not None and manifest.dataset.name == "iris"
            and manifest.estimator.class_path.endswith("RandomForestClassifier"))


def _post(url: str, path: str, body: bytes) -> tuple[int, bytes]:
    host, port = url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=60)
    try:
        # what curl -d sends, so the front base64-encodes it like API Gateway does
        conn.request("POST", path, body=body, headers={"Content-Type": "application/x-www-form-urlencoded"})
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def run_demo(root: Path = Path("."), *, runtime: str | None = None, rebuild: bool = False,
             memory_mb: int = defaults.MEMORY_MB, step: Step | None = None) -> DemoReport:
    """The whole pipeline in ``root``; see the module docstring."""
    from lambdapack.emulator.gateway import Gateway
    from lambdapack.emulator.pool import FunctionPool
    from lambdapack.emulator.session import LocalFunctionSpec, open_function
    from lambdapack.function.package import package_function

    say = step or (lambda _message: None)
    started = time.monotonic()
    root = Path(root)
    chosen, python = pick_runtime(runtime)
    arch = targets.host_arch()
    if arch not in targets.ARCHES:
        raise LambdapackError(f"this machine is {arch}; Lambda runs x86_64 and arm64 only",
                              hint="run the demo on an x86_64 or arm64 machine")
    say(f"runtime {chosen} ({python}), architecture {arch}")
    layer = ensure_layer(root, chosen, arch, rebuild, say)
    model = ensure_model(root, layer, python, say)
    function = root / defaults.FUNCTION_ZIP
    say(f"packaging {function}")
    package = package_function(model.directory, function, layer=layer.path)

    logs: list[bytes] = []
    spec = LocalFunctionSpec(function, (layer.path,), memory_mb=memory_mb, python=python, function_name="iris")
    say("starting the local Lambda and sending the guide's event (cold start, then warm)")
    event = json.dumps(SEED_EVENT).encode()
    try:
        with open_function(spec, log_sink=logs.append) as local:
            cold = local.invoke(event)
            if not cold.ok:
                raise LambdapackError(f"the function failed in the emulator ({cold.error_type}): "
                                      f"{_message(cold.payload)}", hint="its logs are above")
            warm = [local.invoke(event) for _ in range(WARM_RUNS)]
            say(f"putting the HTTP API front on the same warm runtime: POST {defaults.PREDICT_PATH}")
            gateway = Gateway(FunctionPool([local]), "127.0.0.1", 0, "2.0", logs.append).start()
            try:
                status, body = _post(gateway.url, defaults.PREDICT_PATH, GUIDE_BODY)
            finally:
                gateway.close()
    except LambdapackError:
        import sys

        sys.stderr.buffer.write(b"".join(logs))
        raise
    try:
        http_body: Any = json.loads(body)
    except ValueError:
        http_body = body.decode("utf-8", "replace")
    return DemoReport(
        runtime=chosen, python=str(python), layer=layer, model=model, function=function,
        function_bytes=package.bytes, serving=package.function.serving, serving_reason=package.function.reason,
        event=dict(SEED_EVENT), response=cold.payload, cold_ms=cold.round_trip_ms,
        init_ms=round(cold.init_ms, 1) if cold.init_ms is not None else None,
        warm_ms=round(statistics.median(r.round_trip_ms for r in warm), 3), warm_runs=len(warm),
        max_memory_mb=max(r.max_memory_mb for r in (cold, *warm)), memory_mb=memory_mb,
        http_request=f"POST {defaults.PREDICT_PATH} {GUIDE_BODY.decode()}", http_status=status, http_body=http_body,
        seconds=round(time.monotonic() - started, 1),
        next_steps=(
            "lambdapack invoke --local --event seed --repeat 5",
            "lambdapack serve --port 3000",
            "curl -X POST localhost:3000/predict -d '{\"sl\":6.9,\"sw\":3.1,\"pl\":5.1,\"pw\":2.3}'",
            "lambdapack deploy --name iris --dry-run",
        ),
    )


def _message(payload: Any) -> str:
    if isinstance(payload, dict):
        return str(payload.get("errorMessage") or payload)
    return str(payload)
