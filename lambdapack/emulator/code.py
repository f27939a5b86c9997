"""The function's code on disk, laid out like Lambda: task root and ``/opt``.

Layers are unpacked once per content hash into the user cache (Lambda extracts them into
``/opt`` in order, later layers overwriting earlier files) and never written to again: the
runtime runs with ``-B`` so no ``.pyc`` lands there, as on Lambda's read-only ``/opt``.
The function zip is small and unpacked into a fresh temporary task root per session.

Before anything runs, the layers say which Python and architecture they were built for:
the build record ``lambdapack-layer.json`` if present, otherwise the
``python/lib/python3.X/site-packages`` directory name and the ELF header of its
extension modules.
"""

from __future__ import annotations

import hashlib
import os
import platform
import shutil
import tempfile
import time
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from lambdapack import archive
from lambdapack.emulator.ric import cache_root
from lambdapack.errors import EmulatorError, LambdapackError
from lambdapack.layer.record import read_record
from lambdapack.targets import ARCHES, RUNTIMES, site_packages_pythons

# ELF e_machine values of the architectures Lambda runs
_ELF_MACHINES = {62: "x86_64", 183: "arm64"}
# unpacked layers kept in the cache, and how long one must sit unused before it may go
KEEP_OPT_DIRS = 3
PRUNE_IDLE_S = 24 * 3600


@dataclass(frozen=True)
class LayerInfo:
    path: Path
    python_version: str | None  # "3.12", or None for a pure-Python layer without a record
    arch: str | None  # Lambda's name (x86_64 | arm64), or None when nothing says
    runtime: str | None
    sha256: str


def host_arch() -> str:
    machine = platform.machine().lower()
    for lambda_name, uname in ARCHES.items():
        if machine in (lambda_name, uname):
            return lambda_name
    return machine


def inspect_layer(path: Path) -> LayerInfo:
    """What ``path`` was built for, read from the zip without unpacking it."""
    path = Path(path)
    with archive.open_zip(path) as zf:
        names = zf.namelist()
        record = read_record(zf, error=EmulatorError)
        versions = [f"{major}.{minor}" for major, minor in site_packages_pythons(names)]
        arch = record.get("arch") if record else None
        if arch is None:
            arch = _elf_arch(zf, names)
    if record and record.get("python_version"):
        python_version = str(record["python_version"])
    elif len(versions) == 1:
        python_version = versions[0]
    elif len(versions) > 1:
        raise EmulatorError(f"{path} holds site-packages for several Pythons ({', '.join(versions)})",
                            hint="a Lambda layer serves one runtime; rebuild it for the runtime you deploy")
    else:
        python_version = None
    runtime = record.get("runtime") if record else None
    if runtime is None and python_version is not None:
        runtime = f"python{python_version}"
    return LayerInfo(path, python_version, arch, runtime, archive.sha256_file(path))


def _elf_arch(zf: zipfile.ZipFile, names: Sequence[str]) -> str | None:
    for name in names:
        if not (name.endswith(".so") or ".so." in name.rsplit("/", 1)[-1]):
            continue
        with zf.open(name) as fh:
            header = fh.read(20)
        if header[:4] == b"\x7fELF" and len(header) == 20:
            byteorder = "little" if header[5] == 1 else "big"
            return _ELF_MACHINES.get(int.from_bytes(header[18:20], byteorder), f"elf-machine-{header[18]}")
    return None


def check_runnable(layers: Sequence[LayerInfo]) -> tuple[str | None, str | None]:
    """The (python_version, runtime) all ``layers`` agree on, refusing what this host cannot run."""
    here = host_arch()
    versions = {info.python_version for info in layers if info.python_version}
    for info in layers:
        if info.arch and info.arch != here:
            raise EmulatorError(
                f"{info.path} is built for {info.arch}; this machine is {here} and cannot load its native code",
                hint=f"for local runs build a layer with `lambdapack build-layer --arch {here}` "
                     f"(deploy the {info.arch} one as it is)")
    if len(versions) > 1:
        raise EmulatorError(f"the layers were built for different Pythons ({', '.join(sorted(versions))})",
                            hint="build every layer for the one runtime the function uses")
    version = versions.pop() if versions else None
    runtimes = {info.runtime for info in layers if info.runtime}
    runtime = runtimes.pop() if len(runtimes) == 1 else (f"python{version}" if version else None)
    if runtime is not None and runtime not in RUNTIMES:
        raise EmulatorError(f"the layer targets {runtime}, which Lambda does not offer",
                            hint="choose one of: " + ", ".join(RUNTIMES))
    return version, runtime


def opt_dir_for(layers: Sequence[LayerInfo]) -> Path:
    """The layers unpacked in order into one cached directory (Lambda's ``/opt``)."""
    key = hashlib.sha256("\n".join(info.sha256 for info in layers).encode()).hexdigest()[:20]
    root = cache_root() / "emulator"
    final = root / f"opt-{key}"
    if (final / ".complete").is_file():
        os.utime(final / ".complete")  # last use, for pruning
        return final
    root.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".opt-{key}.", dir=root))
    try:
        for info in layers:
            archive.safe_extract(info.path, tmp)
        (tmp / ".complete").write_text("\n".join(str(info.path) for info in layers) + "\n")
        try:
            os.replace(tmp, final)
        except OSError:
            # another emulator finished the same layers first; theirs is identical
            if not (final / ".complete").is_file():
                raise
    except OSError as exc:
        raise EmulatorError(f"cannot unpack the layers into {root}: {exc.strerror or exc}",
                            hint="free some disk space or set LAMBDAPACK_CACHE_DIR to a writable place") from None
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    prune_opt_dirs(root, keep=final)
    return final


def prune_opt_dirs(root: Path, keep: Path, newest: int = KEEP_OPT_DIRS, idle_s: float = PRUNE_IDLE_S) -> list[Path]:
    """Remove unpacked layers beyond the ``newest`` most recently used, if idle for ``idle_s``.

    Each is a full unpacked layer (~200 MB for scikit-learn); a rebuilt layer has a new hash,
    so without this the cache grows with every build. One in use by a running emulator was
    used recently and is kept.
    """
    now = time.time()
    dirs = []
    for path in root.glob("opt-*"):
        marker = path / ".complete"
        if path != keep and marker.is_file():
            dirs.append((marker.stat().st_mtime, path))
    dirs.sort(reverse=True)
    removed = []
    for last_used, path in dirs[max(newest - 1, 0):]:
        if now - last_used > idle_s:
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
    return removed


def unpack_function(function_zip: Path, dest: Path) -> Path:
    """Unpack the function package into ``dest`` (the task root)."""
    try:
        archive.safe_extract(function_zip, dest)
    except LambdapackError:
        raise
    except OSError as exc:
        raise EmulatorError(f"cannot unpack {function_zip}: {exc.strerror or exc}",
                            hint="free some disk space in the temporary directory") from None
    return dest
