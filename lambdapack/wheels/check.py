"""Is this file a wheel the target can load? Checked from the name first, then the archive.

A wheel's filename carries its tags (PEP 427/425); the target's accepted tags come from
:meth:`lambdapack.targets.Target.supported_tags`. An sdist is refused outright: building
C extensions for Lambda on this machine would produce binaries for the wrong glibc.
"""

from __future__ import annotations

import stat
import zipfile
from dataclasses import dataclass
from pathlib import Path

from packaging.tags import Tag
from packaging.utils import InvalidWheelFilename, canonicalize_name, parse_wheel_filename

from lambdapack.archive import open_zip, validate_members
from lambdapack.errors import ArchiveError, WheelError
from lambdapack.targets import Target

SDIST_SUFFIXES = (".tar.gz", ".zip", ".tar.bz2", ".tar.xz", ".tgz", ".tar")


@dataclass(frozen=True)
class WheelName:
    name: str  # canonical
    version: str
    tags: frozenset[Tag]
    filename: str


def parse_wheel_name(filename: str) -> WheelName:
    if not filename.endswith(".whl"):
        if filename.endswith(SDIST_SUFFIXES):
            raise WheelError(f"{filename} is a source distribution, not a wheel",
                             hint="Lambda needs prebuilt manylinux wheels; use a release that publishes them")
        raise WheelError(f"{filename} is not a wheel file", hint="pass a .whl file or a requirement")
    try:
        name, version, _build, tags = parse_wheel_filename(filename)
    except InvalidWheelFilename as exc:
        raise WheelError(f"{filename}: invalid wheel filename ({exc})",
                         hint="wheel files are named NAME-VERSION-PYTHON-ABI-PLATFORM.whl") from None
    return WheelName(canonicalize_name(name), str(version), frozenset(tags), filename)


def best_tag_rank(tags: frozenset[Tag], target: Target) -> int | None:
    """The rank of the wheel's most specific tag in the target's preference order, or None."""
    for rank, tag in enumerate(target.supported_tags()):
        if tag in tags:
            return rank
    return None


def require_compatible(filename: str, target: Target) -> WheelName:
    """Parse ``filename`` and raise WheelError unless one of its tags loads on ``target``."""
    wheel = parse_wheel_name(filename)
    if best_tag_rank(wheel.tags, target) is None:
        platforms = sorted({t.platform for t in wheel.tags})
        machine_ok = any(target.machine in p or p == "any" for p in platforms)
        why = (f"built for {', '.join(platforms)}" if not machine_ok
               else f"tags {', '.join(sorted(str(t) for t in wheel.tags))}")
        raise WheelError(
            f"{filename} does not load on {target.label} (Python {target.python_version}, "
            f"glibc {target.glibc_version}, {target.machine}): {why}",
            hint=f"use a wheel for cp{target.python[0]}{target.python[1]} manylinux ≤ {target.glibc_version} "
                 f"{target.machine}, or a pure-Python (py3-none-any) wheel")
    return wheel


def _is_link(info: zipfile.ZipInfo) -> bool:
    return info.create_system == 3 and stat.S_ISLNK(info.external_attr >> 16)


def check_wheel_archive(path: Path) -> None:
    """Refuse a wheel whose members are unsafe (``..``, absolute, links, bombs) before any write."""
    try:
        with open_zip(path) as zf:
            members = validate_members(zf)
    except ArchiveError as exc:
        raise WheelError(f"{path.name}: {exc.message.removeprefix(str(path) + ': ')}", hint=exc.hint) from None
    for info, _rel in members:
        if _is_link(info):
            raise WheelError(f"{path.name}: member {info.filename!r} is a symbolic link",
                             hint="wheels cannot carry links; the file is hostile or broken, do not use it")
