"""Which of a project's files gives the layer's inputs: the first of ``uv.lock``, ``pylock*.toml``,
``poetry.lock`` and ``pyproject.toml`` the directory holds (see :mod:`lambdapack.project`)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from lambdapack.errors import ProjectError
from lambdapack.project.inputs import Project
from lambdapack.project.poetry import read_poetry_lock
from lambdapack.project.pylock import read_pylock
from lambdapack.project.pyproject import read_pyproject
from lambdapack.project.uv import read_uv_lock


def read_project(directory: Path, *, groups: Sequence[str] = (), extras: Sequence[str] = ()) -> Project:
    """The build inputs of the project in ``directory``."""
    directory = Path(directory)
    groups, extras = tuple(groups), tuple(extras)
    if (directory / "uv.lock").is_file():
        return read_uv_lock(directory, groups, extras)
    pylocks = sorted(directory.glob("pylock*.toml"))
    if pylocks:
        return read_pylock(pylocks[0], groups, extras)
    if (directory / "poetry.lock").is_file():
        return read_poetry_lock(directory, groups, extras)
    if (directory / "pyproject.toml").is_file():
        return read_pyproject(directory, groups, extras)
    raise ProjectError(f"{directory} has no uv.lock, pylock.toml, poetry.lock or pyproject.toml",
                       hint="point --project at the directory holding the project's pyproject.toml")
