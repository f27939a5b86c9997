"""``package``: the handler, ``model.joblib`` and ``model.json`` in one deterministic function zip.

The model's bytes are checked against the manifest's sha256 before they are packed (the
handler checks again at init: a pickle is code). Given the layer that will serve it, the
package is refused when the layer's build record does not carry the model's library
versions (version_rule.version_mismatches) or when function + layer exceed Lambda's unzipped limit.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from lambdapack import archive, interpreters, targets
from lambdapack.defaults import FUNCTION_ZIP, HANDLER, HANDLER_FILE, MODEL_DIR
from lambdapack.errors import LambdapackError, PackageError, VersionMismatchError
from lambdapack.function.manifest import FUNCTION_MANIFEST, FunctionManifest, PredictorFile
from lambdapack.layer.compile import compile_pycs
from lambdapack.layer.inspect import inspect_layer
from lambdapack.layer.record import RECORD_NAME
from lambdapack.model import version_rule
from lambdapack.model.manifest import MANIFEST_FILE, Feature, Manifest, load_manifest, verify_model_file
from lambdapack.model.manifest import SCHEMA as MODEL_SCHEMA
from lambdapack.predictor.build import (
    FORMAT,
    MAX_ROWS,
    PREDICTOR_FILE,
    PredictorBuild,
    PredictorReport,
    build_predictor,
    joblib_path,
)
from lambdapack.predictor.files import RUNTIME
from lambdapack.template_files import template_bytes, template_tree


def handler_sources() -> dict[str, bytes]:
    """The handler and the runtime package it imports (standard library only), by their paths in the zip."""
    return {HANDLER_FILE: template_bytes(HANDLER_FILE), **template_tree(RUNTIME)}



@dataclass(frozen=True)
class LayerCheck:
    """What the layer given with ``--layer`` holds, and that it agrees with the model."""

    path: Path
    runtime: str | None
    arch: str | None
    python_version: str | None
    versions: dict[str, str]  # the pinned libraries the layer carries
    unzipped_bytes: int
    packages: tuple[str, ...] = ()  # every package the layer carries


@dataclass(frozen=True)
class FunctionPackageReport:
    """What ``package`` wrote: the function zip, what it holds, and how the function will serve."""

    path: Path
    sha256: str
    bytes: int
    unzipped_bytes: int
    files: tuple[str, ...]
    handler: str
    model_dir: Path
    model_sha256: str
    task: str
    estimator: str
    layer: LayerCheck | None
    combined_unzipped_bytes: int  # function + layer (just the function without --layer)
    unzipped_limit: int
    direct_upload: bool  # small enough to upload as ZipFile, without S3
    function: FunctionManifest  # what function.json says: serving path, reason, needs_layer
    predictor: PredictorReport
    pycs: FunctionPycs
    inputs: tuple[str, ...] = ()  # each input and what a request may send for it, as the function's model.json says
    inputs_read_from_model: bool = False  # an untyped (lambdapack.model/1) manifest, typed from the model itself


def package_function(model_dir: Path = MODEL_DIR, out: Path = FUNCTION_ZIP,
                     layer: Path | None = None, *, predictor: bool = True, runtime: str | None = None,
                     python: Path | None = None) -> FunctionPackageReport:
    """Write the function zip for the model in ``model_dir`` to ``out``; nothing is written on failure.

    With ``predictor`` (the default) a tree model the stdlib predictor covers is compiled and
    proven exact first; ``predictor=False`` ships the estimator path only.
    """
    model_dir = Path(model_dir)
    if model_dir.suffix == ".json" and model_dir.is_file():  # --model build/model/model.json
        model_dir = model_dir.parent
    out = Path(out)
    if out.is_dir():
        raise PackageError(f"--out {out} is a directory", hint=f"name the zip, e.g. --out {out / 'function.zip'}")
    manifest = load_manifest(model_dir)
    model_path = verify_model_file(model_dir, manifest)
    manifest_bytes = _read(model_dir / MANIFEST_FILE)
    model_bytes = _read(model_path)
    # the file could have changed since it was verified; pack only bytes that match
    if hashlib.sha256(model_bytes).hexdigest() != manifest.model.sha256:
        raise PackageError(f"{model_path} changed while it was being packaged",
                           hint="wait for whatever writes the model to finish, then package again")
    checked = check_layer_for_model(Path(layer), manifest, runtime) if layer is not None else None
    compiled = (build_predictor(model_path, manifest, Path(layer) if layer is not None else None, python)
                if predictor else joblib_path("packaged with --no-predictor"))
    function = function_manifest_for(compiled, (checked.runtime if checked else None) or runtime)

    manifest_bytes, upgraded = typed_manifest(manifest, manifest_bytes, compiled)
    served = Manifest.from_dict(json.loads(manifest_bytes), MANIFEST_FILE) if upgraded else manifest
    check_frame_support(checked, served, function)
    sources = handler_sources()
    pycs, pyc_bytes = compiled_sources(sources, function.runtime or targets.DEFAULT_RUNTIME, python)
    entries = [archive.ZipEntry(name, data) for name, data in {**sources, **pyc_bytes}.items()]
    entries += [
        archive.ZipEntry(manifest.model.file, model_bytes),
        archive.ZipEntry(MANIFEST_FILE, manifest_bytes),
        archive.ZipEntry(FUNCTION_MANIFEST, function.to_bytes()),
    ]
    if compiled.data is not None:
        entries.append(archive.ZipEntry(PREDICTOR_FILE, compiled.data))
    unzipped = sum(len(e.source) for e in entries if isinstance(e.source, bytes))
    combined = unzipped + (checked.unzipped_bytes if checked else 0)
    if combined > targets.UNZIPPED_LIMIT:
        what = "function + layer" if checked else "the function"
        raise PackageError(
            f"{what} unzip to {combined:,} bytes, over Lambda's limit of {targets.UNZIPPED_LIMIT:,}",
            hint="slim the layer (`lambdapack build-layer` slims by default) or shrink the model "
                 "(`lambdapack train --compress 3`, fewer or shallower trees)")
    try:
        digest = archive.write_zip(out, entries)
        size = out.stat().st_size
    except OSError as exc:
        raise PackageError(f"cannot write {out} ({exc.strerror or exc})",
                           hint="check free space and permissions of the output directory") from None
    return FunctionPackageReport(
        path=out,
        sha256=digest,
        bytes=size,
        unzipped_bytes=unzipped,
        files=tuple(sorted(e.arcname for e in entries)),
        handler=HANDLER,
        model_dir=model_dir,
        model_sha256=manifest.model.sha256,
        task=manifest.task,
        estimator=manifest.estimator.class_path,
        layer=checked,
        combined_unzipped_bytes=combined,
        unzipped_limit=targets.UNZIPPED_LIMIT,
        direct_upload=size <= targets.DIRECT_UPLOAD_LIMIT,
        function=function,
        predictor=compiled.report,
        pycs=pycs,
        inputs=tuple(f"{f.name}: {f.describe()}" for f in served.features) if served.typed else (),
        inputs_read_from_model=upgraded,
    )


@dataclass(frozen=True)
class FunctionPycs:
    """The handler's modules precompiled for the runtime, or why they ship as source only."""

    python: str | None  # the compiling interpreter's version, e.g. "3.12.1"
    reason: str
    files: tuple[str, ...] = ()


def compiled_sources(sources: dict[str, bytes], runtime: str,
                     python: Path | None = None) -> tuple[FunctionPycs, dict[str, bytes]]:
    """Unchecked-hash pycs of ``sources`` by the runtime's own Python minor, as ``__pycache__/`` entries.

    /var/task is read-only on Lambda: without them every cold start compiles the handler's ~1,000
    lines again (about 25 ms). A pyc is only valid for the minor version that wrote it, so without
    that interpreter here the function ships as source, which still runs.
    """
    try:
        version = targets.get_runtime(runtime).python
        interpreter = interpreters.find_python(version, python)
    except LambdapackError as exc:
        return FunctionPycs(None, f"source only: {exc.message}"), {}
    if interpreter is None:
        wanted = f"{version[0]}.{version[1]}"
        return FunctionPycs(None, f"source only: no CPython {wanted} here to compile for {runtime}"), {}
    full = interpreters.interpreter_version(str(interpreter))
    with archive.scratch_dir("function") as tmp:
        root = Path(tmp)
        for name, data in sources.items():
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            (root / name).write_bytes(data)
        try:
            compile_pycs(root, interpreter, "/var/task", ".".join(map(str, full[0])) if full else "?")
        except LambdapackError as exc:
            return FunctionPycs(None, f"source only: {exc.message}"), {}
        files = {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("__pycache__/*.pyc"))}
    version_text = ".".join(map(str, full[0])) if full else None
    return FunctionPycs(version_text, f"compiled for {runtime}", tuple(files)), files


def function_manifest_for(compiled: PredictorBuild, runtime: str | None) -> FunctionManifest:
    """What function.json says for a predictor build (or the joblib path) and a runtime."""
    predictor = None
    if compiled.data is not None:
        predictor = PredictorFile(file=PREDICTOR_FILE, format=FORMAT, sha256=hashlib.sha256(compiled.data).hexdigest(),
                                  bytes=len(compiled.data), kind=str(compiled.report.kind), max_rows=MAX_ROWS)
    report = compiled.report
    return FunctionManifest(serving=report.serving, reason=report.reason, needs_layer=predictor is None,
                            runtime=runtime, predictor=predictor, handler=HANDLER,
                            claim=dict(report.claim) if report.claim is not None else None)


def typed_manifest(manifest: Manifest, raw: bytes, compiled: PredictorBuild) -> tuple[bytes, bool]:
    """The model.json to pack: as it is, or a ``lambdapack.model/1`` one given the input types the model has.

    An old manifest does not say which inputs are categories or may be missing; when the compiler
    read them off the model (in the model's own libraries) the function carries the typed
    manifest, so the handler accepts what the model takes. The model directory is left as it is.
    """
    if manifest.typed or compiled.schema is None:
        return raw, False
    found = {f["name"]: f for f in compiled.schema.get("features") or ()}
    features = []
    for feature in manifest.features:
        described = found.get(feature.name)
        if described is None:
            return raw, False
        features.append(Feature(feature.name, feature.alias, described["type"], bool(described["nullable"]),
                                tuple(described.get("categories") or ()), described.get("unknown", "error")))
    typed = dataclasses.replace(manifest, features=tuple(features), schema=MODEL_SCHEMA,
                                input_frame=compiled.schema.get("input_frame"))
    return typed.to_json().encode(), True


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise PackageError(f"cannot read {path} ({exc.strerror or exc})", hint="check the file's permissions") from None


def check_layer_for_model(layer: Path, manifest: Manifest, runtime: str | None = None) -> LayerCheck:
    """Refuse a layer that does not carry exactly the model's library versions, or is for another ``runtime``."""
    info = inspect_layer(layer, error=PackageError)
    if info.record is None:
        raise PackageError(f"{layer} has no {RECORD_NAME} at its root, so its library versions are unknown",
                           hint="build the layer with `lambdapack build-layer --model DIR`, "
                                "or package without --layer")
    carried = info.versions
    mismatches = version_rule.version_mismatches(manifest.versions, carried)
    if mismatches:
        raise VersionMismatchError(
            f"the model and {layer.name} disagree: " + "; ".join(m.describe() for m in mismatches),
            hint=f"rebuild the layer for this model (`lambdapack build-layer --model DIR`) or retrain inside "
                 f"the layer (`lambdapack train --layer {layer}`)")
    if runtime is not None and info.runtime and info.runtime != runtime:
        raise PackageError(f"--runtime {runtime} disagrees with the layer, built for {info.runtime}",
                           hint=f"drop --runtime, or rebuild the layer with --runtime {runtime}")
    return LayerCheck(
        path=layer,
        runtime=info.runtime,
        arch=info.arch,
        python_version=info.python_version,
        versions={name: carried[name] for name in version_rule.PINNED_PACKAGES if name in carried},
        unzipped_bytes=info.unzipped_bytes,
        packages=tuple(sorted(carried)),
    )


def check_frame_support(checked: LayerCheck | None, served: Manifest, function: FunctionManifest) -> None:
    """Refuse a layer without pandas for a model whose estimator takes a DataFrame and serves by joblib."""
    if checked is None or served.input_frame is None or function.serving != "joblib":
        return
    if "pandas" not in checked.packages:
        raise PackageError(f"the model takes a pandas DataFrame and {checked.path.name} has no pandas",
                           hint="rebuild the layer for this model: `lambdapack build-layer --model DIR` adds pandas")
