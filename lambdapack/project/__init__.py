"""Layer inputs from a project directory: ``uv.lock``, ``pylock.toml``, ``poetry.lock`` or ``pyproject.toml``.

:func:`read_project` picks the first of these the directory holds and returns a
:class:`Project`:

- **uv.lock**: what ``uv export --frozen --no-emit-project --no-dev`` gives (``--group`` /
  ``--extra`` select more), read in its PEP 751 form, so every pin carries its wheels' URLs
  and sha256s;
- **pylock.toml** (PEP 751, or ``pylock.NAME.toml``): read as it is;
- **poetry.lock** (lock versions 1.1, 2.0, 2.1): the dependency graph from ``pyproject.toml``'s
  roots, each edge's markers evaluated for the target; the index is asked where each pinned
  file lives (the lock holds names and hashes, not URLs);
- **pyproject.toml** alone: ``[project].dependencies`` (plus the chosen optional
  dependencies and dependency groups), resolved for the target like any requirement list.

Markers are evaluated for the Lambda target (Linux, the runtime's Python, its machine) with
``packaging.markers``, never for this host. :meth:`Project.pins_for` checks every pin
before anything is downloaded: a pin with no wheel the target loads stops the build,
naming the package, the pin and the newest version that would load. Locked hashes are
enforced: each wheel is downloaded against the sha256 its lock names.
"""

from __future__ import annotations

import hashlib
import json
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from packaging.markers import InvalidMarker, Marker, UndefinedComparison, UndefinedEnvironmentName
from packaging.utils import canonicalize_name

from lambdapack.errors import ResolveError, WheelError
from lambdapack.targets import Target
from lambdapack.wheels.check import best_tag_rank, parse_wheel_name
from lambdapack.wheels.pins import PinnedWheel, ProgressFn

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib

__all__ = ["LockedFile", "LockedPackage", "Project", "ProjectError", "marker_environment", "read_project"]

LOCK_KINDS = ("uv.lock", "pylock.toml", "poetry.lock")


class ProjectError(ResolveError):
    """A project's lock or pyproject cannot give a layer for the target."""


@dataclass(frozen=True)
class LockedFile:
    filename: str
    url: str | None  # None: a local file (``path``), or a lock that names no URLs (poetry.lock)
    sha256: str | None
    size: int | None = None
    path: str | None = None


@dataclass(frozen=True)
class LockedPackage:
    name: str  # canonical
    version: str
    wheels: tuple[LockedFile, ...]
    marker: str | None = None  # when the package applies (PEP 751 lock markers)
    source_only: bool = False  # the lock offers it only as an sdist, a VCS checkout or a directory


@dataclass(frozen=True)
class Project:
    directory: Path
    kind: str  # "uv.lock", "pylock.toml", "poetry.lock" or "pyproject.toml"
    source: Path  # the file the pins (or requirements) were read from
    # the locked packages for a marker environment: read only when the pins are needed (a rebuild
    # of the same lock reuses its stored pins and never runs uv export or walks poetry's graph)
    packages: Callable[[Mapping[str, Any]], tuple[LockedPackage, ...]] | None = None
    requirements: tuple[str, ...] = ()  # pyproject.toml alone: resolved for the target
    groups: tuple[str, ...] = ()
    extras: tuple[str, ...] = ()
    fingerprint: str = ""  # of the bytes read and the selection: a changed lock is resolved anew

    @property
    def locked(self) -> bool:
        return self.kind in LOCK_KINDS

    def pins_for(self, target: Target, cache_dir: Path, progress: ProgressFn | None = None) -> list[PinnedWheel]:
        """One wheel per locked package that applies to ``target``; refuses before any download."""
        environment = marker_environment(target, self.extras, self.groups)
        assert self.packages is not None
        applying = [p for p in self.packages(environment) if applies(p.marker, environment, self.source)]
        pins: list[PinnedWheel] = []
        for package in applying:
            chosen = best_wheel(package, target)
            if chosen is None:
                raise cannot_load(package, self, target)
            pins.append(PinnedWheel(package.name, package.version, chosen.filename, chosen.sha256, chosen.size,
                                    chosen.url, chosen.path, index_verified=chosen.url is not None))
        if any(p.url is None and p.path is None for p in pins):
            from lambdapack.project.poetry import locate

            pins = locate(pins, self, target, cache_dir, progress)
        return pins


def marker_environment(target: Target, extras: Sequence[str] = (), groups: Sequence[str] = ()) -> dict[str, Any]:
    """The PEP 508 marker values of the Lambda target (Amazon Linux, CPython), not of this host."""
    version = target.python_version
    return {
        "implementation_name": "cpython", "implementation_version": f"{version}.0",
        "os_name": "posix", "platform_machine": target.machine, "platform_python_implementation": "CPython",
        "platform_release": "", "platform_system": "Linux", "platform_version": "",
        "python_full_version": f"{version}.0", "python_version": version, "sys_platform": "linux",
        "extra": "", "extras": frozenset(canonicalize_name(e) for e in extras),
        "dependency_groups": frozenset(canonicalize_name(g) for g in groups),
    }


def applies(marker: str | None, environment: Mapping[str, Any], source: Path, extra: str = "") -> bool:
    if not marker:
        return True
    try:
        parsed = Marker(marker)
    except InvalidMarker as exc:
        raise ProjectError(f"{source.name}: invalid marker {marker!r} ({exc})",
                           hint="regenerate the lock file with its tool") from None
    env = dict(environment, extra=extra)
    try:
        return parsed.evaluate(env, "lock_file")  # type: ignore[arg-type]
    except TypeError:  # packaging < 25 has no lock-file context ('x' in extras)
        return parsed.evaluate({k: v for k, v in env.items() if isinstance(v, str)})
    except (UndefinedComparison, UndefinedEnvironmentName) as exc:
        raise ProjectError(f"{source.name}: cannot evaluate marker {marker!r} for Lambda ({exc})",
                           hint="simplify the marker, or regenerate the lock file") from None


def best_wheel(package: LockedPackage, target: Target) -> LockedFile | None:
    """The locked wheel of ``package`` most specific to ``target``, or None when none loads there."""
    ranked = []
    for wheel in package.wheels:
        try:
            tags = parse_wheel_name(wheel.filename).tags
        except WheelError:  # an sdist or a malformed name is simply not a candidate
            continue
        rank = best_tag_rank(tags, target)
        if rank is not None:
            ranked.append((rank, wheel.filename, wheel))
    return min(ranked, key=lambda r: (r[0], r[1]))[2] if ranked else None


def cannot_load(package: LockedPackage, project: Project, target: Target) -> ProjectError:
    """The error for a pin ``target`` cannot load, naming the newest version that would."""
    from lambdapack.wheels.diagnose import newest_version

    where = f"{target.label} (Python {target.python_version}, glibc {target.glibc_version}, {target.machine})"
    pin = f"{package.name}=={package.version}"
    if package.source_only or not package.wheels:
        return ProjectError(f"{project.source.name} pins {pin}, which has no wheel: it would have to be built "
                            f"from source, and a layer built here would not match Lambda's glibc",
                            hint=f"pin a release of {package.name} that publishes manylinux wheels, "
                                 "then lock the project again")
    newest = newest_version(package.name, target)
    found = (f"the newest version that loads there is {package.name} {newest}" if newest
             else f"no release of {package.name} has a wheel that loads there")
    return ProjectError(f"{project.source.name} pins {pin}, which has no wheel that loads on {where}; {found}",
                        hint=(f"require {package.name}=={newest} (or a range that allows it) and lock again, "
                              "or build for another runtime/--arch" if newest
                              else "drop the package, or build for another runtime/--arch"))


def _fingerprint(data: bytes, *more: object) -> str:
    return hashlib.sha256(data + json.dumps(more, sort_keys=True, default=str).encode()).hexdigest()


def load_toml(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ProjectError(f"cannot read {path}: {exc.strerror or exc}", hint="check the path") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ProjectError(f"{path} is not valid TOML ({exc})", hint="fix the file, or regenerate it") from None


def read_project(directory: Path, *, groups: Sequence[str] = (), extras: Sequence[str] = ()) -> Project:
    """The build inputs of the project in ``directory`` (see the module docstring)."""
    directory = Path(directory)
    groups, extras = tuple(groups), tuple(extras)
    if (directory / "uv.lock").is_file():
        from lambdapack.project.uv import read_uv_lock

        return read_uv_lock(directory, groups, extras)
    pylocks = sorted(directory.glob("pylock*.toml"))
    if pylocks:
        from lambdapack.project.pylock import read_pylock

        return read_pylock(pylocks[0], groups, extras)
    if (directory / "poetry.lock").is_file():
        from lambdapack.project.poetry import read_poetry_lock

        return read_poetry_lock(directory, groups, extras)
    if (directory / "pyproject.toml").is_file():
        return read_pyproject(directory, groups, extras)
    raise ProjectError(f"{directory} has no uv.lock, pylock.toml, poetry.lock or pyproject.toml",
                       hint="point --project at the directory holding the project's pyproject.toml")


def read_pyproject(directory: Path, groups: tuple[str, ...], extras: tuple[str, ...]) -> Project:
    """``[project].dependencies`` (and the chosen extras and groups) of an unlocked project."""
    path = directory / "pyproject.toml"
    data = path.read_bytes()
    doc = load_toml(path)
    project = doc.get("project") or {}
    requirements = list(project.get("dependencies") or [])
    optional = project.get("optional-dependencies") or {}
    for extra in extras:
        if extra not in optional:
            raise ProjectError(f"{path}: no optional dependencies named {extra!r}",
                               hint="choose one of: " + (", ".join(optional) or "(none defined)"))
        requirements += optional[extra]
    requirements += dependency_group_requirements(doc.get("dependency-groups") or {}, groups, path)
    if not requirements:
        raise ProjectError(f"{path} declares no dependencies ([project].dependencies is empty or missing)",
                           hint="add the packages the function imports to [project].dependencies, or pass them "
                                "to build-layer as requirements")
    return Project(directory, "pyproject.toml", path, requirements=tuple(requirements), groups=groups,
                   extras=extras, fingerprint=_fingerprint(data, groups, extras))


def dependency_group_requirements(table: Mapping[str, Any], groups: Sequence[str], path: Path,
                                  seen: frozenset[str] = frozenset()) -> list[str]:
    """The requirement strings of PEP 735 dependency groups, following ``{include-group = …}``."""
    by_name = {canonicalize_name(k): v for k, v in table.items()}
    out: list[str] = []
    for group in groups:
        key = canonicalize_name(group)
        if key not in by_name:
            raise ProjectError(f"{path}: no dependency group named {group!r}",
                               hint="choose one of: " + (", ".join(table) or "(none defined)"))
        if key in seen:
            raise ProjectError(f"{path}: dependency group {group!r} includes itself", hint="fix the include-group")
        for item in by_name[key]:
            if isinstance(item, dict) and "include-group" in item:
                out += dependency_group_requirements(table, [item["include-group"]], path, seen | {key})
            elif isinstance(item, str):
                out.append(item)
    return out
