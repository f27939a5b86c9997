"""Wheels for a Lambda target: resolve, fetch, verify, install.

Public entry points (other parts of lambdapack use these):

- :func:`install_requirements` — "install these requirements for this Target into this
  directory": ``install_requirements(["awslambdaric"], Target.for_runtime("python3.12"),
  Path("deps"))`` resolves with uv (or ``resolver="pip"``), fetches verified wheel files
  through the shared cache and unpacks them into ``deps`` (which becomes the import root,
  like a layer's site-packages). Returns an :class:`InstalledSet` with the packages.
- :func:`fetch_wheels` / :class:`Inputs` / :class:`FetchedWheel` — resolution and fetching
  only; the layer builder uses the two halves, ``fetch.resolve_pins`` (one
  :class:`~lambdapack.wheels.fetch.PinnedWheel` per package: file, sha256, URL) and
  ``fetch.download_pinned`` (those files, from the cache or the index, verified), so that a
  stored resolution can be installed again without resolving.
- :func:`install_wheels` — unpack already-fetched wheel files with pypa/installer.
- :func:`default_cache_dir` — the persistent cache (``platformdirs`` user cache ``lambdapack``).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from platformdirs import user_cache_dir

from lambdapack.errors import WheelError
from lambdapack.targets import Target
from lambdapack.wheels.fetch import RESOLVERS, FetchedWheel, Inputs, ProgressFn, fetch_wheels, split_inputs

if TYPE_CHECKING:
    from lambdapack.wheels.install import InstallResult


def __getattr__(name: str) -> Any:
    # pypa/installer is imported on first use: a rebuild from the layer cache never installs
    if name in ("InstallResult", "install_wheels"):
        from lambdapack.wheels import install

        return getattr(install, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

__all__ = [
    "RESOLVERS",
    "FetchedWheel",
    "Inputs",
    "InstallResult",
    "InstalledSet",
    "default_cache_dir",
    "fetch_wheels",
    "install_requirements",
    "install_wheels",
    "split_inputs",
]


def default_cache_dir() -> Path:
    """``$LAMBDAPACK_CACHE_DIR`` or the platform's user cache directory for lambdapack."""
    env = os.environ.get("LAMBDAPACK_CACHE_DIR")
    return Path(env) if env else Path(user_cache_dir("lambdapack", appauthor=False))


@dataclass(frozen=True)
class InstalledSet:
    directory: Path
    target: Target
    wheels: tuple[FetchedWheel, ...]
    files: int
    bytes: int

    def versions(self) -> dict[str, str]:
        return {w.name: w.version for w in self.wheels}


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
    from lambdapack.wheels.install import install_wheels

    try:
        result = install_wheels(wheels, staging)
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
    finally:
        with contextlib.suppress(FileNotFoundError):
            shutil.rmtree(staging)
    return InstalledSet(dest, target, tuple(wheels), result.files, result.bytes)
