"""Finding a CPython of an exact minor version: ``--python``, PATH, pyenv, then uv's managed Pythons.

The layer compiler, the import check, ``train --layer`` and the emulator all need the
interpreter Lambda would use; a different minor version hides exactly the bugs that bite
in production, so nothing here falls back to "some other Python".
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
from pathlib import Path

from lambdapack.errors import InterpreterError

_PROBE = "import sys; print('%d.%d.%d' % sys.version_info[:3], sys.implementation.name)"


@functools.lru_cache(maxsize=64)
def interpreter_version(executable: str) -> tuple[tuple[int, int, int], str] | None:
    """``((major, minor, micro), implementation)`` of an interpreter, or None if it won't run."""
    try:
        out = subprocess.run(
            [executable, "-I", "-c", _PROBE],
            capture_output=True, text=True, timeout=30, check=True,
        ).stdout.split()
    except (OSError, subprocess.SubprocessError):
        return None
    if len(out) != 2:
        return None
    major, minor, micro = (int(p) for p in out[0].split("."))
    return (major, minor, micro), out[1]


def _pyenv_candidates(version: tuple[int, int]) -> list[Path]:
    root = Path(os.environ.get("PYENV_ROOT") or Path.home() / ".pyenv")
    versions = root / "versions"
    if not versions.is_dir():
        return []
    prefix = f"{version[0]}.{version[1]}."
    found = [d for d in versions.iterdir() if d.name.startswith(prefix) and d.name[len(prefix):].isdigit()]
    # newest patch release first
    found.sort(key=lambda d: int(d.name[len(prefix):]), reverse=True)
    return [d / "bin" / f"python{version[0]}.{version[1]}" for d in found]


def _uv_binary() -> str | None:
    try:
        from uv import find_uv_bin

        return find_uv_bin()
    except (ImportError, FileNotFoundError):
        return shutil.which("uv")


@functools.lru_cache(maxsize=16)
def _uv_managed(version: tuple[int, int], install_dir: str | None, path: str | None) -> Path | None:
    """The CPython ``uv python install`` put in place for ``version``, if any (never downloads one).

    ``--managed-python`` keeps uv to its own installs: PATH and pyenv were searched already,
    and uv would stop at the first broken pyenv shim on PATH. ``install_dir`` and ``path``
    are only the cache key (uv reads them from the environment).
    """
    uv = _uv_binary()
    if uv is None:
        return None
    # uv also answers with an active virtual environment's python, even with --managed-python
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "CONDA_PREFIX")}
    try:
        done = subprocess.run([uv, "python", "find", "--managed-python", "--no-project", "--no-python-downloads",
                               "--no-config", f"{version[0]}.{version[1]}"],
                              capture_output=True, text=True, timeout=30, check=False, env=env)
    except (OSError, subprocess.SubprocessError):
        return None
    found = Path(done.stdout.strip()) if done.returncode == 0 and done.stdout.strip() else None
    if found is None or (found.parent.parent / "pyvenv.cfg").exists():
        return None
    return found


def _uv_candidates(version: tuple[int, int]) -> list[Path]:
    found = _uv_managed(version, os.environ.get("UV_PYTHON_INSTALL_DIR"), os.environ.get("PATH"))
    return [found] if found is not None else []


def install_hint(version: tuple[int, int]) -> str:
    """How to get a CPython of ``version`` (uv's standalone builds install in seconds, no root)."""
    wanted = f"{version[0]}.{version[1]}"
    return f"install one with `uv python install {wanted}` (or `pyenv install {wanted}`), or pass --python PATH"


def find_python(version: tuple[int, int], explicit: str | os.PathLike[str] | None = None) -> Path | None:
    """A CPython executable of exactly ``version`` (major, minor), or None.

    ``explicit`` (the user's ``--python``) is checked and never silently replaced.
    """
    if explicit is not None:
        path = Path(explicit) if os.sep in str(explicit) else shutil.which(str(explicit))
        if path is None:
            return None
        info = interpreter_version(str(path))
        return Path(path) if info and info[0][:2] == version and info[1] == "cpython" else None
    name = f"python{version[0]}.{version[1]}"
    candidates: list[Path] = []
    on_path = shutil.which(name)
    shim = on_path is not None and Path(on_path).parent.name == "shims"
    if on_path and not shim:
        candidates.append(Path(on_path))
    candidates.extend(_pyenv_candidates(version))
    if shim:
        # a pyenv shim runs whichever Python pyenv has selected (often another version) after
        # starting a shell script: the installs it would pick from are already listed above
        candidates.append(Path(on_path))
    for candidate in candidates:
        if _is_cpython(candidate, version):
            return candidate
    for candidate in _uv_candidates(version):  # last: it costs a uv process
        if _is_cpython(candidate, version):
            return candidate
    return None


def _is_cpython(candidate: Path, version: tuple[int, int]) -> bool:
    if not candidate.exists():
        return False
    info = interpreter_version(str(candidate))
    return bool(info and info[0][:2] == version and info[1] == "cpython")


def require_python(version: tuple[int, int], explicit: str | os.PathLike[str] | None = None) -> Path:
    found = find_python(version, explicit)
    if found is not None:
        return found
    wanted = f"{version[0]}.{version[1]}"
    if explicit is not None:
        raise InterpreterError(
            f"--python {explicit} is not a CPython {wanted} interpreter",
            hint=f"pass the path of a python{wanted} executable",
        )
    raise InterpreterError(
        f"no CPython {wanted} interpreter found (looked on PATH, in pyenv and in uv's managed Pythons)",
        hint=install_hint(version),
    )
