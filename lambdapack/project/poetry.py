"""``poetry.lock`` (lock versions 1.1, 2.0 and 2.1): the packages reachable from the project's roots.

poetry.lock is universal: it holds every package any platform could need, with the markers
on the dependency edges. The packages a Lambda layer needs are the ones reachable from
``pyproject.toml``'s dependencies (plus the chosen groups and extras) along edges whose
markers hold for the target. The lock names each file and its hash but not its URL; the
index is asked where that exact file lives (:func:`lambdapack.project.pins.wheel_pins`).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from lambdapack.errors import ProjectError
from lambdapack.project.files import fingerprint, load_toml
from lambdapack.project.inputs import Project
from lambdapack.project.locked import LockedFile, LockedPackage
from lambdapack.project.markers import applies

LOCK_VERSIONS = ("1.1", "2.0", "2.1")
# (name, extras, marker) of one dependency edge
Edge = tuple[str, frozenset[str], "str | None"]


def _edges_from_table(table: Mapping[str, Any]) -> Iterator[tuple[str, dict]]:
    """Poetry's ``name = "^1.0"`` / ``{version, markers, optional, extras}`` / ``[{…}, {…}]`` forms."""
    for name, spec in table.items():
        for item in spec if isinstance(spec, list) else [spec]:
            yield name, {"version": item} if isinstance(item, str) else dict(item)


def _requirement_edge(text: str, source: Path) -> Edge:
    try:
        req = Requirement(text)
    except InvalidRequirement as exc:
        raise ProjectError(f"{source.name}: invalid requirement {text!r} ({exc})", hint="fix pyproject.toml") from None
    return canonicalize_name(req.name), frozenset(req.extras), str(req.marker) if req.marker else None


def root_edges(pyproject: Mapping[str, Any], groups: tuple[str, ...], extras: tuple[str, ...],
               source: Path) -> list[Edge]:
    """The project's own dependencies: PEP 621 ``[project]`` (Poetry 2) or ``[tool.poetry]`` (Poetry 1)."""
    project = pyproject.get("project") or {}
    poetry = (pyproject.get("tool") or {}).get("poetry") or {}
    edges = [_requirement_edge(r, source) for r in project.get("dependencies") or []]
    optional = project.get("optional-dependencies") or {}
    poetry_extras = poetry.get("extras") or {}
    for extra in extras:
        if extra not in optional and extra not in poetry_extras:
            raise ProjectError(f"{source.name}: no extra named {extra!r}",
                               hint="choose one of: " + (", ".join([*optional, *poetry_extras]) or "(none)"))
        edges += [_requirement_edge(r, source) for r in optional.get(extra, [])]
    wanted_optional = {canonicalize_name(n) for e in extras for n in poetry_extras.get(e, [])}
    tables = [poetry.get("dependencies") or {}]
    poetry_groups = poetry.get("group") or {}
    for group in groups:
        if group in poetry_groups:
            tables.append(poetry_groups[group].get("dependencies") or {})
        elif group == "dev" and "dev-dependencies" in poetry:
            tables.append(poetry["dev-dependencies"])
        else:
            raise ProjectError(f"{source.name}: no dependency group named {group!r}",
                               hint="choose one of: " + (", ".join(poetry_groups) or "(none)"))
    for table in tables:
        for name, spec in _edges_from_table(table):
            key = canonicalize_name(name)
            if key == "python" or (spec.get("optional") and key not in wanted_optional):
                continue
            edges.append((key, frozenset(spec.get("extras") or ()), spec.get("markers")))
    return edges


def _entry_for(name: str, entries: list[dict], env: Mapping[str, Any], lock: Path) -> dict:
    """The locked entry of ``name``; with several (per-Python versions), the one whose markers hold."""
    if len(entries) == 1:
        return entries[0]
    fitting = [e for e in entries if isinstance(e.get("markers"), str) and applies(e["markers"], env, lock)]

    def version(e: dict) -> Version:
        try:
            return Version(str(e.get("version")))
        except InvalidVersion:
            return Version("0")

    return max(fitting or entries, key=version)


def _requested_by_extras(dep: str, package_extras: Mapping[str, list[str]], extras: frozenset[str]) -> bool:
    for extra in extras:
        for item in package_extras.get(extra, []):
            if canonicalize_name(item.split("(")[0].split("[")[0].split(";")[0].strip()) == dep:
                return True
    return False


def walk(doc: Mapping[str, Any], roots: list[Edge], env: Mapping[str, Any], lock: Path) -> list[dict]:
    """The lock entries reachable from ``roots`` along edges whose markers hold in ``env``."""
    by_name: dict[str, list[dict]] = {}
    for entry in doc.get("package") or []:
        by_name.setdefault(canonicalize_name(entry.get("name", "")), []).append(entry)
    seen: dict[str, frozenset[str]] = {}
    chosen: dict[str, dict] = {}
    queue = [(name, extras) for name, extras, marker in roots if applies(marker, env, lock)]
    while queue:
        name, extras = queue.pop()
        if name in seen and extras <= seen[name]:
            continue
        if name not in by_name:
            raise ProjectError(f"{lock.name} does not lock {name}, which the project depends on",
                               hint="the lock is stale: run `poetry lock`")
        seen[name] = seen.get(name, frozenset()) | extras
        entry = chosen.setdefault(name, _entry_for(name, by_name[name], env, lock))
        for dep, spec in _edges_from_table(entry.get("dependencies") or {}):
            key = canonicalize_name(dep)
            if spec.get("optional") and not _requested_by_extras(key, entry.get("extras") or {}, seen[name]):
                continue
            # an optional dependency's edge carries `extra == "…"`: it holds for any extra asked of the package
            if any(applies(spec.get("markers"), env, lock, extra=e) for e in sorted(seen[name]) or [""]):
                queue.append((key, frozenset(spec.get("extras") or ())))
    return [chosen[k] for k in sorted(chosen)]


def _locked_package(entry: dict) -> LockedPackage:
    files = entry.get("files") or []
    wheels = tuple(LockedFile(f["file"], None, str(f.get("hash", "")).removeprefix("sha256:").lower() or None)
                   for f in files if str(f.get("file", "")).endswith(".whl"))
    source = (entry.get("source") or {}).get("type") in ("directory", "git", "file", "url")
    return LockedPackage(canonicalize_name(entry["name"]), str(entry["version"]), wheels,
                         source_only=not wheels and (bool(files) or source))


def read_poetry_lock(directory: Path, groups: tuple[str, ...], extras: tuple[str, ...]) -> Project:
    lock = directory / "poetry.lock"
    data = lock.read_bytes()
    doc = load_toml(lock)
    version = str((doc.get("metadata") or {}).get("lock-version", ""))
    if version not in LOCK_VERSIONS:
        raise ProjectError(f"{lock}: lock-version {version or '(missing)'!r} is not one this lambdapack reads "
                           f"({', '.join(LOCK_VERSIONS)})",
                           hint="lock again with a Poetry release that writes one of those, or export "
                                "requirements (`poetry export`) and pass them with -r")
    pyproject_path = directory / "pyproject.toml"
    if not pyproject_path.is_file():
        raise ProjectError(f"{directory} has poetry.lock but no pyproject.toml",
                           hint="poetry.lock is read from its project's roots: keep both files together")
    pyproject_bytes = pyproject_path.read_bytes()
    roots = root_edges(load_toml(pyproject_path), groups, extras, pyproject_path)
    if not roots:
        raise ProjectError(f"{pyproject_path} declares no dependencies", hint="add the packages the function imports")

    def packages(env: Mapping[str, Any]) -> tuple[LockedPackage, ...]:
        return tuple(_locked_package(e) for e in walk(doc, roots, env, lock))

    return Project(directory, "poetry.lock", lock, packages=packages, groups=groups, extras=extras,
                   fingerprint=fingerprint(data + pyproject_bytes, "poetry.lock", groups, extras))

