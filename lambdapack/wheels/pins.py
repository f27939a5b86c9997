"""What a resolution is made of: the user's inputs, one pinned wheel per package, a fetched file.

Data only (and :func:`split_inputs`, which sorts command-line items into requirement strings
and wheel paths): every other module of :mod:`lambdapack.wheels` speaks in these types.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from lambdapack.errors import WheelError

# progress callback: (description, advance_bytes, total_bytes or None)
ProgressFn = Callable[[str, int, "int | None"], None]


@dataclass(frozen=True)
class Inputs:
    """What the user asked for: requirement strings, requirement files, local wheels, link dirs."""

    requirements: tuple[str, ...] = ()
    requirement_files: tuple[Path, ...] = ()
    wheel_paths: tuple[Path, ...] = ()
    find_links: tuple[Path, ...] = ()


@dataclass(frozen=True)
class PinnedWheel:
    """One wheel a resolution chose: enough to fetch it again without asking the resolver.

    ``url`` is where the index serves it (None for a local file or a pip download, which the
    content-addressed store holds); ``path`` is a local wheel file named by the user.
    """

    name: str  # canonical
    version: str
    filename: str
    sha256: str | None
    size: int | None = None
    url: str | None = None
    path: str | None = None
    index_verified: bool = False  # the sha256 is the index's own (uv's lock), not one we computed


@dataclass(frozen=True)
class FetchedWheel:
    """A verified wheel file ready to install."""

    name: str  # canonical
    version: str
    filename: str
    sha256: str
    size: int
    path: Path
    # True when the bytes matched a sha256 the index published: RECORD need not be re-hashed
    index_verified: bool = False
    url: str | None = None  # where the index serves it (None: a local file or a pip download)

    def pin(self) -> PinnedWheel:
        """What a stored resolution keeps of this wheel to fetch it again without resolving."""
        return PinnedWheel(self.name, self.version, self.filename, self.sha256, self.size, self.url,
                           None if self.url else str(self.path), self.index_verified)


def split_inputs(items: Sequence[str]) -> tuple[list[str], list[Path]]:
    """Separate requirement strings from local wheel paths (``./x.whl``, ``/abs/y.whl``)."""
    requirements: list[str] = []
    paths: list[Path] = []
    for item in items:
        looks_like_path = item.endswith((".whl", ".tar.gz", ".zip")) or os.sep in item
        if looks_like_path and "://" not in item and " @ " not in item:
            path = Path(item).expanduser()
            if path.is_dir():
                raise WheelError(f"{item} is a source directory, not a wheel",
                                 hint=f"build a wheel first (`pip wheel --no-deps -w wheels {item}`) and pass it")
            if not path.is_file():
                raise WheelError(f"{item}: no such file", hint="check the path of the wheel")
            paths.append(path.resolve())
        else:
            requirements.append(item)
    return requirements, paths
