"""The resolvers lambdapack drives, as command lines: uv's ``pip compile`` and pip's target options.

Each command line is built here once; :mod:`lambdapack.wheels.resolve` runs them and
:mod:`lambdapack.wheels.diagnose` asks pip about the index with the same target options.
The user's pip/uv configuration (indexes, certificates, proxies) is passed through: no
``--isolated`` and no ``--no-config``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable, Sequence
from pathlib import Path

from lambdapack.errors import ResolveError
from lambdapack.targets import Target


def run_tool(cmd: list[str], *, on_line: Callable[[str], None] | None = None) -> tuple[int, str]:
    """Run a resolver subprocess; return (exit code, combined output)."""
    try:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                stdin=subprocess.DEVNULL, env={**os.environ, "PYTHONIOENCODING": "utf-8"})
    except OSError as exc:
        raise ResolveError(f"cannot run {cmd[0]}: {exc.strerror or exc}",
                           hint="reinstall lambdapack so its resolver is present") from None
    lines: list[str] = []
    assert proc.stdout is not None
    for line in proc.stdout:
        lines.append(line)
        if on_line:
            on_line(line.rstrip())
    return proc.wait(), "".join(lines)


def uv_binary() -> str:
    try:
        from uv import find_uv_bin
        return find_uv_bin()
    except (ImportError, FileNotFoundError):
        found = shutil.which("uv")
        if found:
            return found
        raise ResolveError("the uv resolver is not installed",
                           hint="pip install uv, or use --resolver pip") from None


def uv_compile_command(target: Target, cache_dir: Path, lock: Path, sources: Sequence[Path], *,
                       find_links: Sequence[Path] = (), upgrade: Sequence[str] = (),
                       no_deps: bool = False) -> list[str]:
    """``uv pip compile`` writing a PEP 751 ``lock`` of wheels for ``target`` from requirement ``sources``.

    uv expands the manylinux tags of ``--python-platform`` itself; an existing ``lock`` is read
    as the versions to prefer (``upgrade`` names the packages to resolve afresh).
    """
    cmd = [uv_binary(), "pip", "compile", "--format", "pylock.toml", "--no-header",
           "--python-platform", target.uv_platform, "--python-version", target.python_version,
           "--only-binary", ":all:", "--no-python-downloads", "--cache-dir", str(cache_dir / "uv"),
           "-o", str(lock)]
    if no_deps:
        cmd.append("--no-deps")
    for link in find_links:
        cmd += ["--find-links", str(link)]
    for name in upgrade:
        cmd += ["--upgrade-package", name]
    return cmd + [str(source) for source in sources]


def pip_target_args(target: Target) -> list[str]:
    """pip's target-interpreter options for ``target`` (every platform tag, spelled out).

    pip never expands ``manylinux_2_N`` itself: every tag the target loads is a repeated
    ``--platform``, with ``--python-version``, ``--implementation cp`` and ``--abi``.
    """
    args = ["--only-binary=:all:", "--python-version", target.python_version, "--implementation", "cp"]
    for platform in target.platforms:
        args += ["--platform", platform]
    for abi in target.abis:
        args += ["--abi", abi]
    return args
