"""Unpack wheel files into a layer's ``site-packages`` with pypa/installer.

:class:`SitePackagesDestination` is the only writer: it puts ``purelib``/``platlib`` files
under one directory and refuses any path that would leave it; console scripts are not
generated (a layer has no ``bin/`` Lambda would run) and the ``scripts``, ``headers`` and
``data`` schemes are dropped and counted, because a layer can only use what is importable.
Every wheel is validated (names, links, bombs, RECORD hashes) before the first file is
written, so a hostile or corrupt wheel leaves nothing behind.
"""

from __future__ import annotations

import hashlib
import os
import warnings
import zipfile
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from installer import install
from installer.destinations import WheelDestination
from installer.exceptions import InstallerError
from installer.records import Hash, RecordEntry
from installer.sources import WheelFile
from installer.utils import Scheme, construct_record_file

from lambdapack.errors import WheelError
from lambdapack.wheels.check import check_wheel_archive
from lambdapack.wheels.fetch import FetchedWheel

_KEPT_SCHEMES = ("purelib", "platlib")
_CHUNK = 1024 * 1024


@dataclass
class SitePackagesDestination(WheelDestination):
    """An installer destination that writes only inside ``root`` and only importable files."""

    root: Path
    dropped: list[str] = field(default_factory=list)
    files: int = 0
    bytes: int = 0

    def _target(self, path: str) -> Path:
        root = Path(os.path.abspath(self.root))
        target = Path(os.path.abspath(root / path))
        if not target.is_relative_to(root) or target == root:
            raise WheelError(f"wheel member {path!r} would be written outside site-packages",
                             hint="the wheel is hostile or broken; do not use it")
        return target

    def write_script(self, name: str, module: str, attr: str, section: str) -> RecordEntry:
        self.dropped.append(f"scripts/{name}")
        return RecordEntry(f"../../../bin/{name}", None, None)

    def write_file(self, scheme: Scheme, path: str | os.PathLike[str], stream: BinaryIO,
                   is_executable: bool) -> RecordEntry:
        path = os.fspath(path)
        if scheme not in _KEPT_SCHEMES:
            self.dropped.append(f"{scheme}/{path}")
            return RecordEntry(path, None, None)
        target = self._target(path)
        if target.exists() or target.is_symlink():
            raise WheelError(f"two wheels both install {path}",
                             hint="remove one of the conflicting packages from the requirements")
        target.parent.mkdir(parents=True, exist_ok=True)
        if not target.parent.resolve().is_relative_to(self.root.resolve()):
            raise WheelError(f"wheel member {path!r} would be written outside site-packages",
                             hint="the wheel is hostile or broken; do not use it")
        digest = hashlib.sha256()
        size = 0
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
        with os.fdopen(os.open(target, flags, 0o644), "wb") as out:
            for chunk in iter(lambda: stream.read(_CHUNK), b""):
                digest.update(chunk)
                out.write(chunk)
                size += len(chunk)
        os.chmod(target, 0o755 if is_executable else 0o644)
        self.files += 1
        self.bytes += size
        from base64 import urlsafe_b64encode
        return RecordEntry(path, Hash("sha256", urlsafe_b64encode(digest.digest()).decode().rstrip("=")), size)

    def finalize_installation(self, scheme: Scheme, record_file_path: str,
                              records: Iterable[tuple[Scheme, RecordEntry]]) -> None:
        kept = [(s, r) for s, r in records if s in _KEPT_SCHEMES]
        with construct_record_file(kept, lambda _s: None) as stream:
            self.write_file(scheme, record_file_path, stream, is_executable=False)


@dataclass(frozen=True)
class InstallResult:
    files: int
    bytes: int
    dropped: tuple[str, ...]


def _translate(wheel: Path, exc: BaseException) -> WheelError:
    return WheelError(f"{wheel.name} is corrupt or invalid: {exc}",
                      hint="delete it (or the lambdapack cache entry) and download it again")


def validate_wheel(path: Path, contents: bool = True) -> None:
    """Everything that must hold before a single file of ``path`` is written.

    ``contents=False`` skips re-hashing every member against RECORD: for a wheel whose
    sha256 matched the one its index published, the bytes are the publisher's own.
    """
    check_wheel_archive(path)
    try:
        with WheelFile.open(path) as source:
            source.validate_record(validate_contents=contents)
    except (InstallerError, ValueError, KeyError, zipfile.BadZipFile, zlib.error, EOFError) as exc:
        raise _translate(path, exc) from None


def install_wheels(wheels: Sequence[FetchedWheel] | Sequence[Path], site_packages: Path) -> InstallResult:
    """Install wheel files into ``site_packages`` (validated first, all of them)."""
    paths = [w.path if isinstance(w, FetchedWheel) else Path(w) for w in wheels]
    for wheel, path in zip(wheels, paths, strict=True):
        validate_wheel(path, contents=not (isinstance(wheel, FetchedWheel) and wheel.index_verified))
    site_packages.mkdir(parents=True, exist_ok=True)
    destination = SitePackagesDestination(site_packages)
    for path in paths:
        try:
            with WheelFile.open(path) as source, warnings.catch_warnings():
                # installer warns about (and skips) __pycache__ members; the slimmer drops them anyway
                warnings.simplefilter("ignore", RuntimeWarning)
                install(source, destination, {"INSTALLER": b"lambdapack\n"})
        except WheelError:
            raise
        except (InstallerError, ValueError, KeyError, zipfile.BadZipFile, zlib.error, EOFError) as exc:
            raise _translate(path, exc) from None
        except OSError as exc:
            raise WheelError(f"cannot install {path.name} into {site_packages}: {exc.strerror or exc}",
                             hint="check free disk space and permissions") from None
    return InstallResult(destination.files, destination.bytes, tuple(destination.dropped))
