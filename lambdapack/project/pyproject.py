"""``pyproject.toml`` alone: ``[project].dependencies`` plus the chosen extras and dependency groups."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from packaging.utils import canonicalize_name

from lambdapack.errors import ProjectError
from lambdapack.project.files import fingerprint, load_toml
from lambdapack.project.inputs import Project


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
                   extras=extras, fingerprint=fingerprint(data, groups, extras))


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
