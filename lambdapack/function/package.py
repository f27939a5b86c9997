"""``package``: the handler, ``model.joblib`` and ``model.json`` in one deterministic function zip.

The model's bytes are checked against the manifest's sha256 before they are packed (the
handler checks again at init: a pickle is code). Given the layer that will serve it, the
package is refused when the layer's build record does not carry the model's library
versions (compat.version_mismatches) or when function + layer exceed Lambda's unzipped limit.
"""

from __future__ import annotations

import hashlib
import zipfile
from dataclasses import dataclass
from pathlib import Path

from lambdapack import archive, compat, targets
from lambdapack.errors import PackageError, VersionMismatchError
from lambdapack.layer.record import RECORD_NAME, read_record
from lambdapack.model.manifest import MANIFEST_FILE, Manifest, load_manifest, verify_model_file
from lambdapack.templates import template_bytes

HANDLER_FILE = "lambda_function.py"
HANDLER = "lambda_function.lambda_handler"
DEFAULT_MODEL_DIR = Path("build/model")
DEFAULT_OUT = Path("dist/function.zip")


@dataclass(frozen=True)
class LayerCheck:
    """What the layer given with ``--layer`` holds, and that it agrees with the model."""

    path: Path
    runtime: str | None
    arch: str | None
    python_version: str | None
    versions: dict[str, str]  # the pinned libraries the layer carries
    unzipped_bytes: int


@dataclass(frozen=True)
class PackageReport:
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


def package_function(model_dir: Path = DEFAULT_MODEL_DIR, out: Path = DEFAULT_OUT,
                     layer: Path | None = None) -> PackageReport:
    """Write the function zip for the model in ``model_dir`` to ``out``; nothing is written on failure."""
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
    handler = template_bytes(HANDLER_FILE)

    entries = [
        archive.ZipEntry(HANDLER_FILE, handler),
        archive.ZipEntry(manifest.model.file, model_bytes),
        archive.ZipEntry(MANIFEST_FILE, manifest_bytes),
    ]
    unzipped = len(handler) + len(model_bytes) + len(manifest_bytes)
    checked = check_layer(Path(layer), manifest) if layer is not None else None
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
    return PackageReport(
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
    )


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise PackageError(f"cannot read {path} ({exc.strerror or exc})", hint="check the file's permissions") from None


def read_layer_record(layer: Path) -> tuple[dict, int]:
    """The build record at the root of a layer zip, and the layer's unzipped size in bytes."""
    with archive.open_zip(layer) as zf:
        try:
            archive.validate_members(zf)
            unzipped = archive.unzipped_size(zf)
        except (zipfile.BadZipFile, OSError, EOFError) as exc:
            raise PackageError(f"{layer}: corrupt archive ({exc})",
                               hint="rebuild the layer with `lambdapack build-layer`") from None
        record = read_record(zf, error=PackageError)
    if record is None:
        raise PackageError(f"{layer} has no {RECORD_NAME} at its root, so its library versions are unknown",
                           hint="build the layer with `lambdapack build-layer --model DIR`, "
                                "or package without --layer")
    return record, unzipped


def check_layer(layer: Path, manifest: Manifest) -> LayerCheck:
    """Refuse a layer that does not carry exactly the model's library versions."""
    record, unzipped = read_layer_record(layer)
    try:
        carried = compat.layer_versions(record)
    except (KeyError, TypeError, AttributeError) as exc:
        raise PackageError(f"{layer}: {RECORD_NAME} has a malformed packages list ({exc!r})",
                           hint="rebuild the layer with `lambdapack build-layer`") from None
    mismatches = compat.version_mismatches(manifest.versions, carried)
    if mismatches:
        raise VersionMismatchError(
            f"the model and {layer.name} disagree: " + "; ".join(m.describe() for m in mismatches),
            hint=f"rebuild the layer for this model (`lambdapack build-layer --model DIR`) or retrain inside "
                 f"the layer (`lambdapack train --layer {layer}`)")
    return LayerCheck(
        path=layer,
        runtime=_str_or_none(record.get("runtime")),
        arch=_str_or_none(record.get("arch")),
        python_version=_str_or_none(record.get("python_version")),
        versions={name: carried[name] for name in compat.PINNED_PACKAGES if name in carried},
        unzipped_bytes=unzipped,
    )


def _str_or_none(value: object) -> str | None:
    return str(value) if value is not None else None

