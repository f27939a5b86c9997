"""A project's build inputs: its locked packages (read only when needed) or its requirements."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lambdapack.project.locked import LockedPackage
from lambdapack.project.markers import applies, marker_environment
from lambdapack.project.pins import wheel_pins
from lambdapack.targets import Target
from lambdapack.wheels.fetch import PinnedWheel, ProgressFn

LOCK_KINDS = ("uv.lock", "pylock.toml", "poetry.lock")


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
        return wheel_pins(applying, self.source, target, cache_dir, progress)
