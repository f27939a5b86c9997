"""Every check that can stop a deploy before it writes anything to AWS.

Local first (name, runtime/arch, the layer's build record, the model manifest inside the
function zip, model/layer version agreement, sizes), then the account (region, credentials)
through read-only calls. Each failure is a one-line error with a hint.
"""

from __future__ import annotations

import re
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from lambdapack import defaults, targets
from lambdapack.archive import open_zip, sha256_file, unzipped_size, validate_members
from lambdapack.deploy.models import Artifact
from lambdapack.errors import DeployError, LayerError, VersionMismatchError
from lambdapack.layer import inspect
from lambdapack.layer.record import RECORD_NAME
from lambdapack.model import version_rule
from lambdapack.model.manifest import MANIFEST_FILE as MODEL_MANIFEST
from lambdapack.model.manifest import read_versions

# The stack name becomes the function name, part of the role name (lambdapack-NAME-role,
# IAM's limit is 64) and of the API and layer names; Lambda allows letters, digits, - and _.
NAME_PATTERN = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,39}$")
MEMORY_RANGE = defaults.MEMORY_RANGE_MB
TIMEOUT_RANGE = defaults.TIMEOUT_RANGE_S
# Lambda SnapStart for Python runs on python3.12 and newer runtimes only (AWS documentation).
SNAPSTART_MIN_PYTHON = (3, 12)


def check_name(name: str) -> str:
    if not NAME_PATTERN.match(name or ""):
        raise DeployError(
            f"invalid stack name {name!r}",
            hint="use 1-40 letters, digits, '-' or '_', starting with a letter (it names the Lambda function, "
                 "the IAM role lambdapack-NAME-role and the API)")
    return name


def check_limits(memory: int, timeout: int) -> None:
    if not MEMORY_RANGE[0] <= memory <= MEMORY_RANGE[1]:
        raise DeployError(f"--memory {memory} is outside Lambda's {MEMORY_RANGE[0]}-{MEMORY_RANGE[1]} MB",
                          hint=f"{defaults.MEMORY_MB} MB suits the iris model; large forests may want 1024-2048")
    if not TIMEOUT_RANGE[0] <= timeout <= TIMEOUT_RANGE[1]:
        raise DeployError(f"--timeout {timeout} is outside Lambda's {TIMEOUT_RANGE[0]}-{TIMEOUT_RANGE[1]} s",
                          hint=f"{defaults.TIMEOUT_S} s leaves room for a cold start")


def _read_member(zf: zipfile.ZipFile, member: str, path: Path) -> bytes:
    try:
        return zf.read(member)
    except (KeyError, OSError, EOFError, ValueError, zipfile.BadZipFile, zlib.error) as exc:
        raise DeployError(f"{path}: cannot read {member} ({exc})",
                          hint="rebuild the archive with lambdapack") from None


@dataclass(frozen=True)
class LayerUpload:
    """The layer as every command reads it (:mod:`lambdapack.layer.inspect`), and the zip to upload."""

    artifact: Artifact
    facts: inspect.LayerInfo

    @property
    def runtime(self) -> str | None:
        return self.facts.runtime

    @property
    def arch(self) -> str:
        return self.facts.arch or ""

    @property
    def python_version(self) -> str:
        return self.facts.python_version or ""


@dataclass(frozen=True)
class FunctionInfo:
    artifact: Artifact
    versions: dict[str, str] | None  # the model's library versions (model.json), None without a model


def _artifact(path: Path, zf: zipfile.ZipFile) -> Artifact:
    # names, duplicates, links, bombs: a zip that is unsafe to unpack here is not shipped either
    validate_members(zf)
    return Artifact(path=path, sha256=sha256_file(path), size=path.stat().st_size,
                    unzipped=unzipped_size(zf))


def read_layer_zip(path: Path) -> LayerUpload:
    """The layer zip's artifact facts and its build record (``lambdapack-layer.json`` at the root)."""
    if not path.is_file():
        raise LayerError(f"layer {path} not found",
                         hint="build it first: lambdapack build-layer (or pass --layer PATH)")
    facts = inspect.inspect_layer(path)
    if facts.record is None:
        raise LayerError(f"{path} has no {RECORD_NAME}: not a layer lambdapack built",
                         hint="rebuild it with lambdapack build-layer, which records runtime, arch and versions")
    artifact = Artifact(path=path, sha256=facts.sha256, size=facts.zip_bytes, unzipped=facts.unzipped_bytes)
    return LayerUpload(artifact=artifact, facts=facts)


def read_function_zip(path: Path) -> FunctionInfo:
    """The function zip's artifact facts and its model manifest (the code itself is pure Python)."""
    if not path.is_file():
        raise DeployError(f"function package {path} not found",
                          hint="build it first: lambdapack package (or pass --model DIR to package on the fly)")
    with open_zip(path) as zf:
        names = zf.namelist()
        if "lambda_function.py" not in names:
            raise DeployError(f"{path} has no lambda_function.py at its root",
                              hint="build the package with lambdapack package")
        manifests = sorted((n for n in names if PurePosixPath(n).name == MODEL_MANIFEST
                            and len(PurePosixPath(n).parts) <= 2), key=len)
        raw = _read_member(zf, manifests[0], path) if manifests else None
        artifact = _artifact(path, zf)
    versions = read_versions(raw, f"{path}:{manifests[0]}") if raw is not None else None
    return FunctionInfo(artifact=artifact, versions=versions)


def check_snapstart(runtime: str) -> None:
    """Refuse ``--snapstart`` on a runtime SnapStart does not support, before anything is changed."""
    python = targets.get_runtime(runtime).python
    if python < SNAPSTART_MIN_PYTHON:
        oldest = "python{}.{}".format(*SNAPSTART_MIN_PYTHON)
        raise DeployError(f"--snapstart needs {oldest} or newer; this function runs on {runtime}",
                          hint=f"deploy without --snapstart, or rebuild the layer and the package for {oldest} "
                               f"(lambdapack build-layer --runtime {oldest})")


@dataclass(frozen=True)
class DeployInputs:
    """The checked local inputs of a deploy."""

    runtime: str
    arch: str
    layer: LayerUpload | None  # None: --no-layer
    function: FunctionInfo


def check_function_only(function: FunctionInfo, runtime: str | None, arch: str | None) -> DeployInputs:
    """The checks of a ``--no-layer`` deploy: a known runtime and arch, and the function alone within the limit."""
    final_runtime = runtime or targets.DEFAULT_RUNTIME
    final_arch = arch or targets.DEFAULT_ARCH
    targets.get_runtime(final_runtime)
    targets.machine_for(final_arch)
    if function.artifact.unzipped > targets.UNZIPPED_LIMIT:
        raise LayerError(f"the function unzips to {function.artifact.unzipped:,} bytes, "
                         f"over Lambda's {targets.UNZIPPED_LIMIT:,}",
                         hint="shrink the model (train --compress 3)")
    return DeployInputs(runtime=final_runtime, arch=final_arch, layer=None, function=function)


def check_inputs(layer: LayerUpload, function: FunctionInfo, runtime: str | None, arch: str | None) -> DeployInputs:
    """Runtime/arch agreement, model/layer versions and the unzipped size limit."""
    layer_runtime = layer.runtime
    if runtime is not None:
        targets.get_runtime(runtime)
    if arch is not None:
        targets.machine_for(arch)
    if layer_runtime is None and runtime is None:
        raise DeployError(f"{layer.artifact.path} was built for a hand-written tag set, not a Lambda runtime",
                          hint="pass --runtime (e.g. --runtime python3.12)")
    final_runtime = runtime or str(layer_runtime)
    final_arch = arch or layer.arch
    target = targets.Target.for_runtime(final_runtime, final_arch)
    if (layer_runtime is not None and layer_runtime != final_runtime) or layer.python_version != target.python_version:
        raise DeployError(
            f"layer {layer.artifact.path.name} is for {layer_runtime or 'python' + layer.python_version}, "
            f"the function is for {final_runtime}",
            hint=f"rebuild the layer: lambdapack build-layer --runtime {final_runtime} --arch {final_arch}")
    if layer.arch != final_arch:
        raise DeployError(f"layer {layer.artifact.path.name} is for {layer.arch}, the function is for {final_arch}",
                          hint=f"rebuild the layer: lambdapack build-layer --runtime {final_runtime} "
                               f"--arch {final_arch}")
    if function.versions is not None:
        mismatches = version_rule.version_mismatches(function.versions, layer.facts.versions)
        if mismatches:
            raise VersionMismatchError(
                "the model and the layer disagree: " + "; ".join(m.describe() for m in mismatches),
                hint=f"rebuild the layer for this model: lambdapack build-layer --model {defaults.MODEL_DIR} "
                     f"--runtime {final_runtime} --arch {final_arch}")
    total = layer.artifact.unzipped + function.artifact.unzipped
    if total > targets.UNZIPPED_LIMIT:
        raise LayerError(
            f"function + layer unzip to {total:,} bytes, over Lambda's {targets.UNZIPPED_LIMIT:,}",
            hint="drop unused packages from the layer, build it with --no-compile, "
                 "or shrink the model (train --compress 3)")
    return DeployInputs(runtime=final_runtime, arch=final_arch, layer=layer, function=function)
