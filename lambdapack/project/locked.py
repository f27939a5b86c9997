"""What a lock file pins: one :class:`LockedPackage` per package, with the :class:`LockedFile` s it offers.

Every reader (``uv.lock`` through its PEP 751 export, ``pylock.toml``, ``poetry.lock``) turns its
format into these; :mod:`lambdapack.project.pins` chooses among them for a Lambda target.
"""

from __future__ import annotations

from dataclasses import dataclass


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
