"""Reading a zip safely: every member checked before anything is written.

No absolute paths, no ``..``, no drive letters, no duplicates, no file that is also a
directory, no overlapping members, and a cap on the total unpacked size and the compression
ratio (zip bombs). :mod:`lambdapack.archive.extract` unpacks what passes.
"""

from __future__ import annotations

import itertools
import zipfile
from pathlib import Path, PurePosixPath

from lambdapack.errors import ArchiveError

DEFAULT_MAX_UNPACKED = 1024 * 1024 * 1024  # far above Lambda's 250 MB, far below a bomb
DEFAULT_MAX_RATIO = 250  # real code/data compresses < 30x; deflate bombs reach ~1000x
_RATIO_FLOOR = 1024 * 1024  # ratios are only judged for members over 1 MiB unpacked


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
