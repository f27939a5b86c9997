"""Make a site-packages tree smaller using only the rules measured safe on the scikit-learn stack.

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
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

# numpy 2.2 imports these from its test package at import time (measured)
KEEP_FROM_TESTS = frozenset({"numpy/_core/tests/__init__.py", "numpy/_core/tests/_natype.py"})
TEST_DIRS = frozenset({"tests"})
DROP_SUFFIXES = frozenset({".pyi", ".pyx", ".pxd", ".pxi", ".c", ".cc", ".cpp", ".cxx", ".h", ".hh", ".hpp",
                           ".hxx"})


@dataclass(frozen=True)
class SlimResult:
    files_removed: int
    bytes_removed: int
    # the extension modules strip_extensions may strip, found on the same walk (sorted)
    extensions: tuple[Path, ...] = ()


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


def _dropped_dir(name: str, rel: PurePosixPath, drop_dist_info: bool) -> bool:
    if name == "__pycache__":
        return True
    if drop_dist_info and len(rel.parts) == 1 and name.endswith(".dist-info"):
        return True
    return name in TEST_DIRS and len(rel.parts) > 1 and not any(
        k.startswith(rel.as_posix() + "/") for k in KEEP_FROM_TESTS)


def dropped_file(rel: str, *, slim: bool = True, drop_dist_info: bool = False) -> bool:
    """Would :func:`slim` (``slim``) or :func:`strip_dist_info` (``drop_dist_info``) delete the file at
    ``rel`` (posix, relative to site-packages)? The installer asks, and does not write it at all."""
    parts = rel.split("/")
    if drop_dist_info and len(parts) > 1 and parts[0].endswith(".dist-info"):
        return True
    if not slim:
        return False
    if "__pycache__" in parts[:-1] or os.path.splitext(parts[-1])[1] in DROP_SUFFIXES:
        return True
    return any(part in TEST_DIRS for part in parts[1:-1]) and rel not in KEEP_FROM_TESTS


def _is_extension(name: str) -> bool:
    return name.endswith(".so") or ".so." in name


def slim(site_packages: Path, *, drop_dist_info: bool = False) -> SlimResult:
    """Apply the measured-safe deletion rules to ``site_packages`` in one walk.

    ``drop_dist_info`` also removes the top-level ``*.dist-info`` directories. The walk
    also lists the extension modules left (outside ``*.libs``) for :func:`strip_extensions`.
    """
    files = size = 0
    extensions: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(site_packages, topdown=True):
        here = Path(dirpath)
        rel_dir = PurePosixPath(here.relative_to(site_packages).as_posix())
        for name in list(dirnames):
            if _dropped_dir(name, rel_dir / name, drop_dist_info):
                f, s = _remove_tree(here / name)
                files += f
                size += s
                dirnames.remove(name)
        in_libs = any(part.endswith(".libs") for part in rel_dir.parts)
        in_tests = any(part in TEST_DIRS for part in rel_dir.parts[1:])
        for name in filenames:
            rel = rel_dir / name
            path = here / name
            if (in_tests and not _is_kept(rel)) or path.suffix in DROP_SUFFIXES:
                size += _size(path)
                files += 1
                path.unlink()
            elif not in_libs and _is_extension(name) and not path.is_symlink():
                extensions.append(path)
    return SlimResult(files, size, tuple(sorted(extensions)))


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
            if _is_extension(name):
                path = Path(dirpath) / name
                if not path.is_symlink():
                    yield path


def strip_extensions(site_packages: Path, machine: str, modules: Sequence[Path] | None = None) -> StripResult:
    """``strip --strip-unneeded`` the extension modules of ``machine`` (``modules``: as listed by
    :func:`slim`, else found here), each in its own process, as many at once as there are cores."""
    from lambdapack.layer.elf import loadable, read_elf

    strip = host_strip_for(machine)
    if strip is None:
        return StripResult(0, 0, f"no GNU strip for {machine} on this machine (install binutils-{machine}-linux-gnu)")
    candidates = []
    for path in (extension_modules(site_packages) if modules is None else modules):
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
