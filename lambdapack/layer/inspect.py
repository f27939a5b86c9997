"""What a layer zip is for and what it holds: the one reader every command asks.

``train --layer``, ``invoke --local``/``serve``, ``package --layer`` and ``deploy`` all read a
layer through :func:`inspect_layer`, so they cannot judge the same zip differently. The answer
is a :class:`LayerInfo`: the build record ``lambdapack-layer.json`` when there is one, else what
the zip itself says: the ``python/lib/python3.X/site-packages`` directory name for the Python
and the ELF header of its extension modules for the architecture.

Every member name is checked first (:func:`lambdapack.archive.validate_members`): a zip unsafe to
unpack here is not worth describing. Whether this machine can run a layer's compiled code is
:func:`cannot_run_here`; what each command does about it (refuse, skip, hint) is its own call.
"""

from __future__ import annotations

import functools
import platform
import sys
import zipfile
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from packaging.utils import canonicalize_name

from lambdapack.archive import open_zip, sha256_file, unzipped_size, validate_members
from lambdapack.errors import LambdapackError, LayerError
from lambdapack.layer.record import RECORD_NAME, read_record
from lambdapack.targets import (
    ARCHES,
    arch_for_machine,
    elf_machine,
    host_machine,
    site_packages_pythons,
    wheel_glibc,
)

_REBUILD = "rebuild the layer with `lambdapack build-layer`"
# reading a member can fail this way when its data is damaged though the directory is intact
_READ_ERRORS = (OSError, EOFError, ValueError, zipfile.BadZipFile, zlib.error, NotImplementedError)


@dataclass(frozen=True)
class LayerPackage:
    """One distribution the build record lists."""

    name: str  # canonical: scikit-learn, not scikit_learn
    version: str
    wheel: str | None  # the wheel file it was installed from


@dataclass(frozen=True)
class LayerInfo:
    """Everything a command needs to know about a layer zip before unpacking it."""

    path: Path
    runtime: str | None  # "python3.12"; None for a hand-written tag set or a layout naming no Python
    arch: str | None  # Lambda's name (x86_64 | arm64), the ELF machine for another, None when nothing says
    python: tuple[int, int] | None  # None for a pure ``python/`` layer without a record
    site_packages: str | None  # the layer-relative directory Lambda puts on sys.path
    glibc_needed: tuple[int, int] | None  # the newest glibc any of its wheels requires
    packages: tuple[LayerPackage, ...]  # from the record; () without one
    record: Mapping[str, Any] | None  # the validated build record, or None
    unzipped_bytes: int
    zip_bytes: int
    sha256: str

    @property
    def python_version(self) -> str | None:
        return f"{self.python[0]}.{self.python[1]}" if self.python else None

    @property
    def versions(self) -> dict[str, str]:
        """``{canonical name: version}`` of every package the record lists."""
        return {p.name: p.version for p in self.packages}


def inspect_layer(path: Path, *, error: type[LambdapackError] = LayerError) -> LayerInfo:
    """Read what ``path`` is without unpacking it; ``error`` is the caller's area error for a bad layer.

    A zip that is missing, corrupt or unsafe raises :class:`~lambdapack.errors.ArchiveError`
    (or ``error``); so does a record that is present but unusable. A layer without a record is
    not an error here: ``record`` is None and each caller says what that means for it.
    """
    path = Path(path)
    with open_zip(path) as zf:
        try:
            validate_members(zf)
            unzipped = unzipped_size(zf)
        except (zipfile.BadZipFile, OSError, EOFError) as exc:
            raise error(f"{path}: corrupt archive ({exc})", hint=_REBUILD) from None
        record = read_record(zf, error=error)
        facts = _from_record(record, zf, path, error) if record is not None else _from_layout(zf, path, error)
    return LayerInfo(path=path, runtime=facts.runtime, arch=facts.arch, python=facts.python,
                     site_packages=facts.site_packages, glibc_needed=facts.glibc_needed, packages=facts.packages,
                     record=record, unzipped_bytes=unzipped, zip_bytes=path.stat().st_size, sha256=sha256_file(path))


@dataclass(frozen=True)
class _Facts:
    """What the record, or else the layout, says."""

    runtime: str | None
    arch: str | None
    python: tuple[int, int] | None
    site_packages: str | None
    glibc_needed: tuple[int, int] | None = None
    packages: tuple[LayerPackage, ...] = ()


def _from_record(record: Mapping[str, Any], zf: zipfile.ZipFile, path: Path,
                 error: type[LambdapackError]) -> _Facts:
    try:
        major, minor = (int(p) for p in str(record["python_version"]).split("."))
        packages = tuple(LayerPackage(canonicalize_name(str(p["name"])), str(p["version"]),
                                      str(p["wheel"]) if p.get("wheel") else None)
                         for p in record.get("packages") or [])
    except (KeyError, ValueError, TypeError, AttributeError) as exc:
        raise error(f"{path}: {RECORD_NAME} is malformed ({exc!r})", hint=_REBUILD) from None
    needs = [g for g in (wheel_glibc(p.wheel) for p in packages if p.wheel) if g is not None]
    arch = record.get("arch")
    return _Facts(
        runtime=str(record["runtime"]) if record.get("runtime") else None,
        arch=str(arch) if arch else _elf_arch(zf, path, error),
        python=(major, minor),
        site_packages=str(record.get("site_packages") or f"python/lib/python{major}.{minor}/site-packages"),
        glibc_needed=max(needs) if needs else None,
        packages=packages,
    )


def _from_layout(zf: zipfile.ZipFile, path: Path, error: type[LambdapackError]) -> _Facts:
    versions = site_packages_pythons(zf.namelist())
    if len(versions) > 1:
        listed = ", ".join(f"{major}.{minor}" for major, minor in versions)
        raise error(f"{path} holds site-packages for several Pythons ({listed})",
                    hint="a Lambda layer serves one runtime; rebuild it for the runtime you deploy")
    python = versions[0] if versions else None
    return _Facts(
        runtime=f"python{python[0]}.{python[1]}" if python else None,
        arch=_elf_arch(zf, path, error),
        python=python,
        site_packages=f"python/lib/python{python[0]}.{python[1]}/site-packages" if python else None,
    )


def _is_shared_object(name: str) -> bool:
    base = name.rsplit("/", 1)[-1]
    return base.endswith(".so") or ".so." in base


def _elf_arch(zf: zipfile.ZipFile, path: Path, error: type[LambdapackError]) -> str | None:
    """The architecture of the first extension module or library in the zip (its ELF header)."""
    for name in zf.namelist():
        if not _is_shared_object(name):
            continue
        try:
            with zf.open(name) as fh:
                header = fh.read(20)
        except _READ_ERRORS as exc:
            raise error(f"{path}: cannot read {name} ({exc})", hint="the layer is corrupt; " + _REBUILD) from None
        if header[:4] == b"\x7fELF" and len(header) == 20:
            byteorder = "little" if header[5] == 1 else "big"
            machine = elf_machine(int.from_bytes(header[18:20], byteorder))
            return arch_for_machine(machine) or machine
    return None


@dataclass(frozen=True)
class Host:
    """What decides whether a layer's compiled code runs here."""

    platform: str  # sys.platform
    machine: str  # uname's name: x86_64, aarch64
    glibc: tuple[int, int] | None  # None: not glibc, or unknown

    @classmethod
    def here(cls) -> Host:
        return cls(sys.platform, host_machine(), _host_glibc())


@functools.lru_cache(maxsize=1)
def _host_glibc() -> tuple[int, int] | None:
    lib, version = platform.libc_ver()
    if lib != "glibc" or not version:
        return None
    major, _, minor = version.partition(".")
    try:
        return int(major), int(minor.split(".")[0])
    except ValueError:
        return None


def cannot_run_here(layer: LayerInfo, host: Host | None = None) -> str | None:
    """Why ``host`` (this machine by default) cannot execute the layer's compiled code; None when it can.

    A layer that names no architecture and no glibc (pure Python, no record) runs anywhere.
    """
    host = host or Host.here()
    if layer.arch is None and layer.glibc_needed is None:
        return None
    if not host.platform.startswith("linux"):
        return f"{layer.path} holds Linux binaries; they cannot run on {host.platform}"
    if layer.arch is not None:
        machine = ARCHES.get(layer.arch, layer.arch)
        if machine != host.machine:
            built = layer.arch if machine == layer.arch else f"{layer.arch} ({machine})"
            return f"{layer.path} is built for {built}; this machine is {host.machine}"
    if layer.glibc_needed is not None and host.glibc is not None and host.glibc < layer.glibc_needed:
        needed = "{}.{}".format(*layer.glibc_needed)
        return f"{layer.path} needs glibc {needed}; this machine has {host.glibc[0]}.{host.glibc[1]}"
    return None


def one_python(layers: Sequence[LayerInfo], error: type[LambdapackError] = LayerError) -> tuple[int, int] | None:
    """The Python every layer that names one agrees on (None when none does); layers that disagree are refused."""
    versions = sorted({info.python for info in layers if info.python is not None})
    if len(versions) > 1:
        listed = ", ".join("{}.{}".format(*v) for v in versions)
        raise error(f"the layers were built for different Pythons ({listed})",
                    hint="build every layer for the one runtime the function uses")
    return versions[0] if versions else None
