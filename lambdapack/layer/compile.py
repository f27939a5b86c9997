"""Precompile a layer's modules as unchecked-hash ``.pyc`` with the runtime's own Python minor.

Lambda unpacks a layer with fixed timestamps into a read-only ``/opt``: timestamp pycs go
stale and cannot be rewritten, so every cold start recompiles. Unchecked-hash pycs
(PEP 552) are trusted as they are; a pyc is only valid for the minor version that wrote
it, so the compiler must be exactly the runtime's CPython. ``co_filename`` is set to the
path the file will have on Lambda (``/opt/python/...``) and hash randomisation is fixed so
two builds write the same bytes.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from lambdapack.errors import LayerError

# One process compiles one fixed list of files, in order. marshal writes a back-reference
# flag only for objects referenced more than once, so before 3.12 (where interned strings
# became immortal) a pyc's bytes depend on what its process compiled earlier: the lists are
# cut from the sorted file list by size alone, never handed out by timing, so every build
# (on any number of cores) gives every process the same history.
_SCRIPT = r"""
import py_compile, sys
root, ddir, listing = sys.argv[1], sys.argv[2], sys.argv[3]
ok = True
with open(listing, encoding="utf-8") as fh:
    names = fh.read().splitlines()
for rel in names:
    try:
        py_compile.compile(root + "/" + rel, dfile=ddir + "/" + rel, doraise=True,
                           invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH)
    except (py_compile.PyCompileError, SyntaxError, UnicodeError, OSError):
        ok = False
sys.exit(0 if ok else 3)
"""
CHUNKS = 8  # lists per build: fixed, so the bytes never depend on this machine's core count


@dataclass(frozen=True)
class CompileResult:
    pyc_files: int
    pyc_bytes: int
    python: str  # the compiling interpreter's full version


def sources(site_packages: Path) -> list[tuple[str, int]]:
    """``(relative path, size)`` of every ``.py`` to compile, in compileall's order (sorted, depth first)."""
    out: list[tuple[str, int]] = []

    def walk(directory: Path, prefix: str) -> None:
        for entry in sorted(os.scandir(directory), key=lambda e: e.name):
            if entry.name == "__pycache__":
                continue
            if entry.is_dir(follow_symlinks=False):
                walk(Path(entry.path), f"{prefix}{entry.name}/")
            elif entry.name.endswith(".py") and entry.is_file():
                out.append((prefix + entry.name, entry.stat().st_size))

    walk(site_packages, "")
    return out


def chunks(files: list[tuple[str, int]], count: int = CHUNKS) -> list[list[str]]:
    """Contiguous runs of ``files`` with about equal source bytes each (a pure function of the list)."""
    total = sum(size for _, size in files) or 1
    out: list[list[str]] = [[] for _ in range(count)]
    done = 0
    for rel, size in files:
        out[min(count - 1, done * count // total)].append(rel)
        done += size
    return [c for c in out if c]


def _run(python: Path, site_packages: Path, runtime_path: str, listing: Path, env: dict[str, str],
         cwd: str) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run([str(python), "-s", "-S", "-c", _SCRIPT, str(site_packages), runtime_path,
                               str(listing)], capture_output=True, text=True, env=env, cwd=cwd, check=False,
                              timeout=1800)
    except (OSError, subprocess.SubprocessError) as exc:
        raise LayerError(f"cannot run {python} to compile the layer: {exc}",
                         hint="pass a working interpreter with --python, or build with --no-compile") from None


def compile_pycs(site_packages: Path, python: Path, runtime_path: str, python_full_version: str) -> CompileResult:
    """Compile every ``.py`` under ``site_packages`` with ``python``, one process per core at a time.

    pyc names claim ``runtime_path`` (``co_filename`` is where the file will be on Lambda).
    """
    # Before 3.11 frozenset constants are marshalled in hash order, so the hash seed must be
    # fixed; -I would ignore PYTHONHASHSEED, hence a scrubbed environment, -s -S and an empty cwd
    # instead (nothing but the stdlib on sys.path).
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    env["PYTHONHASHSEED"] = "0"
    files = sources(site_packages)
    with tempfile.TemporaryDirectory(prefix="lambdapack-compile-") as cwd:
        listings = []
        for index, names in enumerate(chunks(files)):
            listing = Path(cwd) / f"chunk-{index}.txt"
            listing.write_text("\n".join(names) + "\n", encoding="utf-8")
            listings.append(listing)
        with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
            results = list(pool.map(lambda li: _run(python, site_packages, runtime_path, li, env, cwd), listings))
    # exit 3: some file has a syntax error for this Python (often vendored py2 code that is never
    # imported); it was skipped and the rest compiled, as pip does
    failed = [r for r in results if r.returncode not in (0, 3)]
    if failed:
        raise LayerError(f"compiling the layer with {python} failed: {failed[0].stderr.strip()[-300:]}",
                         hint="build with --no-compile, or pass another interpreter with --python")
    size = count = 0
    for cache in {(site_packages / rel).parent / "__pycache__" for rel, _ in files}:
        with contextlib.suppress(OSError):
            for entry in os.scandir(cache):
                if entry.name.endswith(".pyc"):
                    size += entry.stat().st_size
                    count += 1
    return CompileResult(count, size, python_full_version)
