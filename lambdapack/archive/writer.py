"""The one zip writer: byte-reproducible archives, written atomically, for every artifact.

Entries sorted, timestamps fixed (``SOURCE_DATE_EPOCH`` honoured, clamped to the zip epoch
1980-01-01), permissions normalised to 0644/0755, members deflated by libdeflate on every core
(or reused as their wheel deflated them), written to a temporary file beside the destination
and moved into place with ``os.replace``; an interrupted write leaves the previous artifact or
nothing.
"""

from __future__ import annotations

import os
import stat
import time
import zipfile
import zlib
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import deflate

from lambdapack.archive.atomic import atomic_path
from lambdapack.archive.hashing import sha256_file
from lambdapack.archive.reader import check_member_name
from lambdapack.errors import ArchiveError

ZIP_EPOCH = 315532800  # 1980-01-01T00:00:00Z, the earliest time a zip entry can carry
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
