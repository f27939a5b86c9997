"""Deterministic, atomic zip writing and safe zip reading, shared by every artifact.

Writing (:func:`write_zip`, the one zip writer): entries sorted, timestamps fixed
(``SOURCE_DATE_EPOCH`` honoured, clamped to the zip epoch 1980-01-01), permissions normalised
to 0644/0755, members deflated by libdeflate on every core (or reused as their wheel deflated
them), written to a temporary file beside the destination and moved into place with
``os.replace``; an interrupted write leaves the previous artifact or nothing.

Reading: every member name is checked before anything is written: no
absolute paths, no ``..``, no drive letters, no duplicates, no links that leave the
target, and a cap on the total unpacked size and the compression ratio (zip bombs).
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import os
import re
import shutil
import stat
import tempfile
import time
import zipfile
import zlib
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from glob import escape as glob_escape
from pathlib import Path, PurePosixPath
from typing import Protocol

import deflate

from lambdapack.errors import ArchiveError
from lambdapack.interrupts import hold_signals

ZIP_EPOCH = 315532800  # 1980-01-01T00:00:00Z, the earliest time a zip entry can carry
DEFAULT_MAX_UNPACKED = 1024 * 1024 * 1024  # far above Lambda's 250 MB, far below a bomb
DEFAULT_MAX_RATIO = 250  # real code/data compresses < 30x; deflate bombs reach ~1000x
_RATIO_FLOOR = 1024 * 1024  # ratios are only judged for members over 1 MiB unpacked
_CHUNK = 1024 * 1024
DEFLATE_LEVEL = 6
# what decides the deflated bytes of every zip written here (a cache key part)
COMPRESSOR = f"libdeflate/{deflate.__version__}/{DEFLATE_LEVEL}"


def source_date_epoch() -> int:
    """The fixed timestamp for archive entries (``SOURCE_DATE_EPOCH`` or the zip epoch)."""
    raw = os.environ.get("SOURCE_DATE_EPOCH", "").strip()
    try:
        value = int(raw) if raw else ZIP_EPOCH
    except ValueError:
        value = ZIP_EPOCH
    return max(value, ZIP_EPOCH)


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


STALE_PARTIAL_AGE = 3600  # seconds; no build writes one artifact for that long


def sweep_stale_partials(dest: Path, suffixes: tuple[str, ...] = (".tmp", ".building"),
                         older_than: float = STALE_PARTIAL_AGE) -> list[Path]:
    """Remove staging files/dirs of ``dest`` that a killed run left behind (``.NAME.*.tmp``).

    Only entries untouched for ``older_than`` seconds go: a concurrent writer's fresh
    staging file is left alone. Returns what was removed.
    """
    dest = Path(dest)
    removed: list[Path] = []
    cutoff = time.time() - older_than
    with contextlib.suppress(OSError):
        for entry in dest.parent.glob(f".{glob_escape(dest.name)}.*"):
            if not entry.name.endswith(suffixes):
                continue
            try:
                if entry.lstat().st_mtime > cutoff:
                    continue
                if entry.is_dir() and not entry.is_symlink():
                    shutil.rmtree(entry)
                else:
                    entry.unlink()
            except OSError:
                continue  # another process got there first, or it is not ours to remove
            removed.append(entry)
    return removed


@contextlib.contextmanager
def atomic_path(dest: Path) -> Iterator[Path]:
    """Yield a temporary path beside ``dest``; move it onto ``dest`` only if the block succeeds."""
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    sweep_stale_partials(dest)
    tmp_path: Path | None = None
    try:
        with hold_signals():  # the file and this cleanup exist together, or neither does
            fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".tmp", dir=dest.parent)
            os.close(fd)
            tmp_path = Path(tmp)
        yield tmp_path
        os.replace(tmp_path, dest)
    finally:
        if tmp_path is not None:
            with contextlib.suppress(FileNotFoundError):
                tmp_path.unlink()


@contextlib.contextmanager
def staging_dir(dest: Path) -> Iterator[Path]:
    """A fresh directory beside ``dest`` (same filesystem, so publishing it is a rename); removed afterwards."""
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    sweep_stale_partials(dest)
    tmp: Path | None = None
    try:
        with hold_signals():
            tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", suffix=".tmp", dir=dest.parent))
        yield tmp
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)


# lambdapack-<purpose>-<pid>-<mkdtemp's suffix>: scratch directories name the process that owns them
_SCRATCH = re.compile(r"lambdapack-[a-z][a-z0-9-]*?-(?P<pid>\d+)-[a-z0-9_]{8}")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process
    return True


def sweep_dead_scratch(root: Path | None = None) -> list[Path]:
    """Remove scratch directories whose process is gone: what a SIGKILLed run left in the temp dir.

    A run that ends normally, by an exception or by a signal removes its own; only a process
    killed outright leaves one, and its pid then names no live process.
    """
    root = Path(root or tempfile.gettempdir())
    removed: list[Path] = []
    with contextlib.suppress(OSError):
        for entry in root.iterdir():
            match = _SCRATCH.fullmatch(entry.name)
            if match is None or _alive(int(match["pid"])) or not entry.is_dir() or entry.is_symlink():
                continue
            with contextlib.suppress(OSError):
                if entry.stat().st_uid == os.getuid():
                    shutil.rmtree(entry)
                    removed.append(entry)
    return removed


@contextlib.contextmanager
def scratch_dir(purpose: str) -> Iterator[Path]:
    """A temporary directory named for ``purpose`` and this process, removed afterwards.

    Creating one first sweeps the scratch directories of processes that no longer exist.
    """
    sweep_dead_scratch()
    path: Path | None = None
    try:
        with hold_signals():
            path = Path(tempfile.mkdtemp(prefix=f"lambdapack-{purpose}-{os.getpid()}-"))
        yield path
    finally:
        if path is not None:
            shutil.rmtree(path, ignore_errors=True)


@contextlib.contextmanager
def atomic_dir(dest: Path, marker: str) -> Iterator[Path]:
    """Yield a directory beside ``dest``; move it onto ``dest`` only if the block succeeds.

    The block writes ``marker`` into the directory last: a ``dest`` holding it is complete. When
    another process published a complete ``dest`` first, theirs is kept (the work is the same);
    a ``dest`` without the marker is a crash's leftover and is replaced.
    """
    dest = Path(dest)
    with staging_dir(dest) as tmp:
        yield tmp
        if dest.exists() and not (dest / marker).is_file():
            shutil.rmtree(dest)
        try:
            os.replace(tmp, dest)
        except OSError:
            if not (dest / marker).is_file():
                raise


def atomic_write_bytes(dest: Path, data: bytes, mode: int = 0o644) -> None:
    with atomic_path(dest) as tmp:
        tmp.write_bytes(data)
        os.chmod(tmp, mode)


class Deflated(Protocol):
    """Bytes already deflated elsewhere (a wheel's member), with the CRC and size of what they inflate to."""

    crc: int
    file_size: int

    def deflated(self) -> bytes: ...


@dataclass(frozen=True)
class ZipEntry:
    """One file to archive: its name inside the zip and where its bytes come from.

    ``reuse``: the same content already deflated; the parallel layer writer copies that stream
    instead of compressing again when ``source`` still has exactly its size and CRC.
    """

    arcname: str
    source: Path | bytes
    executable: bool = False
    reuse: Deflated | None = None


def _zipinfo(arcname: str, date_time: tuple[int, ...], executable: bool) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(arcname, date_time=date_time)
    info.compress_type = zipfile.ZIP_DEFLATED
    info.create_system = 3  # unix, so external_attr carries the mode
    mode = 0o755 if executable else 0o644
    info.external_attr = (stat.S_IFREG | mode) << 16
    return info


def ordered_entries(entries: Iterable[ZipEntry]) -> list[ZipEntry]:
    """``entries`` in archive order (by name), every name safe and used once."""
    ordered = sorted(entries, key=lambda e: e.arcname)
    seen: set[str] = set()
    for entry in ordered:
        check_member_name(entry.arcname)
        if entry.arcname in seen:
            raise ArchiveError(f"duplicate archive entry {entry.arcname!r}",
                               hint="two inputs map to the same path; remove one")
        seen.add(entry.arcname)
    return ordered


def deflate_raw(data: bytes, level: int = DEFLATE_LEVEL) -> bytes:
    """``data`` as a raw deflate stream (what a zip member holds), by libdeflate.

    libdeflate compresses a whole buffer at once: at level 6 it deflated a scikit-learn layer's
    extensions and pycs at 2.5x zlib's speed into 1% less (docs/bench/layer-area.json); its output is a
    pure function of the input, the level and its version, which is in every cache key that
    depends on the bytes (:data:`COMPRESSOR`). It releases the GIL, so threads compress in parallel.
    """
    return deflate.deflate_compress(data, level)


def _member(entry: ZipEntry, level: int) -> tuple[int, int, bytes]:
    """CRC-32, size and deflated bytes of one entry: the reused stream when the source is still its content."""
    data = entry.source if isinstance(entry.source, bytes) else Path(entry.source).read_bytes()
    crc = zlib.crc32(data)
    reuse = entry.reuse
    if reuse is not None and reuse.file_size == len(data) and reuse.crc == crc:
        return crc, len(data), reuse.deflated()
    return crc, len(data), deflate_raw(data, level)


def _append(zf: zipfile.ZipFile, info: zipfile.ZipInfo, crc: int, size: int, blob: bytes) -> None:
    """Write one already-deflated member where ``ZipFile.open(info, "w")`` would have written it."""
    if size > zipfile.ZIP64_LIMIT or len(blob) > zipfile.ZIP64_LIMIT:
        raise ArchiveError(f"{info.filename} is over 4 GiB", hint="a Lambda package or layer cannot hold such a file")
    info.CRC, info.file_size, info.compress_size = crc, size, len(blob)
    info.flag_bits = 0
    assert zf.fp is not None
    info.header_offset = zf.fp.tell()
    zf.fp.write(info.FileHeader(False))
    zf.fp.write(blob)
    zf.filelist.append(info)
    zf.NameToInfo[info.filename] = info
    zf.start_dir = zf.fp.tell()
    zf._didModify = True  # the central directory is written on close


def write_zip(dest: Path, entries: Iterable[ZipEntry], compresslevel: int = DEFLATE_LEVEL,
              workers: int | None = None) -> str:
    """Write a byte-reproducible zip of ``entries`` to ``dest`` atomically; return its sha256.

    Members are deflated on ``workers`` threads (default: one per core) and written in archive
    order (by name), each with a fixed :class:`zipfile.ZipInfo` (``_zipinfo``: fixed date,
    normalised mode): the bytes never depend on timing or on the number of cores. An entry
    with ``reuse`` keeps that stream when its source still has the same size and CRC-32 (a
    layer's files that are exactly as their wheel shipped them: almost half of its bytes).
    """
    ordered = ordered_entries(entries)
    date_time = time.gmtime(source_date_epoch())[:6]
    with atomic_path(dest) as tmp:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf, \
                ThreadPoolExecutor(max_workers=workers or os.cpu_count() or 2) as pool:
            # map() yields in submission order: the archive order never depends on timing
            for entry, (crc, size, blob) in zip(ordered, pool.map(lambda e: _member(e, compresslevel), ordered),
                                                strict=True):
                _append(zf, _zipinfo(entry.arcname, date_time, entry.executable), crc, size, blob)
        os.chmod(tmp, 0o644)
        digest = sha256_file(tmp)
    return digest


def entries_from_dir(root: Path, prefix: str = "") -> list[ZipEntry]:
    """Every regular file under ``root`` as a :class:`ZipEntry`, named ``prefix/relative/path``."""
    root = Path(root)
    out: list[ZipEntry] = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in sorted(filenames):
            path = Path(dirpath) / name
            if path.is_symlink() or not path.is_file():
                continue
            rel = path.relative_to(root).as_posix()
            arc = f"{prefix.rstrip('/')}/{rel}" if prefix else rel
            out.append(ZipEntry(arc, path, executable=bool(path.stat().st_mode & 0o111)))
    return out


def check_member_name(name: str) -> PurePosixPath:
    """The normalised relative path of an archive member, or ArchiveError if it is unsafe."""
    if not name or "\x00" in name:
        raise ArchiveError(f"archive member with an invalid name {name!r}",
                           hint="the archive is corrupt or hostile; rebuild it from a trusted source")
    if name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":"):
        raise ArchiveError(f"archive member {name!r} has an absolute path",
                           hint="the archive is hostile or broken; do not use it")
    parts = PurePosixPath(name.replace("\\", "/")).parts
    if any(part == ".." for part in parts):
        raise ArchiveError(f"archive member {name!r} escapes the target directory",
                           hint="the archive is hostile or broken; do not use it")
    return PurePosixPath(*[p for p in parts if p not in ("", ".")])


@dataclass(frozen=True)
class ExtractReport:
    files: int
    bytes: int


def _is_symlink(info: zipfile.ZipInfo) -> bool:
    return info.create_system == 3 and stat.S_ISLNK(info.external_attr >> 16)


def open_zip(path: Path) -> zipfile.ZipFile:
    """Open a zip, translating "missing" and "not a zip" into ArchiveError."""
    try:
        return zipfile.ZipFile(path)
    except FileNotFoundError:
        raise ArchiveError(f"{path}: no such file", hint="check the path") from None
    except (zipfile.BadZipFile, OSError) as exc:
        raise ArchiveError(f"{path}: not a valid zip archive ({exc})",
                           hint="the file is truncated or corrupt; rebuild or re-download it") from None


def unzipped_size(zf: zipfile.ZipFile) -> int:
    """The bytes the members take once unpacked: what Lambda's unzipped-size limit counts."""
    return sum(info.file_size for info in zf.infolist())


def _local_header_end(info: zipfile.ZipInfo) -> int:
    """The least offset the member's data can end at (its local header holds at least the name)."""
    return info.header_offset + 30 + len(info.orig_filename.encode("utf-8", "surrogateescape")) + info.compress_size


def _check_no_overlap(infos: list[zipfile.ZipInfo]) -> None:
    # Zip has no hard links; the way to alias data is two directory records sharing one
    # local file, the core of non-recursive zip bombs. Honest writers never overlap.
    ordered = sorted(infos, key=lambda i: i.header_offset)
    for before, after in itertools.pairwise(ordered):
        if _local_header_end(before) > after.header_offset:
            raise ArchiveError(
                f"archive members {before.filename!r} and {after.filename!r} overlap",
                hint="overlapping members are a decompression-bomb trick; use a trusted archive")


def validate_members(zf: zipfile.ZipFile, *, max_unpacked: int = DEFAULT_MAX_UNPACKED,
                     max_ratio: int = DEFAULT_MAX_RATIO) -> list[tuple[zipfile.ZipInfo, PurePosixPath]]:
    """Check every member of ``zf`` (names, duplicates, size caps) before anything is written."""
    checked: list[tuple[zipfile.ZipInfo, PurePosixPath]] = []
    seen: set[str] = set()
    files: set[PurePosixPath] = set()
    directories: set[PurePosixPath] = set()
    total = 0
    total_compressed = 0
    for info in zf.infolist():
        rel = check_member_name(info.filename)
        key = rel.as_posix().lower() if info.is_dir() else rel.as_posix()
        if key in seen and not info.is_dir():
            raise ArchiveError(f"archive member {info.filename!r} appears twice",
                               hint="the archive is hostile or broken; do not use it")
        seen.add(key)
        if info.is_dir():
            directories.add(rel)
        else:
            files.add(rel)
        directories.update(rel.parents)
        total += info.file_size
        total_compressed += info.compress_size
        if total > max_unpacked:
            raise ArchiveError(
                f"archive unpacks to more than {max_unpacked:,} bytes",
                hint="this looks like a decompression bomb; use a trusted archive")
        if info.file_size > _RATIO_FLOOR and info.file_size > max_ratio * max(info.compress_size, 1):
            raise ArchiveError(
                f"archive member {info.filename!r} compresses {info.file_size // max(info.compress_size, 1)}:1",
                hint="this looks like a decompression bomb; use a trusted archive")
        checked.append((info, rel))
    # many members each under the per-member floor add up to a bomb just the same
    if total > _RATIO_FLOOR and total > max_ratio * max(total_compressed, 1):
        raise ArchiveError(
            f"archive compresses {total // max(total_compressed, 1)}:1 overall ({total:,} bytes unpacked)",
            hint="this looks like a decompression bomb; use a trusted archive")
    clash = files & directories
    if clash:
        name = min(clash).as_posix()
        raise ArchiveError(f"archive member {name!r} is both a file and a directory",
                           hint="the archive is hostile or broken; do not use it")
    _check_no_overlap(zf.infolist())
    return checked


def _inside(root: Path, path: Path) -> bool:
    # resolve() follows every link that already exists on the way, so a directory planted
    # as a link to elsewhere (by this archive or before it) is seen for what it is
    return path.resolve().is_relative_to(root)


def _escapes(info: zipfile.ZipInfo) -> ArchiveError:
    return ArchiveError(f"archive member {info.filename!r} escapes the target directory",
                        hint="the archive is hostile or broken; do not use it")


def _write_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo, target: Path) -> None:
    # Replace whatever is there instead of opening it: writing through an existing hard
    # link or symlink would change a file outside the build tree (a package cache, say).
    if target.is_symlink() or target.is_file():
        target.unlink()
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_BINARY", 0)
    remaining = info.file_size
    with zf.open(info) as src, os.fdopen(os.open(target, flags, 0o600), "wb") as out:
        for chunk in iter(lambda: src.read(_CHUNK), b""):
            remaining -= len(chunk)
            if remaining < 0:
                raise ArchiveError(
                    f"archive member {info.filename!r} is larger than its header says",
                    hint="the archive is hostile or broken; do not use it")
            out.write(chunk)
    mode = (info.external_attr >> 16) & 0o777
    os.chmod(target, 0o755 if mode & 0o111 else 0o644)


def safe_extract(path: Path, dest: Path, *, max_unpacked: int = DEFAULT_MAX_UNPACKED,
                 max_ratio: int = DEFAULT_MAX_RATIO) -> ExtractReport:
    """Extract ``path`` into ``dest`` refusing anything that would land outside it.

    Directories and files are written first and links last, so no write ever goes through
    a link the archive made; every link is checked when made and again once all exist,
    because a later link can change where an earlier one leads.
    """
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    root = dest.resolve()
    files = 0
    written = 0
    links: list[tuple[zipfile.ZipInfo, Path, str]] = []
    made_links: list[Path] = []
    with open_zip(path) as zf:
        members = validate_members(zf, max_unpacked=max_unpacked, max_ratio=max_ratio)
        try:
            for info, rel in members:
                target = root.joinpath(*rel.parts)
                # checked before mkdir: a link already in dest must not redirect even a mkdir
                if not _inside(root, target.parent if not info.is_dir() else target):
                    raise _escapes(info)
                if info.is_dir():
                    target.mkdir(parents=True, exist_ok=True)
                    continue
                target.parent.mkdir(parents=True, exist_ok=True)
                if _is_symlink(info):
                    links.append((info, target, zf.read(info).decode("utf-8", "replace")))
                    continue
                if target.is_dir() and not target.is_symlink():
                    raise ArchiveError(f"archive member {info.filename!r} would replace a directory",
                                       hint="extract into an empty directory")
                _write_member(zf, info, target)
                files += 1
                written += info.file_size
            for info, target, link in links:
                if PurePosixPath(link).is_absolute() or not _inside(root, target.parent / link):
                    raise _link_outside(info, link)
                if target.is_symlink() or target.is_file():
                    target.unlink()
                os.symlink(link, target)
                made_links.append(target)
                files += 1
            for info, target, link in links:
                if not _inside(root, target):
                    raise _link_outside(info, link)
        except (zipfile.BadZipFile, zlib.error, EOFError) as exc:
            _remove_links(made_links)
            raise ArchiveError(f"{path}: corrupt archive ({exc})",
                               hint="the file is truncated or corrupt; rebuild or re-download it") from None
        except ArchiveError:
            _remove_links(made_links)
            raise
        except OSError as exc:
            _remove_links(made_links)
            raise ArchiveError(f"cannot extract {path} into {dest}: {exc.strerror or exc}",
                               hint="check free disk space and permissions, or extract into an empty directory"
                               ) from None
    return ExtractReport(files=files, bytes=written)


def _link_outside(info: zipfile.ZipInfo, link: str) -> ArchiveError:
    return ArchiveError(f"archive member {info.filename!r} is a link pointing outside ({link!r})",
                        hint="the archive is hostile or broken; do not use it")


def _remove_links(links: list[Path]) -> None:
    # a refused archive must not leave behind a link that leads out of the build tree
    for link in links:
        with contextlib.suppress(FileNotFoundError):
            link.unlink()
