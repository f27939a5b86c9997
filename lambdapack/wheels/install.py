"""Unpack wheel files into a layer's ``site-packages`` with pypa/installer.

:class:`SitePackagesDestination` is the only writer: it puts ``purelib``/``platlib`` files
under one directory and refuses any path that would leave it; console scripts are not
generated (a layer has no ``bin/`` Lambda would run) and the ``scripts``, ``headers`` and
``data`` schemes are dropped and counted, because a layer can only use what is importable.
Every wheel is validated (names, links, bombs, RECORD hashes) before the first file is
written, so a hostile or corrupt wheel leaves nothing behind. Wheels are unpacked on one
thread each (zlib and file writes release the GIL); which wheel wrote which file, from which
archive member, is returned so the layer's zip can reuse the member's deflated bytes for
every file that is still exactly as the wheel shipped it (:class:`WheelMember`).
"""

from __future__ import annotations

import hashlib
import os
import warnings
import zipfile
import zlib
from base64 import urlsafe_b64encode
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
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
_IN_FLIGHT = 64 * 1024 * 1024  # bytes read from wheels but not yet written: the memory an install may hold
_FILE_WRITERS = 1  # one thread creating files while the wheel threads inflate: more only contend (measured)


def _write(target: Path, data: bytes, mode: int, path: str) -> None:
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = os.open(target, flags, 0o644)
    except FileExistsError:  # another wheel (or another member of this one) got there first
        raise WheelError(f"two wheels both install {path}",
                         hint="remove one of the conflicting packages from the requirements") from None
    with os.fdopen(fd, "wb") as out:
        os.fchmod(fd, mode)  # exactly this mode, whatever the umask
        out.write(data)


@dataclass
class SitePackagesDestination(WheelDestination):
    """An installer destination that writes only inside ``root`` and only importable files.

    With ``writers`` the files are created on that pool while the installer inflates the next
    members (creating thousands of files waits on the file system: it overlaps the CPU work);
    ``drain()`` waits for them and raises the first failure.
    """

    root: Path
    dropped: list[str] = field(default_factory=list)
    files: int = 0
    bytes: int = 0
    written: dict[str, str] = field(default_factory=dict)  # installed path -> its scheme
    writers: ThreadPoolExecutor | None = None
    skip: Callable[[str], bool] | None = None  # files not to write at all (what slimming would delete)
    skipped_files: int = 0
    skipped_bytes: int = 0
    _pending: deque[tuple[Future[None], int]] = field(default_factory=deque)
    _in_flight: int = 0
    _safe_dirs: set[Path] = field(default_factory=set)

    def _target(self, path: str) -> Path:
        root = Path(os.path.abspath(self.root))
        target = Path(os.path.abspath(root / path))
        if not target.is_relative_to(root) or target == root:
            raise WheelError(f"wheel member {path!r} would be written outside site-packages",
                             hint="the wheel is hostile or broken; do not use it")
        return target

    def _parent(self, target: Path, path: str) -> None:
        """Create ``target``'s directory, once, and make sure it really is inside site-packages."""
        parent = target.parent
        if parent in self._safe_dirs:
            return
        parent.mkdir(parents=True, exist_ok=True)
        if not parent.resolve().is_relative_to(self.root.resolve()):
            raise WheelError(f"wheel member {path!r} would be written outside site-packages",
                             hint="the wheel is hostile or broken; do not use it")
        self._safe_dirs.add(parent)

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
        if path in self.written:
            raise WheelError(f"two wheels both install {path}",
                             hint="remove one of the conflicting packages from the requirements")
        data = stream.read()  # the installer's stream inflates (and checks the CRC of) the member
        digest = hashlib.sha256(data).digest()
        record = RecordEntry(path, Hash("sha256", urlsafe_b64encode(digest).decode().rstrip("=")), len(data))
        if self.skip is not None and self.skip(path.replace(os.sep, "/")):
            self.skipped_files += 1
            self.skipped_bytes += len(data)
            return record
        self._parent(target, path)
        mode = 0o755 if is_executable else 0o644
        if self.writers is None:
            _write(target, data, mode, path)
        else:
            self._pending.append((self.writers.submit(_write, target, data, mode, path), len(data)))
            self._in_flight += len(data)
            while self._in_flight > _IN_FLIGHT:
                self._settle_oldest()
        self.files += 1
        self.bytes += len(data)
        self.written[path] = scheme
        return record

    def _settle_oldest(self) -> None:
        future, size = self._pending.popleft()
        self._in_flight -= size
        future.result()

    def drain(self) -> None:
        """Wait for every queued file; the first failure is raised (after the rest settled)."""
        error: BaseException | None = None
        while self._pending:
            try:
                self._settle_oldest()
            except (WheelError, OSError) as exc:
                error = error or exc
        if error is not None:
            raise error

    def finalize_installation(self, scheme: Scheme, record_file_path: str,
                              records: Iterable[tuple[Scheme, RecordEntry]]) -> None:
        kept = [(s, r) for s, r in records if s in _KEPT_SCHEMES]
        with construct_record_file(kept, lambda _s: None) as stream:
            self.write_file(scheme, record_file_path, stream, is_executable=False)


@dataclass(frozen=True)
class WheelMember:
    """Where an installed file's bytes sit, deflated, in the wheel it came from."""

    wheel: Path
    header_offset: int  # of the member's local header
    compress_size: int
    crc: int
    file_size: int

    def deflated(self) -> bytes:
        """The member's raw deflate stream, exactly as stored in the wheel."""
        with open(self.wheel, "rb") as fh:
            fh.seek(self.header_offset)
            header = fh.read(zipfile.sizeFileHeader)
            if len(header) != zipfile.sizeFileHeader or header[:4] != zipfile.stringFileHeader:
                raise WheelError(f"{self.wheel.name} changed while the layer was built",
                                 hint="build again; do not edit the wheel cache while a build runs")
            name_len, extra_len = int.from_bytes(header[26:28], "little"), int.from_bytes(header[28:30], "little")
            fh.seek(self.header_offset + zipfile.sizeFileHeader + name_len + extra_len)
            return fh.read(self.compress_size)


@dataclass(frozen=True)
class InstallResult:
    files: int
    bytes: int
    dropped: tuple[str, ...]
    # installed path (relative to site-packages, posix) -> the deflated wheel member it was unpacked from
    members: dict[str, WheelMember] = field(default_factory=dict)
    top_levels: dict[Path, frozenset[str]] = field(default_factory=dict)  # wheel -> its top-level names
    skipped_files: int = 0  # files ``skip`` kept from being written
    skipped_bytes: int = 0


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


def _installed_name(member: str, data_dir: str | None) -> str | None:
    """The site-packages path a wheel member is installed as (None: a scheme a layer drops)."""
    if data_dir is None or not member.startswith(data_dir):
        return member
    scheme, _, rest = member[len(data_dir):].partition("/")
    return rest if scheme in _KEPT_SCHEMES and rest else None


def _members(path: Path, infos: list[zipfile.ZipInfo],
             written: dict[str, str]) -> tuple[dict[str, WheelMember], frozenset[str]]:
    """The deflated members (``infos``: wheel ``path``'s directory) behind the files ``written``, and its
    top-level names."""
    members: dict[str, WheelMember] = {}
    data_dir = next((i.filename.split("/", 1)[0] + "/" for i in infos
                     if i.filename.split("/", 1)[0].endswith(".data")), None)
    tops = frozenset(name for i in infos if not (name := i.filename.split("/", 1)[0]).endswith(".data"))
    for info in infos:
        name = _installed_name(info.filename, data_dir)
        if (name is None or name not in written or info.compress_type != zipfile.ZIP_DEFLATED
                or info.flag_bits & 0x1):  # encrypted: never in a valid wheel, never reused
            continue
        members[name] = WheelMember(path, info.header_offset, info.compress_size, info.CRC, info.file_size)
    return members, tops


def _install_one(path: Path, site_packages: Path, writers: ThreadPoolExecutor,
                 skip: Callable[[str], bool] | None) -> tuple[SitePackagesDestination, list[zipfile.ZipInfo]]:
    """Install one wheel; the destination's account of it, and the wheel's directory (read once)."""
    destination = SitePackagesDestination(site_packages, writers=writers, skip=skip)
    try:
        try:
            with zipfile.ZipFile(path) as zf, warnings.catch_warnings():
                # installer warns about (and skips) __pycache__ members; the slimmer drops them anyway
                warnings.simplefilter("ignore", RuntimeWarning)
                install(WheelFile(zf), destination, {"INSTALLER": b"lambdapack\n"})
                infos = zf.infolist()
        finally:
            destination.drain()
    except WheelError:
        raise
    except (InstallerError, ValueError, KeyError, zipfile.BadZipFile, zlib.error, EOFError) as exc:
        raise _translate(path, exc) from None
    except OSError as exc:
        raise WheelError(f"cannot install {path.name} into {site_packages}: {exc.strerror or exc}",
                         hint="check free disk space and permissions") from None
    return destination, infos


def install_wheels(wheels: Sequence[FetchedWheel] | Sequence[Path], site_packages: Path,
                   skip: Callable[[str], bool] | None = None) -> InstallResult:
    """Install wheel files into ``site_packages`` (validated first, all of them), one thread per wheel.

    ``skip(path)``: true for a file (posix, relative to site-packages) not to write at all,
    e.g. :func:`lambdapack.layer.slim.dropped_file`: half a scikit-learn stack's files are test
    suites and sources a layer drops, and creating a file is the slow part of an install.
    """
    paths = [w.path if isinstance(w, FetchedWheel) else Path(w) for w in wheels]
    for wheel, path in zip(wheels, paths, strict=True):
        validate_wheel(path, contents=not (isinstance(wheel, FetchedWheel) and wheel.index_verified))
    site_packages.mkdir(parents=True, exist_ok=True)
    # the largest first: the pool is busy until the end instead of waiting on scipy alone
    order = sorted(paths, key=lambda p: -p.stat().st_size)
    with ThreadPoolExecutor(max_workers=_FILE_WRITERS) as writers, \
            ThreadPoolExecutor(max_workers=min(len(order), os.cpu_count() or 2) or 1) as pool:
        installed = dict(zip(order, pool.map(lambda p: _install_one(p, site_packages, writers, skip), order),
                             strict=True))
    done = {path: destination for path, (destination, _) in installed.items()}
    members: dict[str, WheelMember] = {}
    tops: dict[Path, frozenset[str]] = {}
    for path in paths:  # in the caller's order: the result never depends on timing
        destination, infos = installed[path]
        found, tops[path] = _members(path, infos, destination.written)
        members.update(found)
    return InstallResult(sum(d.files for d in done.values()), sum(d.bytes for d in done.values()),
                         tuple(x for p in paths for x in done[p].dropped), members, tops,
                         sum(d.skipped_files for d in done.values()), sum(d.skipped_bytes for d in done.values()))
