"""Precompile a layer's modules as unchecked-hash ``.pyc`` with the runtime's own Python minor.

Lambda unpacks a layer with fixed timestamps into a read-only ``/opt``: timestamp pycs go
stale and cannot be rewritten, so every cold start recompiles. Unchecked-hash pycs
(PEP 552) are trusted as they are; a pyc is only valid for the minor version that wrote
it, so the compiler must be exactly the runtime's CPython. ``co_filename`` is set to the
path the file will have on Lambda (``/opt/python/...``) and hash randomisation is fixed so
two builds write the same bytes.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from lambdapack.errors import LayerError

_SCRIPT = r"""
import compileall, py_compile, sys
root, ddir = sys.argv[1], sys.argv[2]
# marshal writes a back-reference flag only for objects referenced more than once, so before
# 3.12 (where interned strings became immortal) the bytes depend on what the process compiled
# earlier: one process in one fixed order, not a pool handing out files by timing
workers = 0 if sys.version_info >= (3, 12) else 1
ok = compileall.compile_dir(root, ddir=ddir, quiet=2, workers=workers, legacy=False,
                            invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH)
sys.exit(0 if ok else 3)
"""


@dataclass(frozen=True)
class CompileResult:
    pyc_files: int
    pyc_bytes: int
    python: str  # the compiling interpreter's full version


def compile_pycs(site_packages: Path, python: Path, runtime_path: str, python_full_version: str) -> CompileResult:
    """Compile every ``.py`` under ``site_packages`` with ``python``; pyc names claim ``runtime_path``."""
    # Before 3.11 frozenset constants are marshalled in hash order, so the hash seed must be
    # fixed; -I would ignore PYTHONHASHSEED, hence a scrubbed environment, -s -S and an empty cwd
    # instead (nothing but the stdlib on sys.path).
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    env["PYTHONHASHSEED"] = "0"
    try:
        with tempfile.TemporaryDirectory(prefix="lambdapack-compile-") as cwd:
            done = subprocess.run([str(python), "-s", "-S", "-c", _SCRIPT, str(site_packages), runtime_path],
                                  capture_output=True, text=True, env=env, cwd=cwd, check=False, timeout=1800)
    except (OSError, subprocess.SubprocessError) as exc:
        raise LayerError(f"cannot run {python} to compile the layer: {exc}",
                         hint="pass a working interpreter with --python, or build with --no-compile") from None
    # exit 3: some file has a syntax error for this Python (often vendored py2 code that is never
    # imported); compileall skipped it and compiled the rest, as pip does
    if done.returncode not in (0, 3):
        raise LayerError(f"compiling the layer with {python} failed: {done.stderr.strip()[-300:]}",
                         hint="build with --no-compile, or pass another interpreter with --python")
    files = size = 0
    for pyc in site_packages.rglob("*.pyc"):
        files += 1
        size += pyc.stat().st_size
    return CompileResult(files, size, python_full_version)
