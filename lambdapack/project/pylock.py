"""PEP 751 ``pylock.toml``: every package with its wheels' URLs (or paths) and sha256s."""

from __future__ import annotations

import urllib.parse
from collections.abc import Mapping
from pathlib import Path, PurePosixPath
from typing import Any

from packaging.utils import canonicalize_name

from lambdapack.errors import ProjectError
from lambdapack.project.files import fingerprint, load_toml
from lambdapack.project.inputs import Project
from lambdapack.project.locked import LockedFile, LockedPackage
from lambdapack.wheels.check import parse_wheel_name

_SOURCES = ("sdist", "vcs", "directory", "archive")


def _locked_file(item: Mapping[str, Any], base: Path, lock: Path) -> LockedFile:
    url, path = item.get("url"), item.get("path")
    if url:
        filename = item.get("name") or PurePosixPath(urllib.parse.urlparse(url).path).name
    elif path:
        filename = item.get("name") or PurePosixPath(path).name
        path = str((base / path).resolve())
    else:
        raise ProjectError(f"{lock.name}: a wheel entry has neither url nor path", hint="regenerate the lock file")
    sha256 = (item.get("hashes") or {}).get("sha256")
    if not sha256:
        raise ProjectError(f"{lock.name}: {filename} is locked without a sha256",
                           hint="every locked file needs its sha256 (regenerate the lock with a tool that "
                                "records hashes)")
    return LockedFile(filename, url, sha256.lower(), item.get("size"), path)


def packages_from_pylock(doc: Mapping[str, Any], lock: Path) -> tuple[LockedPackage, ...]:
    """The packages of a parsed ``pylock.toml`` (markers kept, evaluated later for the target)."""
    version = str(doc.get("lock-version", ""))
    if version.split(".")[0] != "1":
        raise ProjectError(f"{lock.name}: lock-version {version or '(missing)'!r} is not one this lambdapack reads "
                           "(PEP 751 lock-version 1.x)", hint="regenerate the lock file, or upgrade lambdapack")
    out: list[LockedPackage] = []
    for entry in doc.get("packages") or []:
        wheels = [_locked_file(w, lock.parent, lock) for w in entry.get("wheels") or []]
        archive = entry.get("archive")
        if archive and str(archive.get("url") or archive.get("path") or "").endswith(".whl"):
            wheels.append(_locked_file(archive, lock.parent, lock))
        name = canonicalize_name(entry.get("name", ""))
        version = entry.get("version") or (parse_wheel_name(wheels[0].filename).version if wheels else "")
        source_only = not wheels and any(k in entry for k in _SOURCES)
        out.append(LockedPackage(name, str(version), tuple(wheels), entry.get("marker"), source_only))
    if not out:
        raise ProjectError(f"{lock.name} locks no packages", hint="lock the project's dependencies first")
    return tuple(out)


def read_pylock(lock: Path, groups: tuple[str, ...], extras: tuple[str, ...]) -> Project:
    data = lock.read_bytes()
    doc = load_toml(lock)
    for wanted, key in ((groups, "dependency-groups"), (extras, "extras")):
        known = doc.get(key)
        unknown = [w for w in wanted if known is not None and w not in known]
        if unknown:
            raise ProjectError(f"{lock.name} has no {key} named {', '.join(unknown)}",
                               hint="choose from: " + (", ".join(known) or "(none)"))
    chosen_groups = groups or tuple(doc.get("default-groups") or ())
    packages = packages_from_pylock(doc, lock)
    return Project(lock.parent, "pylock.toml", lock, packages=lambda _env: packages, groups=chosen_groups,
                   extras=extras, fingerprint=fingerprint(data, "pylock", chosen_groups, extras))
