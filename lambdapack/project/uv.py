"""``uv.lock``: the pins ``uv export --frozen --no-emit-project --no-dev`` gives, in their PEP 751 form."""

from __future__ import annotations

import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from lambdapack.errors import ProjectError
from lambdapack.project.files import fingerprint, load_toml
from lambdapack.project.inputs import Project
from lambdapack.project.locked import LockedPackage
from lambdapack.project.pylock import packages_from_pylock
from lambdapack.wheels.fetch import run_tool, uv_binary


def export_command(directory: Path, out: Path, groups: tuple[str, ...], extras: tuple[str, ...]) -> list[str]:
    cmd = [uv_binary(), "export", "--frozen", "--no-emit-project", "--format", "pylock.toml", "--no-header",
           "--project", str(directory), "-o", str(out)]
    if "dev" not in groups:
        cmd.append("--no-dev")
    for group in groups:
        cmd += ["--group", group]
    for extra in extras:
        cmd += ["--extra", extra]
    return cmd


def _export(directory: Path, groups: tuple[str, ...], extras: tuple[str, ...]) -> tuple[LockedPackage, ...]:
    lock = directory / "uv.lock"
    with tempfile.TemporaryDirectory(prefix="lambdapack-uv-export-") as tmp:
        out = Path(tmp) / "pylock.toml"
        # --frozen: the lock as it is, never re-locked, and no index request
        code, output = run_tool(export_command(directory, out, groups, extras))
        if code != 0:
            reason = next((line.strip() for line in output.splitlines() if line.strip().startswith("error:")),
                          output.strip().splitlines()[-1] if output.strip() else "no output")
            raise ProjectError(f"uv export of {lock} failed: {reason.removeprefix('error: ')}",
                               hint="check --group/--extra names against pyproject.toml, and that uv.lock is "
                                    "current (`uv lock`)")
        doc = load_toml(out)
    return packages_from_pylock(doc, lock)


def read_uv_lock(directory: Path, groups: tuple[str, ...], extras: tuple[str, ...]) -> Project:
    lock = directory / "uv.lock"
    data = lock.read_bytes()

    def packages(_env: Mapping[str, Any]) -> tuple[LockedPackage, ...]:
        return _export(directory, groups, extras)

    return Project(directory, "uv.lock", lock, packages=packages, groups=groups, extras=extras,
                   fingerprint=fingerprint(data, "uv.lock", groups, extras))
