"""From locked packages to one verified wheel each for a Lambda target, refused before any download.

:func:`best_wheel` picks the locked wheel most specific to the target; a package with none
stops the build (:func:`cannot_load` names the newest version that would load). Files a lock
names without a URL (poetry.lock holds names and hashes only) are found on the index.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from lambdapack.errors import ProjectError, WheelError
from lambdapack.project.locked import LockedFile, LockedPackage
from lambdapack.targets import Target
from lambdapack.wheels.check import best_tag_rank, parse_wheel_name
from lambdapack.wheels.fetch import PinnedWheel, ProgressFn, locate_wheels


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


def cannot_load(package: LockedPackage, lock: Path, target: Target) -> ProjectError:
    """The error for a pin of ``lock`` that ``target`` cannot load, naming the newest version that would."""
    from lambdapack.wheels.diagnose import newest_version

    where = f"{target.label} (Python {target.python_version}, glibc {target.glibc_version}, {target.machine})"
    pin = f"{package.name}=={package.version}"
    if package.source_only or not package.wheels:
        return ProjectError(f"{lock.name} pins {pin}, which has no wheel: it would have to be built "
                            f"from source, and a layer built here would not match Lambda's glibc",
                            hint=f"pin a release of {package.name} that publishes manylinux wheels, "
                                 "then lock the project again")
    newest = newest_version(package.name, target)
    found = (f"the newest version that loads there is {package.name} {newest}" if newest
             else f"no release of {package.name} has a wheel that loads there")
    return ProjectError(f"{lock.name} pins {pin}, which has no wheel that loads on {where}; {found}",
                        hint=(f"require {package.name}=={newest} (or a range that allows it) and lock again, "
                              "or build for another runtime/--arch" if newest
                              else "drop the package, or build for another runtime/--arch"))


def wheel_pins(packages: Iterable[LockedPackage], lock: Path, target: Target, cache_dir: Path,
               progress: ProgressFn | None = None) -> list[PinnedWheel]:
    """One wheel per package of ``lock`` (the ones that apply to ``target``); refuses before any download."""
    pins: list[PinnedWheel] = []
    for package in packages:
        chosen = best_wheel(package, target)
        if chosen is None:
            raise cannot_load(package, lock, target)
        pins.append(PinnedWheel(package.name, package.version, chosen.filename, chosen.sha256, chosen.size,
                                chosen.url, chosen.path, index_verified=chosen.url is not None))
    if any(p.url is None and p.path is None for p in pins):
        if progress:
            progress("finding the locked files on the index", 0, None)
        pins = locate_wheels(pins, target, cache_dir, lock_name=lock.name)
    return pins
