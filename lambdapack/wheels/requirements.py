"""Requirements for a target, installed into one directory: what the emulator's awslambdaric needs.

``install_requirements(["awslambdaric"], Target.for_runtime("python3.12"), Path("deps"))``
resolves (uv, or ``resolver="pip"``), fetches verified wheel files through the shared store
and unpacks them into ``deps``, which becomes an import root like a layer's site-packages.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from lambdapack.errors import WheelError
from lambdapack.targets import Target
from lambdapack.wheels.fetch import fetch_wheels
from lambdapack.wheels.pins import FetchedWheel, Inputs, ProgressFn, split_inputs
from lambdapack.wheels.store import default_cache_dir


@dataclass(frozen=True)
class InstalledSet:
    directory: Path
    target: Target
    wheels: tuple[FetchedWheel, ...]
    files: int
    bytes: int

    def versions(self) -> dict[str, str]:
        return {w.name: w.version for w in self.wheels}


def _replace_dir(staging: Path, dest: Path) -> None:
    """Put ``staging`` where ``dest`` is, as a whole: the old directory is restored on failure."""
    old = None
    if dest.exists():
        old = dest.with_name(f".{dest.name}.old-{os.getpid()}")
        os.replace(dest, old)
    try:
        os.replace(staging, dest)
    except OSError as exc:
        if old is not None:
            os.replace(old, dest)
        raise WheelError(f"cannot move the installed packages into {dest}: {exc.strerror or exc}",
                         hint="check permissions of the destination's parent directory") from None
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def install_requirements(requirements: Sequence[str], target: Target, dest: Path, *, resolver: str = "uv",
                         cache_dir: Path | None = None, find_links: Sequence[Path] = (),
                         requirement_files: Sequence[Path] = (), progress: ProgressFn | None = None
                         ) -> InstalledSet:
    """Install ``requirements`` (strings or local wheel paths) for ``target`` into ``dest``.

    ``dest`` is replaced as a whole, atomically: it ends up holding exactly these packages,
    or (on any error) stays as it was.
    """
    reqs, paths = split_inputs(list(requirements))
    inputs = Inputs(tuple(reqs), tuple(Path(f) for f in requirement_files), tuple(paths),
                    tuple(Path(d) for d in find_links))
    wheels = fetch_wheels(inputs, target, resolver=resolver, cache_dir=cache_dir or default_cache_dir(),
                          progress=progress)
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", dir=dest.parent))
    # pypa/installer is imported on first use: a rebuild from the layer cache never installs
    from lambdapack.wheels.install import install_wheels

    try:
        result = install_wheels(wheels, staging)
        _replace_dir(staging, dest)
    finally:
        with contextlib.suppress(FileNotFoundError):
            shutil.rmtree(staging)
    return InstalledSet(dest, target, tuple(wheels), result.files, result.bytes)
