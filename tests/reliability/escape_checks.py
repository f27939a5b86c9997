"""Checks that nothing escaped a build directory: file snapshots and links leading out."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import hostile


def snapshot(root: Path) -> dict[str, tuple[int, int]]:
    """Relative path -> (size, mtime_ns) of everything under ``root`` (links not followed)."""
    out: dict[str, tuple[int, int]] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = Path(dirpath) / name
            st = path.lstat()
            # a directory's mtime moves when the build directory appears in it: compare files only
            out[path.relative_to(root).as_posix()] = (-1, -1) if stat.S_ISDIR(st.st_mode) else (
                st.st_size, st.st_mtime_ns)
    return out


def links_leaving(root: Path) -> list[str]:
    """Symlinks under ``root`` that lead outside it."""
    real_root = root.resolve()
    bad = []
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = Path(dirpath) / name
            if path.is_symlink() and not path.resolve().is_relative_to(real_root):
                bad.append(path.relative_to(root).as_posix())
    return bad


def assert_nothing_outside(sandbox: Path, build: Path, before: dict[str, tuple[int, int]]) -> None:
    """Only ``build`` changed inside ``sandbox``, no escape file exists, no link leads out of ``build``."""
    after = {k: v for k, v in snapshot(sandbox).items()
             if not (k == build.relative_to(sandbox).as_posix()
                     or k.startswith(build.relative_to(sandbox).as_posix() + "/"))}
    before_outside = {k: v for k, v in before.items()
                      if not k.startswith(build.relative_to(sandbox).as_posix())}
    assert after == before_outside, f"written outside the build directory: {set(after) ^ set(before_outside)}"
    assert not Path("/tmp", hostile.OUTSIDE_NAME).exists()
    if build.exists():
        assert links_leaving(build) == []
