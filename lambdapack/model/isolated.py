"""``train --layer``: fit the model with the layer's own libraries, so they match by construction.

The layer zip is unpacked (safely) into a temporary directory and ``_child_train.py`` runs by
path in an interpreter of the layer's Python minor version with ``-I -S -B``: no user site,
no interpreter site-packages, no ``PYTHON*`` variables, no script directory; the child puts
only the layer's directories on ``sys.path``. A layer whose machine code cannot run here
(another architecture, a newer glibc, not Linux) is refused before anything starts.
"""

from __future__ import annotations

import json
import platform
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from packaging.utils import InvalidWheelFilename, parse_wheel_filename

from lambdapack import archive, compat, interpreters
from lambdapack.errors import LayerError, ModelError
from lambdapack.layer.record import RECORD_NAME, read_record
from lambdapack.model import _child_train
from lambdapack.targets import machine_for, site_packages_pythons

_HOST_MACHINE_ALIASES = {"amd64": "x86_64", "arm64": "aarch64"}
_LEGACY_GLIBC = {"manylinux1": (2, 5), "manylinux2010": (2, 12), "manylinux2014": (2, 17)}


@dataclass(frozen=True)
class LayerInfo:
    path: Path
    python: tuple[int, int]
    arch: str | None  # Lambda's name; None when the layer has no build record
    site_packages: str
    glibc_needed: tuple[int, int] | None  # the newest glibc any of its wheels requires
    record: dict[str, Any] | None


def read_layer_record(zip_path: Path) -> dict[str, Any] | None:
    """The layer's ``lambdapack-layer.json`` (validated schema), or None if it has none."""
    return read_record(Path(zip_path))


def _python_from_layout(zip_path: Path) -> tuple[tuple[int, int], str] | None:
    with archive.open_zip(zip_path) as zf:
        versions = site_packages_pythons(zf.namelist())
    if not versions:
        return None
    major, minor = versions[0]
    return (major, minor), f"python/lib/python{major}.{minor}/site-packages"


def _wheel_glibc(wheel: str) -> tuple[int, int] | None:
    """The oldest glibc a wheel's platform tags accept (None for pure or non-manylinux wheels)."""
    try:
        _, _, _, tag_set = parse_wheel_filename(wheel)
    except InvalidWheelFilename:
        return None
    needs: list[tuple[int, int]] = []
    for tag in tag_set:
        platform_tag = tag.platform
        if platform_tag.startswith("manylinux_"):
            fields = platform_tag.split("_")
            if len(fields) >= 3 and fields[1].isdigit() and fields[2].isdigit():
                needs.append((int(fields[1]), int(fields[2])))
        else:
            legacy = platform_tag.split("_", 1)[0]
            if legacy in _LEGACY_GLIBC:
                needs.append(_LEGACY_GLIBC[legacy])
    return min(needs) if needs else None


def inspect_layer(zip_path: Path) -> LayerInfo:
    zip_path = Path(zip_path)
    record = read_layer_record(zip_path)
    if record is not None:
        try:
            major, minor = (int(p) for p in str(record["python_version"]).split("."))
            site_packages = str(record.get("site_packages") or f"python/lib/python{major}.{minor}/site-packages")
            arch = record.get("arch")
            wheels = [str(p.get("wheel") or "") for p in record.get("packages") or []]
        except (KeyError, ValueError, TypeError, AttributeError) as exc:
            raise LayerError(f"{zip_path}: {RECORD_NAME} is malformed ({exc})",
                             hint="rebuild the layer with `lambdapack build-layer`") from None
        needs = [g for g in (_wheel_glibc(w) for w in wheels) if g is not None]
        return LayerInfo(zip_path, (major, minor), str(arch) if arch else None, site_packages,
                         max(needs) if needs else None, record)
    found = _python_from_layout(zip_path)
    if found is None:
        raise LayerError(f"{zip_path}: not a Python layer (no {RECORD_NAME}, no python/lib/python3.X/site-packages)",
                         hint="build one with `lambdapack build-layer scikit-learn joblib`")
    return LayerInfo(zip_path, found[0], None, found[1], None, None)


def _host_glibc() -> tuple[int, int] | None:
    lib, version = platform.libc_ver()
    if lib != "glibc" or not version:
        return None
    major, _, minor = version.partition(".")
    try:
        return int(major), int(minor.split(".")[0])
    except ValueError:
        return None


def check_runnable_here(layer: LayerInfo, *, host_platform: str | None = None, host_machine: str | None = None,
                        host_glibc: tuple[int, int] | str | None = "detect") -> None:
    """Refuse a layer whose compiled code this machine cannot execute."""
    host_platform = host_platform or sys.platform
    machine = (host_machine or platform.machine()).lower()
    machine = _HOST_MACHINE_ALIASES.get(machine, machine)
    glibc = _host_glibc() if host_glibc == "detect" else host_glibc
    way_out = "train without --layer in an environment with the layer's library versions, " \
              "or run `lambdapack train --layer` on a machine that matches the layer"
    if not host_platform.startswith("linux"):
        raise ModelError(f"{layer.path} holds Linux binaries; they cannot run on {host_platform}", hint=way_out)
    if layer.arch is not None and machine_for(layer.arch) != machine:
        raise ModelError(
            f"{layer.path} is built for {layer.arch} ({machine_for(layer.arch)}); this machine is {machine}",
            hint=way_out)
    if layer.glibc_needed is not None and isinstance(glibc, tuple) and glibc < layer.glibc_needed:
        needed = f"{layer.glibc_needed[0]}.{layer.glibc_needed[1]}"
        raise ModelError(f"{layer.path} needs glibc {needed}; this machine has {glibc[0]}.{glibc[1]}", hint=way_out)


@dataclass(frozen=True)
class IsolatedTrainer:
    layer: LayerInfo
    python: Path

    def run(self, request: dict[str, Any], X: Any, y: Any) -> dict[str, Any]:
        """Run ``_child_train`` on ``request`` with the layer; the model is written to ``request['out']``."""
        with tempfile.TemporaryDirectory(prefix="lambdapack-train-layer-") as tmp:
            root = Path(tmp) / "opt"
            archive.safe_extract(self.layer.path, root)
            paths = [root / self.layer.site_packages, root / "python"]
            payload = dict(request, X=_as_lists(X), y=_as_lists(y),
                           sys_path=[str(p) for p in paths if p.is_dir()])
            reply = self._call(payload, cwd=Path(tmp))
            sklearn_path = Path(str(reply.get("sklearn_path", ""))).resolve()
            if not sklearn_path.is_relative_to(root.resolve()):
                raise ModelError(f"the isolated interpreter imported scikit-learn from {sklearn_path}, not the layer",
                                 hint="this is a lambdapack bug; please report it")
        if self.layer.record is not None:
            mismatches = compat.version_mismatches(reply["versions"], compat.layer_versions(self.layer.record))
            if mismatches:
                raise ModelError(f"{self.layer.path}: its record disagrees with the libraries it holds: "
                                 + "; ".join(m.describe() for m in mismatches),
                                 hint="rebuild the layer with `lambdapack build-layer`")
        return reply

    def _call(self, payload: dict[str, Any], cwd: Path) -> dict[str, Any]:
        script = Path(_child_train.__file__).resolve()
        command = [str(self.python), "-I", "-S", "-B", str(script)]
        try:
            done = subprocess.run(command, input=json.dumps(payload), capture_output=True, text=True, cwd=cwd,
                                  check=False)
        except OSError as exc:
            raise ModelError(f"cannot run {self.python} ({exc.strerror or exc})",
                             hint="pass a working interpreter with --python") from None
        try:
            reply = json.loads(done.stdout.strip().splitlines()[-1]) if done.stdout.strip() else None
        except json.JSONDecodeError:
            reply = None
        if done.returncode != 0 or not isinstance(reply, dict):
            tail = " | ".join(done.stderr.strip().splitlines()[-3:]) or f"exit status {done.returncode}"
            raise ModelError(f"training in the layer's Python failed: {tail}",
                             hint="check that the layer was built for this Python and carries scikit-learn "
                                  "(`lambdapack check-layer LAYER.zip`)")
        if not reply.get("ok"):
            from lambdapack.model.train import failure_to_error

            message = str(reply.get("message"))
            if reply.get("kind") == "import":
                message = f"{self.layer.path} cannot train a model here: {message}"
            raise failure_to_error(str(reply.get("kind")), message)
        return reply


def _as_lists(values: Any) -> Sequence[Any]:
    return values.tolist() if hasattr(values, "tolist") else list(values)


def prepare(layer_zip: Path, python: str | None = None) -> IsolatedTrainer:
    """Check that ``layer_zip`` can run here and find its interpreter; nothing is unpacked yet."""
    layer = inspect_layer(layer_zip)
    check_runnable_here(layer)
    interpreter = interpreters.require_python(layer.python, python)
    return IsolatedTrainer(layer, interpreter)
