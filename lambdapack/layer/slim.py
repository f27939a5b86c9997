"""Make a site-packages tree smaller using only the rules measured safe (DESIGN.md).

- :func:`strip_dist_info` removes ``*.dist-info`` (the guide's own step; ``--keep-dist-info``).
- :func:`slim` removes ``__pycache__``, test suites (except the two files numpy 2.2 imports
  from its tests package), type stubs, Cython sources and C/C++ sources and headers.
- :func:`strip_extensions` runs ``strip --strip-unneeded`` on the packages' own extension
  modules only: never the vendored libraries in ``*.libs/`` (openblas and gfortran stop
  loading), never with llvm-strip, never a foreign architecture with the host's strip.
"""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from lambdapack.layer.elf import loadable, read_elf

# numpy 2.2 imports these from its test package at import time (measured)
KEEP_FROM_TESTS = frozenset({"numpy/_core/tests/__init__.py", "numpy/_core/tests/_natype.py"})
TEST_DIRS = frozenset({"tests"})
DROP_SUFFIXES = frozenset({".pyi", ".pyx", ".pxd", ".pxi", ".c", ".cc", ".cpp", ".cxx", ".h", ".hh", ".hpp",
                           ".hxx"})


@dataclass(frozen=True)
class SlimResult:
    files_removed: int
    bytes_removed: int


def _size(path: Path) -> int:
    try:
        return path.lstat().st_size
    except OSError:
        return 0


def _remove_tree(path: Path) -> tuple[int, int]:
    files = 0
    size = 0
    for dirpath, _dirs, names in os.walk(path):
        for name in names:
            files += 1
            size += _size(Path(dirpath) / name)
    shutil.rmtree(path)
    return files, size


def strip_dist_info(site_packages: Path) -> SlimResult:
    """Remove every ``*.dist-info`` directory (what the guide does by hand)."""
    files = size = 0
    for entry in sorted(site_packages.iterdir()):
        if entry.is_dir() and entry.name.endswith(".dist-info"):
            f, s = _remove_tree(entry)
            files += f
            size += s
    return SlimResult(files, size)


def _is_kept(rel: PurePosixPath) -> bool:
    return rel.as_posix() in KEEP_FROM_TESTS


def slim(site_packages: Path) -> SlimResult:
    """Apply the measured-safe deletion rules to ``site_packages``."""
    files = size = 0
    for dirpath, dirnames, filenames in os.walk(site_packages, topdown=True):
        here = Path(dirpath)
        rel_dir = PurePosixPath(here.relative_to(site_packages).as_posix())
        for name in list(dirnames):
            child = here / name
            rel = rel_dir / name
            if name == "__pycache__" or (name in TEST_DIRS and len(rel.parts) > 1 and not any(
                    k.startswith(rel.as_posix() + "/") for k in KEEP_FROM_TESTS)):
                f, s = _remove_tree(child)
                files += f
                size += s
                dirnames.remove(name)
        in_tests = any(part in TEST_DIRS for part in rel_dir.parts[1:])
        for name in filenames:
            rel = rel_dir / name
            path = here / name
            if (in_tests and not _is_kept(rel)) or path.suffix in DROP_SUFFIXES:
                size += _size(path)
                files += 1
                path.unlink()
    return SlimResult(files, size)


@dataclass(frozen=True)
class StripResult:
    stripped: int
    bytes_saved: int
    skipped_reason: str | None = None
    refused: int = 0  # files left unstripped because strip failed or its output would not load


def host_strip_for(machine: str) -> str | None:
    """A GNU strip that handles ``machine``: the host's for the host arch, else a cross strip."""
    cross = shutil.which(f"{machine}-linux-gnu-strip")
    if cross:
        return cross
    if platform.machine() == machine:
        native = shutil.which("strip")
        if native and "llvm" not in Path(os.path.realpath(native)).name:
            return native
    return None


def extension_modules(site_packages: Path) -> Iterator[Path]:
    """The packages' own compiled extension modules (``*.so``), outside any ``*.libs`` directory."""
    for dirpath, dirnames, filenames in os.walk(site_packages):
        dirnames[:] = sorted(d for d in dirnames if not d.endswith(".libs"))
        for name in sorted(filenames):
            if name.endswith(".so") or ".so." in name:
                path = Path(dirpath) / name
                if not path.is_symlink():
                    yield path


def strip_extensions(site_packages: Path, machine: str) -> StripResult:
    strip = host_strip_for(machine)
    if strip is None:
        return StripResult(0, 0, f"no GNU strip for {machine} on this machine (install binutils-{machine}-linux-gnu)")
    candidates = []
    for path in extension_modules(site_packages):
        info = read_elf(path)
        if info is not None and info.machine == machine:
            candidates.append(path)

    def run(path: Path) -> int | None:
        stripped = path.with_name(path.name + ".stripped")
        try:
            done = subprocess.run([strip, "--strip-unneeded", "-o", str(stripped), str(path)],
                                  capture_output=True, check=False)
            # stripping is an optimisation: a file strip cannot handle, or whose stripped copy the
            # loader would refuse, stays exactly as the wheel shipped it
            if done.returncode != 0 or not loadable(stripped):
                return None
            saved = path.stat().st_size - stripped.stat().st_size
            os.chmod(stripped, path.stat().st_mode & 0o777)
            os.replace(stripped, path)
            return saved
        finally:
            stripped.unlink(missing_ok=True)

    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        saved = [s for s in pool.map(run, candidates) if s is not None]
    return StripResult(len(saved), sum(saved), refused=len(candidates) - len(saved))
