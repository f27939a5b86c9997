"""What every layer-building peer shares: a clean environment, running a tool, zipping as the guides do, the
tool virtualenvs under the bench cache, and the :class:`Peer` interface ``bench/peers.py`` implements.

All pip traffic goes to PyPI only: the peers run with ``PIP_CONFIG_FILE=/dev/null`` and no
``PIP_*``/``UV_*`` variables (this machine has a global pip configuration with local indexes
and a constraints file), and the pip commands we type ourselves add ``--isolated``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from lambdapack.archive import entries_from_dir
from lambdapack.targets import Target

REQUIREMENTS = ("scikit-learn", "joblib")
BUILD_TIMEOUT = 900


@dataclass(frozen=True)
class Build:
    """One build's outcome: a layer zip, or the error a user would read."""

    ok: bool
    seconds: float = 0.0
    zip_path: Path | None = None
    error: str | None = None
    wheel_names: tuple[str, ...] = ()
    note: str = ""
    phases: dict[str, float] = field(default_factory=dict)  # seconds per build phase, when the tool reports them


@dataclass(frozen=True)
class ToolEnv:
    """Where the bench keeps tool virtualenvs and caches (outside the repository)."""

    root: Path

    @property
    def venvs(self) -> Path:
        return self.root / "venvs"


def default_cache_root() -> Path:
    return Path(os.environ.get("LAMBDAPACK_BENCH_CACHE") or Path.home() / ".cache" / "lambdapack-bench")


def clean_env(**extra: str) -> dict[str, str]:
    """The environment every peer runs in: PyPI only, no telemetry, nothing from this machine's pip setup."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PIP_", "UV_", "VIRTUAL_ENV"))}
    env.update(PIP_CONFIG_FILE=os.devnull, PIP_DISABLE_PIP_VERSION_CHECK="1", SAM_CLI_TELEMETRY="0",
               PYTHONDONTWRITEBYTECODE="1")
    env.update(extra)
    return env


def user_error(stderr: str, stdout: str = "") -> str:
    """The line a user would read as the reason: the last error line, else the last line."""
    lines = [line.strip() for line in (stderr + "\n" + stdout).splitlines() if line.strip()]
    for line in reversed(lines):
        if line.lower().startswith(("error", "pythonpipbuilder", "could not", "no matching")):
            return line[:300]
    return lines[-1][:300] if lines else "failed with no output"


def run_tool(cmd: Sequence[str | os.PathLike[str]], *, cwd: Path | None = None, env: dict[str, str] | None = None,
             timeout: float = BUILD_TIMEOUT) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run([str(c) for c in cmd], cwd=cwd, env=env or clean_env(), capture_output=True,
                              text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        return subprocess.CompletedProcess([str(c) for c in cmd], 124, "", f"error: timed out after {timeout:.0f} s")


def zip_tree(root: Path, dest: Path, prefix: str = "") -> Path:
    """``cd root && zip -r dest .`` as the guides do: zlib's deflate at zip's default level, one thread
    (lambdapack's own writer, libdeflate on every core, would flatter the peers)."""
    with zipfile.ZipFile(dest, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=6) as zf:
        for entry in entries_from_dir(root, prefix=prefix):
            zf.write(entry.source, entry.arcname)
    return dest


def pip_cmd() -> list[str]:
    # --isolated ignores PIP_* variables and the user's pip.conf; PIP_CONFIG_FILE=/dev/null
    # (from clean_env) also drops the global one
    return [sys.executable, "-m", "pip", "--isolated"]


def pip_version() -> str:
    from pip import __version__

    return f"pip {__version__}"


def ensure_venv(env: ToolEnv, name: str, python: Path, packages: Sequence[str], probe: str) -> Path:
    """A virtualenv with ``packages`` under the bench cache; returns its bin directory."""
    venv = env.venvs / name
    bindir = venv / "bin"
    if (bindir / probe).exists():
        return bindir
    shutil.rmtree(venv, ignore_errors=True)
    venv.parent.mkdir(parents=True, exist_ok=True)
    for cmd in ([str(python), "-m", "venv", str(venv)],
                [str(bindir / "python"), "-m", "pip", "--isolated", "install", "-q", "--upgrade", "pip"],
                [str(bindir / "python"), "-m", "pip", "--isolated", "install", "-q", *packages]):
        proc = run_tool(cmd)
        if proc.returncode != 0:
            shutil.rmtree(venv, ignore_errors=True)
            raise RuntimeError(f"cannot install {' '.join(packages)}: {user_error(proc.stderr)}")
    return bindir


class Peer:
    """A way to build the layer. ``key`` is stable (JSON, tests), ``label`` is for the table."""

    key: str = ""
    label: str = ""
    command: str = ""

    def unsupported(self, target: Target) -> str | None:
        """Why this peer cannot build ``target``, or None."""
        return None

    # True when a user's rebuild reruns the tool in the same project (its own caches count);
    # False when the recipe starts from empty directories every time.
    rebuild_in_place = False

    def prepare(self, env: ToolEnv, target: Target, workdir: Path) -> str:
        """Install the tool (not timed); returns a note such as its version."""
        return ""

    def build(self, target: Target, workdir: Path, cache: Path) -> Build:
        """Build into ``workdir`` with download caches in ``cache``; wall time included."""
        workdir.mkdir(parents=True, exist_ok=True)
        start = time.perf_counter()
        outcome = self._build(target, workdir, cache)
        return replace(outcome, seconds=time.perf_counter() - start)

    def _build(self, target: Target, workdir: Path, cache: Path) -> Build:
        raise NotImplementedError
