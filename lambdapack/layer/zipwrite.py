"""The layer zip, deflated on every core: the same bytes as :func:`lambdapack.archive.write_zip`.

Deflating ~185 MB at level 6 was the largest phase of a cold build (9-10 s of ~24 s on two
cores) and zlib releases the GIL, so members are compressed in a thread pool and written in
archive order. The bytes are exactly ``write_zip``'s: the same :class:`zipfile.ZipInfo` per
member (``archive._zipinfo``: fixed date, normalised mode), the same raw deflate stream
(zlib's output does not depend on how its input is split), the same header layout, the same
central directory; ``tests/layer/test_zipwrite.py`` holds the two to that. Naming, ordering,
atomic replacement and the digest are the archive module's own helpers.
"""

from __future__ import annotations

import os
import time
import zipfile
import zlib
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from lambdapack.archive import ZipEntry, _zipinfo, atomic_path, ordered_entries, sha256_file, source_date_epoch
from lambdapack.errors import ArchiveError


def _deflate(entry: ZipEntry, level: int) -> tuple[int, int, bytes]:
    data = entry.source if isinstance(entry.source, bytes) else Path(entry.source).read_bytes()
    # raw deflate (wbits -15), as zipfile's own compressor for ZIP_DEFLATED
    compressor = zlib.compressobj(level, zlib.DEFLATED, -15)
    return zlib.crc32(data), len(data), compressor.compress(data) + compressor.flush()


def _append(zf: zipfile.ZipFile, info: zipfile.ZipInfo, crc: int, size: int, blob: bytes) -> None:
    """Write one already-deflated member where ``ZipFile.open(info, "w")`` would have written it."""
    if size > zipfile.ZIP64_LIMIT or len(blob) > zipfile.ZIP64_LIMIT:
        raise ArchiveError(f"{info.filename} is over 4 GiB", hint="a Lambda layer cannot hold such a file")
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


def write_zip_parallel(dest: Path, entries: Iterable[ZipEntry], compresslevel: int = 6,
                       workers: int | None = None) -> str:
    """Write ``entries`` to ``dest`` atomically, deflating on ``workers`` threads; return the sha256."""
    ordered = ordered_entries(entries)
    date_time = time.gmtime(source_date_epoch())[:6]
    with atomic_path(dest) as tmp:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=compresslevel) as zf, \
                ThreadPoolExecutor(max_workers=workers or os.cpu_count() or 2) as pool:
            # map() yields in submission order: the archive order never depends on timing
            for entry, (crc, size, blob) in zip(ordered, pool.map(lambda e: _deflate(e, compresslevel), ordered),
                                                strict=True):
                _append(zf, _zipinfo(entry.arcname, date_time, entry.executable), crc, size, blob)
        os.chmod(tmp, 0o644)
        digest = sha256_file(tmp)
    return digest
