"""Unpacking a zip that :func:`~lambdapack.archive.reader.validate_members` accepted, refusing escapes.

Directories and files are written first and links last, so no write ever goes through a
link the archive made; every link is checked when made and again once all exist, because a
later link can change where an earlier one leads. A refused archive leaves no link behind.
"""

from __future__ import annotations

import contextlib
import os
import stat
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from lambdapack.archive.hashing import CHUNK
from lambdapack.archive.reader import DEFAULT_MAX_RATIO, DEFAULT_MAX_UNPACKED, open_zip, validate_members
from lambdapack.errors import ArchiveError

# (member, where it lands, what it points to)
_Link = tuple[zipfile.ZipInfo, Path, str]


@dataclass(frozen=True)
class ExtractReport:
    files: int
    bytes: int


def _is_symlink(info: zipfile.ZipInfo) -> bool:
    return info.create_system == 3 and stat.S_ISLNK(info.external_attr >> 16)


def _inside(root: Path, path: Path) -> bool:
    # resolve() follows every link that already exists on the way, so a directory planted
    # as a link to elsewhere (by this archive or before it) is seen for what it is
    return path.resolve().is_relative_to(root)


def _escapes(info: zipfile.ZipInfo) -> ArchiveError:
    return ArchiveError(f"archive member {info.filename!r} escapes the target directory",
                        hint="the archive is hostile or broken; do not use it")


def _link_outside(info: zipfile.ZipInfo, link: str) -> ArchiveError:
    return ArchiveError(f"archive member {info.filename!r} is a link pointing outside ({link!r})",
                        hint="the archive is hostile or broken; do not use it")


def _write_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo, target: Path) -> None:
    # Replace whatever is there instead of opening it: writing through an existing hard
    # link or symlink would change a file outside the build tree (a package cache, say).
    if target.is_symlink() or target.is_file():
        target.unlink()
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_BINARY", 0)
    remaining = info.file_size
    with zf.open(info) as src, os.fdopen(os.open(target, flags, 0o600), "wb") as out:
        for chunk in iter(lambda: src.read(CHUNK), b""):
            remaining -= len(chunk)
            if remaining < 0:
                raise ArchiveError(
                    f"archive member {info.filename!r} is larger than its header says",
                    hint="the archive is hostile or broken; do not use it")
            out.write(chunk)
    mode = (info.external_attr >> 16) & 0o777
    os.chmod(target, 0o755 if mode & 0o111 else 0o644)


def _write_files(zf: zipfile.ZipFile, members: list[tuple[zipfile.ZipInfo, PurePosixPath]],
                 root: Path) -> tuple[int, int, list[_Link]]:
    """Directories and files under ``root``: (files written, their bytes, the links still to make)."""
    files = 0
    written = 0
    links: list[_Link] = []
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
    return files, written, links


def _make_links(root: Path, links: list[_Link], made: list[Path]) -> None:
    """The archive's links, each inside ``root`` when made and once all exist (``made`` grows as they are)."""
    for info, target, link in links:
        if PurePosixPath(link).is_absolute() or not _inside(root, target.parent / link):
            raise _link_outside(info, link)
        if target.is_symlink() or target.is_file():
            target.unlink()
        os.symlink(link, target)
        made.append(target)
    for info, target, link in links:
        if not _inside(root, target):
            raise _link_outside(info, link)


def _remove_links(links: list[Path]) -> None:
    # a refused archive must not leave behind a link that leads out of the build tree
    for link in links:
        with contextlib.suppress(FileNotFoundError):
            link.unlink()


def safe_extract(path: Path, dest: Path, *, max_unpacked: int = DEFAULT_MAX_UNPACKED,
                 max_ratio: int = DEFAULT_MAX_RATIO) -> ExtractReport:
    """Extract ``path`` into ``dest`` refusing anything that would land outside it (see the module docstring)."""
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    root = dest.resolve()
    made_links: list[Path] = []
    with open_zip(path) as zf:
        members = validate_members(zf, max_unpacked=max_unpacked, max_ratio=max_ratio)
        try:
            files, written, links = _write_files(zf, members, root)
            _make_links(root, links, made_links)
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
    return ExtractReport(files=files + len(links), bytes=written)
