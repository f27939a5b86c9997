"""What a shared object needs from the system, read from its ELF headers.

``GLIBC_2.28 not found`` at import on Lambda is the classic layer failure, but glibc is not
the only thing a binary can need that the runtime lacks: every ``DT_NEEDED`` library must be
found (the system's, or one shipped beside it through ``RPATH``/``RUNPATH``), and every
version it asks of them (``.gnu.version_r``: ``GLIBCXX_3.4.30``, ``CXXABI_1.3.13`` ...) must be
defined there. :func:`read_elf` collects all of it in one pass over the file.

:func:`read_elf` and :func:`loadable` run on every shared object of every build (the strip
phase and check-layer), so they use a small reader of our own on :mod:`struct`: it reads the
ELF header, the program and section headers, ``.dynamic``, ``.gnu.version_r`` and
``.gnu.version_d`` with a few bounded reads of one open file, where pyelftools' ``construct``
parsing cost seconds per build. Every offset and count is checked against the file and
capped, so a truncated or hostile file reads as "not ELF" (None, False), never an exception,
a huge allocation or an endless walk.

That reader is the one concern of this module and why it runs to some 500 lines: every table
it walks (program and section headers, ``.dynamic``, both version tables, found through the
sections or, in a file without section headers, through ``PT_DYNAMIC`` and the ``PT_LOAD``
addresses) has bounds of its own to check, and the checks only make sense read together. The
symbols behind an offending version (``.dynsym``, walked for the few files check-layer flags)
are :mod:`lambdapack.layer.elf_symbols`'s, on pyelftools.
"""

from __future__ import annotations

import os
import re
import struct
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, NamedTuple

from lambdapack.targets import elf_machine

ELF_MAGIC = b"\x7fELF"
_GLIBC = re.compile(r"^GLIBC_(\d+)\.(\d+)(?:\.\d+)?$")


@dataclass(frozen=True)
class VersionNeed:
    """One symbol version a file asks of one library, e.g. ``GLIBCXX_3.4.30`` of ``libstdc++.so.6``."""

    library: str
    version: str

    @property
    def family(self) -> str:
        """``GLIBCXX`` for ``GLIBCXX_3.4.30``: the name auditwheel's policy limits versions by."""
        return self.version.partition("_")[0]


@dataclass(frozen=True)
class ElfInfo:
    machine: str
    glibc: tuple[int, int] | None  # the newest GLIBC_x.y the file needs, None if none
    needed: tuple[str, ...] = ()  # DT_NEEDED, in the order the loader reads them
    rpath: tuple[str, ...] = ()  # DT_RPATH entries, unexpanded ($ORIGIN kept)
    runpath: tuple[str, ...] = ()  # DT_RUNPATH entries, unexpanded
    soname: str | None = None
    version_needs: tuple[VersionNeed, ...] = ()
    version_defs: frozenset[str] = frozenset()  # versions this file defines (a vendored library's)
    glibc_full: str | None = None  # the newest GLIBC_ version as written, e.g. "GLIBC_2.2.5"

    @property
    def glibc_text(self) -> str | None:
        """The newest glibc version needed, in full (``2.2.5``, not ``2.2``)."""
        if self.glibc_full:
            return self.glibc_full.partition("_")[2]
        return f"{self.glibc[0]}.{self.glibc[1]}" if self.glibc else None


def is_elf(path: Path) -> bool:
    try:
        with open(path, "rb") as fh:
            return fh.read(4) == ELF_MAGIC
    except OSError:
        return False


# --- the ELF reader behind read_elf and loadable -------------------------------------------

_PT_LOAD, _PT_DYNAMIC = 1, 2
_SHT_DYNAMIC, _SHT_GNU_VERDEF, _SHT_GNU_VERNEED = 6, 0x6FFFFFFD, 0x6FFFFFFE
_DT_NULL, _DT_STRTAB, _DT_STRSZ = 0, 5, 10
_DT_VERDEF, _DT_VERDEFNUM, _DT_VERNEED, _DT_VERNEEDNUM = 0x6FFFFFFC, 0x6FFFFFFD, 0x6FFFFFFE, 0x6FFFFFFF
_STRING_TAGS = {1: "DT_NEEDED", 14: "DT_SONAME", 15: "DT_RPATH", 29: "DT_RUNPATH"}
_VER_FLG_BASE = 0x1  # a verdef naming the file itself, not a version
_PN_XNUM = 0xFFFF  # e_phnum escape: the count is in section 0's sh_info

# Caps on what a hostile header can make us read or walk (real files are far below them).
_MAX_SEGMENTS = 1 << 16
_MAX_SECTIONS = 1 << 18
_MAX_DYNAMIC = 1 << 16  # .dynamic entries
_MAX_VERSIONS = 1 << 16  # verneed/verdef entries, and their aux entries, per table
_MAX_STRING = 1 << 16  # bytes of one string (a long RUNPATH is a few hundred)
_BLOCK = 1 << 14  # reads are served from cached blocks of this size ...
_MAX_BLOCKS = 256  # ... at most this many at once (4 MiB)
_TABLE_CHUNK = 1 << 16  # bytes of program or section headers read at a time


class _BadElf(ValueError):
    """Not a well-formed ELF file: an offset or count outside the file, a header of the wrong size."""


class _Format(NamedTuple):
    """The struct layouts of one ELF class and byte order (EI_CLASS, EI_DATA)."""

    is64: bool
    ehdr: struct.Struct  # the header after e_ident
    phdr: struct.Struct
    shdr: struct.Struct  # name, type, flags, addr, offset, size, link, info, addralign, entsize
    dyn: struct.Struct  # d_tag, d_val
    verneed: struct.Struct  # vn_version, vn_cnt, vn_file, vn_aux, vn_next
    vernaux: struct.Struct  # vna_hash, vna_flags, vna_other, vna_name, vna_next
    verdef: struct.Struct  # vd_version, vd_flags, vd_ndx, vd_cnt, vd_hash, vd_aux, vd_next
    verdaux: struct.Struct  # vda_name, vda_next


def _format(is64: bool, order: str) -> _Format:
    word = "Q" if is64 else "I"
    return _Format(
        is64=is64,
        ehdr=struct.Struct(f"{order}HHI{word}{word}{word}IHHHHHH"),
        phdr=struct.Struct(f"{order}IIQQQQQQ" if is64 else f"{order}IIIIIIII"),
        shdr=struct.Struct(f"{order}II{word}{word}{word}{word}II{word}{word}"),
        dyn=struct.Struct(f"{order}qQ" if is64 else f"{order}iI"),
        verneed=struct.Struct(f"{order}HHIII"), vernaux=struct.Struct(f"{order}IHHII"),
        verdef=struct.Struct(f"{order}HHHHIII"), verdaux=struct.Struct(f"{order}II"),
    )


# (EI_CLASS, EI_DATA) -> layouts: ELFCLASS32 = 1, ELFCLASS64 = 2; ELFDATA2LSB = 1, ELFDATA2MSB = 2
_FORMATS = {(cls, data): _format(cls == 2, "<" if data == 1 else ">") for cls in (1, 2) for data in (1, 2)}


class _Image:
    """Bounded reads of one open file, served from cached blocks: the headers and tables a
    read needs sit in a few of them, whatever the size of the file."""

    __slots__ = ("_blocks", "_fh", "size")

    def __init__(self, fh: BinaryIO) -> None:
        self._fh = fh
        self.size = os.fstat(fh.fileno()).st_size
        self._blocks: dict[int, bytes] = {}

    def _raw(self, offset: int, size: int) -> bytes:
        self._fh.seek(offset)
        return self._fh.read(size) or b""

    def _block(self, index: int) -> bytes:
        block = self._blocks.get(index)
        if block is None:
            if len(self._blocks) >= _MAX_BLOCKS:
                self._blocks.clear()
            block = self._blocks[index] = self._raw(index * _BLOCK, _BLOCK)
        return block

    def read(self, offset: int, size: int, end: int | None = None) -> bytes:
        """``size`` bytes at ``offset``, all inside the file (and before ``end``), or :class:`_BadElf`."""
        limit = self.size if end is None else min(end, self.size)
        if offset < 0 or size < 0 or offset + size > limit:
            raise _BadElf(f"{size} bytes at {offset} lie outside the file or their table")
        if size == 0:
            return b""
        first, last = offset // _BLOCK, (offset + size - 1) // _BLOCK
        if last - first > 1:
            data = self._raw(offset, size)
        else:
            start = offset - first * _BLOCK
            block = self._block(first) if first == last else self._block(first) + self._block(last)
            data = block[start:start + size]
        if len(data) != size:
            raise _BadElf("the file is shorter than it was")
        return data

    def cstring(self, offset: int, end: int) -> bytes:
        """The NUL-terminated string at ``offset``, which must end before ``end``."""
        end = min(end, self.size, offset + _MAX_STRING + 1)
        if not 0 <= offset < end:
            raise _BadElf(f"string at {offset} lies outside its table")
        parts: list[bytes] = []
        pos = offset
        while pos < end:
            index = pos // _BLOCK
            base = index * _BLOCK
            block = self._block(index)
            start, stop = pos - base, min(len(block), end - base)
            if stop <= start:
                break
            nul = block.find(b"\0", start, stop)
            if nul >= 0:
                parts.append(block[start:nul])
                return b"".join(parts)
            parts.append(block[start:stop])
            pos = base + stop
        raise _BadElf(f"string at {offset} is not terminated inside its table")


class _Strings:
    """A string table: the bytes ``[start, end)`` of the file (``.dynstr``, or DT_STRTAB's)."""

    __slots__ = ("_cache", "_end", "_image", "_start")

    def __init__(self, image: _Image, start: int, end: int) -> None:
        self._image, self._start, self._end = image, start, end
        self._cache: dict[int, str] = {}

    def get(self, offset: int) -> str:
        text = self._cache.get(offset)
        if text is None:
            raw = self._image.cstring(self._start + offset, self._end)
            text = self._cache[offset] = raw.decode("utf-8", errors="replace")
        return text


class _Header(NamedTuple):
    fmt: _Format
    machine: int
    phoff: int
    phentsize: int
    phnum: int
    shoff: int
    shentsize: int
    shnum: int


class _Segment(NamedTuple):
    type: int
    offset: int
    vaddr: int
    filesz: int
    align: int


class _Section(NamedTuple):
    type: int
    offset: int
    size: int
    link: int
    info: int


def _read_header(image: _Image) -> _Header:
    ident = image.read(0, 16)
    if ident[:4] != ELF_MAGIC:
        raise _BadElf("not an ELF file")
    fmt = _FORMATS.get((ident[4], ident[5]))
    if fmt is None:
        raise _BadElf(f"unknown ELF class or byte order {ident[4]}/{ident[5]}")
    (_type, machine, _version, _entry, phoff, shoff, _flags, _ehsize, phentsize, phnum,
     shentsize, shnum, _shstrndx) = fmt.ehdr.unpack(image.read(16, fmt.ehdr.size))
    if shoff == 0:
        shnum = 0
    elif shentsize < fmt.shdr.size:
        raise _BadElf(f"section header entries of {shentsize} bytes")
    elif shnum == 0 or phnum == _PN_XNUM:  # extended numbering: the real counts are in section 0
        first = _section(fmt.shdr.unpack(image.read(shoff, fmt.shdr.size)))
        shnum = shnum or first.size
        phnum = first.info if phnum == _PN_XNUM else phnum
    if phnum and phentsize < fmt.phdr.size:
        raise _BadElf(f"program header entries of {phentsize} bytes")
    if phnum > _MAX_SEGMENTS or shnum > _MAX_SECTIONS:
        raise _BadElf(f"{phnum} program headers, {shnum} section headers")
    return _Header(fmt, machine, phoff, phentsize, phnum, shoff, shentsize, shnum)


def _entries(image: _Image, offset: int, entsize: int, count: int,
             unpack: Callable[[bytes, int], tuple[int, ...]]) -> Iterator[tuple[int, ...]]:
    """The ``count`` entries of a header table, unpacked, read a chunk at a time (an entry
    may be larger than its struct: ``e_phentsize``/``e_shentsize`` are the stride)."""
    if offset < 0 or offset + count * entsize > image.size:
        raise _BadElf(f"{count} table entries at {offset} lie outside the file")
    per_chunk = max(1, _TABLE_CHUNK // entsize)
    for first in range(0, count, per_chunk):
        chunk = min(per_chunk, count - first)
        data = image.read(offset + first * entsize, chunk * entsize)
        for index in range(chunk):
            yield unpack(data, index * entsize)


def _segments(image: _Image, header: _Header) -> list[_Segment]:
    """The PT_LOAD and PT_DYNAMIC program headers, in file order."""
    found = []
    for fields in _entries(image, header.phoff, header.phentsize, header.phnum, header.fmt.phdr.unpack_from):
        if fields[0] not in (_PT_LOAD, _PT_DYNAMIC):
            continue
        if header.fmt.is64:  # type, flags, offset, vaddr, paddr, filesz, memsz, align
            found.append(_Segment(fields[0], fields[2], fields[3], fields[5], fields[7]))
        else:  # type, offset, vaddr, paddr, filesz, memsz, flags, align
            found.append(_Segment(fields[0], fields[1], fields[2], fields[4], fields[7]))
    return found


def _section(fields: tuple[int, ...]) -> _Section:
    return _Section(fields[1], fields[4], fields[5], fields[6], fields[7])


def _sections_of_interest(image: _Image, header: _Header) -> list[_Section]:
    """The dynamic and symbol-version sections, in section-table order."""
    return [_section(fields)
            for fields in _entries(image, header.shoff, header.shentsize, header.shnum, header.fmt.shdr.unpack_from)
            if fields[1] in (_SHT_DYNAMIC, _SHT_GNU_VERNEED, _SHT_GNU_VERDEF)]


def _linked_strings(image: _Image, header: _Header, index: int) -> _Strings:
    """The string table a section's ``sh_link`` names."""
    if index >= header.shnum:
        raise _BadElf(f"sh_link {index} names no section")
    shdr = header.fmt.shdr
    table = _section(shdr.unpack(image.read(header.shoff + index * header.shentsize, shdr.size)))
    return _Strings(image, table.offset, table.offset + table.size)


def _dynamic_entries(image: _Image, fmt: _Format, offset: int, size: int) -> list[tuple[int, int]]:
    """``(d_tag, d_val)`` of a dynamic table, up to DT_NULL."""
    count = min(size // fmt.dyn.size, _MAX_DYNAMIC)
    entries = []
    for tag, value in fmt.dyn.iter_unpack(image.read(offset, count * fmt.dyn.size)):
        if tag == _DT_NULL:
            break
        entries.append((tag, value))
    return entries


def _file_offset(segments: list[_Segment], address: int) -> tuple[int, int]:
    """A virtual address as ``(file offset, end of its PT_LOAD's bytes in the file)``."""
    for seg in segments:
        if seg.type == _PT_LOAD and seg.vaddr <= address < seg.vaddr + seg.filesz:
            return address - seg.vaddr + seg.offset, seg.offset + seg.filesz
    raise _BadElf(f"address {address:#x} is in no PT_LOAD segment")


def _version_needs(image: _Image, fmt: _Format, table: tuple[int, int, int], strings: _Strings) -> list[VersionNeed]:
    """``.gnu.version_r``: ``table`` is (offset, end, number of entries). A walk follows
    ``vn_next``/``vna_next``, unsigned and relative, so it only moves forward; 0 ends it."""
    offset, end, count = table
    needs: list[VersionNeed] = []
    for _ in range(min(count, _MAX_VERSIONS)):
        _version, aux_count, file, aux, step = fmt.verneed.unpack(image.read(offset, fmt.verneed.size, end))
        library, aux_offset = strings.get(file), offset + aux
        for _ in range(aux_count):
            _hash, _flags, _other, name, aux_step = fmt.vernaux.unpack(image.read(aux_offset, fmt.vernaux.size, end))
            needs.append(VersionNeed(library, strings.get(name)))
            if not aux_step or len(needs) > _MAX_VERSIONS:
                break
            aux_offset += aux_step
        if not step:
            break
        offset += step
    return needs


def _version_defs(image: _Image, fmt: _Format, table: tuple[int, int, int], strings: _Strings) -> set[str]:
    """``.gnu.version_d``, but the VER_FLG_BASE entry; walked like :func:`_version_needs`."""
    offset, end, count = table
    defs: set[str] = set()
    walked = 0
    for _ in range(min(count, _MAX_VERSIONS)):
        _version, flags, _ndx, aux_count, _hash, aux, step = fmt.verdef.unpack(image.read(offset, fmt.verdef.size, end))
        aux_offset = offset + aux
        for _ in range(0 if flags & _VER_FLG_BASE else aux_count):
            name, aux_step = fmt.verdaux.unpack(image.read(aux_offset, fmt.verdaux.size, end))
            defs.add(strings.get(name))
            walked += 1
            if not aux_step or walked > _MAX_VERSIONS:
                break
            aux_offset += aux_step
        if not step:
            break
        offset += step
    return defs


def _versions_from_sections(image: _Image, header: _Header,
                            sections: list[_Section]) -> tuple[list[VersionNeed], set[str]]:
    needs: list[VersionNeed] = []
    defs: set[str] = set()
    for section in sections:
        if section.type not in (_SHT_GNU_VERNEED, _SHT_GNU_VERDEF):
            continue
        strings = _linked_strings(image, header, section.link)
        table = (section.offset, section.offset + section.size, section.info)  # sh_info: the number of entries
        if section.type == _SHT_GNU_VERNEED:
            needs.extend(_version_needs(image, header.fmt, table, strings))
        else:
            defs |= _version_defs(image, header.fmt, table, strings)
    return needs, defs


def _versions_from_dynamic(image: _Image, header: _Header, segments: list[_Segment], tags: dict[int, int],
                           strings: _Strings) -> tuple[list[VersionNeed], set[str]]:
    """DT_VERNEED/DT_VERDEF (addresses) and their counts: for a file without section headers."""
    needs: list[VersionNeed] = []
    defs: set[str] = set()
    if _DT_VERNEED in tags:
        offset, end = _file_offset(segments, tags[_DT_VERNEED])
        needs = _version_needs(image, header.fmt, (offset, end, tags.get(_DT_VERNEEDNUM, _MAX_VERSIONS)), strings)
    if _DT_VERDEF in tags:
        offset, end = _file_offset(segments, tags[_DT_VERDEF])
        defs = _version_defs(image, header.fmt, (offset, end, tags.get(_DT_VERDEFNUM, _MAX_VERSIONS)), strings)
    return needs, defs


def _segment_strings(image: _Image, segments: list[_Segment], tags: dict[int, int]) -> _Strings:
    """DT_STRTAB's table, found through the PT_LOAD segments (an empty one if there is none)."""
    if _DT_STRTAB not in tags:
        return _Strings(image, 0, 0)
    offset, end = _file_offset(segments, tags[_DT_STRTAB])
    if _DT_STRSZ in tags:
        end = min(end, offset + tags[_DT_STRSZ])
    return _Strings(image, offset, end)


def _read(image: _Image) -> tuple[int, dict[str, list[str]], list[VersionNeed], set[str]]:
    """e_machine, the dynamic string tags, and the versions needed and defined."""
    header = _read_header(image)
    sections = _sections_of_interest(image, header) if header.shnum else []
    dynamic = next((s for s in sections if s.type == _SHT_DYNAMIC), None)
    segments: list[_Segment] = []
    if dynamic is not None:
        strings = _linked_strings(image, header, dynamic.link)
        entries = _dynamic_entries(image, header.fmt, dynamic.offset, dynamic.size)
    else:  # no .dynamic section (no section headers: a stripped-to-the-bone file): the loader reads PT_DYNAMIC
        segments = _segments(image, header)
        found = next((s for s in segments if s.type == _PT_DYNAMIC), None)
        entries = _dynamic_entries(image, header.fmt, found.offset, found.filesz) if found else []
        strings = _segment_strings(image, segments, dict(entries))
    tags: dict[str, list[str]] = {"DT_NEEDED": [], "DT_RPATH": [], "DT_RUNPATH": [], "DT_SONAME": []}
    for tag, value in entries:
        if tag in _STRING_TAGS:
            tags[_STRING_TAGS[tag]].append(strings.get(value))
    if header.shnum:
        needs, defs = _versions_from_sections(image, header, sections)
    else:
        needs, defs = _versions_from_dynamic(image, header, segments, dict(entries), strings)
    return header.machine, tags, needs, defs


def _split_paths(value: str) -> tuple[str, ...]:
    return tuple(part for part in value.split(":") if part)


def _version_key(version: str) -> tuple[int, ...]:
    return tuple(int(p) for p in re.findall(r"\d+", version))


def newest_glibc(needs: Iterable[VersionNeed]) -> tuple[tuple[int, int] | None, str | None]:
    """The newest ``GLIBC_x.y`` among ``needs``: as (major, minor) and as written (``GLIBC_2.2.5``)."""
    glibc_needs = [n.version for n in needs if _GLIBC.match(n.version)]
    newest_full = max(glibc_needs, key=_version_key) if glibc_needs else None
    match = _GLIBC.match(newest_full) if newest_full else None
    return ((int(match[1]), int(match[2])) if match else None), newest_full


def read_elf(path: Path) -> ElfInfo | None:
    """Machine, needed libraries, search paths and symbol versions of ``path``; None if not a readable ELF file."""
    try:
        with open(path, "rb", buffering=0) as fh:
            machine, tags, needs, defs = _read(_Image(fh))
    except (OSError, ValueError, struct.error):  # _BadElf is a ValueError, and so is a bad UTF-8 path
        return None
    newest, newest_full = newest_glibc(needs)
    return ElfInfo(
        machine=elf_machine(machine), glibc=newest,
        needed=tuple(tags["DT_NEEDED"]),
        rpath=tuple(p for value in tags["DT_RPATH"] for p in _split_paths(value)),
        runpath=tuple(p for value in tags["DT_RUNPATH"] for p in _split_paths(value)),
        soname=tags["DT_SONAME"][0] if tags["DT_SONAME"] else None,
        version_needs=tuple(dict.fromkeys(needs)), version_defs=frozenset(defs), glibc_full=newest_full,
    )


def iter_elf_files(root: Path) -> Iterator[Path]:
    """Every regular ELF file under ``root``, in a stable order."""
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in sorted(filenames):
            path = Path(dirpath) / name
            if not path.is_symlink() and is_elf(path):
                yield path


def loadable(path: Path) -> bool:
    """Would the dynamic loader map ``path``? Every PT_LOAD's address and offset must agree modulo its alignment.

    ``strip`` rewrites the file layout; on binaries already rewritten by patchelf (auditwheel
    repairs every manylinux wheel with it, and older releases carry layouts it breaks) the
    result can fail with "ELF load command address/offset not page-aligned".
    """
    try:
        with open(path, "rb", buffering=0) as fh:
            image = _Image(fh)
            segments = _segments(image, _read_header(image))
    except (OSError, ValueError, struct.error):
        return False
    for segment in segments:
        if segment.type != _PT_LOAD:
            continue
        if (segment.vaddr - segment.offset) % min(max(segment.align, 1), 4096):
            return False
        if segment.offset + segment.filesz > image.size:
            return False
    return True
