"""The struct-based ELF reader behind read_elf/loadable, against pyelftools on real files.

The oracle is the pyelftools code read_elf and loadable used before (kept here, unchanged in
substance): on every shared object of this machine and of this venv (numpy, scipy, sklearn)
both readers must agree. Then the shapes real files rarely have: no section headers, ELF32
and big endian (written here by hand), truncated copies, garbage and hostile headers.
"""

from __future__ import annotations

import os
import random
import struct
import sysconfig
import time
import tracemalloc
from collections.abc import Iterable, Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from elftools.common.exceptions import ELFError
from elftools.elf.dynamic import DynamicSection, DynamicSegment
from elftools.elf.elffile import ELFFile
from elftools.elf.gnuversions import GNUVerDefSection, GNUVerNeedSection

from lambdapack.layer.elf import ElfInfo, VersionNeed, is_elf, loadable, newest_glibc, read_elf
from lambdapack.targets import elf_machine

# --- the oracle: read_elf and loadable as they were written on pyelftools -------------------



def _oracle_tags(elf: ELFFile) -> dict[str, list[str]]:
    tags: dict[str, list[str]] = {"DT_NEEDED": [], "DT_RPATH": [], "DT_RUNPATH": [], "DT_SONAME": []}
    dynamic = next((s for s in elf.iter_sections() if isinstance(s, DynamicSection)), None)
    if dynamic is None:
        dynamic = next((s for s in elf.iter_segments() if isinstance(s, DynamicSegment)), None)
    if dynamic is None:
        return tags
    for tag in dynamic.iter_tags():
        kind = tag.entry.d_tag
        if kind in tags:
            tags[kind].append(getattr(tag, kind[3:].lower()))
    return tags


def _oracle_versions(elf: ELFFile) -> tuple[list[VersionNeed], set[str]]:
    needs: list[VersionNeed] = []
    defs: set[str] = set()
    for section in elf.iter_sections():
        if isinstance(section, GNUVerNeedSection):
            for needed, aux_iter in section.iter_versions():
                needs.extend(VersionNeed(needed.name, aux.name) for aux in aux_iter)
        elif isinstance(section, GNUVerDefSection):
            for verdef, aux_iter in section.iter_versions():
                if not verdef["vd_flags"] & 0x1:
                    defs.update(aux.name for aux in aux_iter)
    return needs, defs



def oracle_read_elf(path: Path) -> ElfInfo | None:
    try:
        with open(path, "rb") as fh:
            if fh.read(4) != b"\x7fELF":
                return None
            fh.seek(0)
            elf = ELFFile(fh)
            machine = elf_machine(elf["e_machine"])
            tags = _oracle_tags(elf)
            needs, defs = _oracle_versions(elf)
    except (ELFError, OSError, ValueError, KeyError, AttributeError):
        return None
    newest, newest_full = newest_glibc(needs)  # the parsing is what is compared, not this choice
    return ElfInfo(
        machine=machine, glibc=newest,
        needed=tuple(tags["DT_NEEDED"]),
        rpath=tuple(p for v in tags["DT_RPATH"] for p in v.split(":") if p),
        runpath=tuple(p for v in tags["DT_RUNPATH"] for p in v.split(":") if p),
        soname=tags["DT_SONAME"][0] if tags["DT_SONAME"] else None,
        version_needs=tuple(dict.fromkeys(needs)), version_defs=frozenset(defs), glibc_full=newest_full,
    )


def oracle_loadable(path: Path) -> bool:
    try:
        with open(path, "rb") as fh:
            elf = ELFFile(fh)
            for segment in elf.iter_segments():
                if segment["p_type"] != "PT_LOAD":
                    continue
                if (segment["p_vaddr"] - segment["p_offset"]) % min(max(int(segment["p_align"]), 1), 4096):
                    return False
                if segment["p_offset"] + segment["p_filesz"] > path.stat().st_size:
                    return False
        return True
    except (ELFError, OSError, ValueError, KeyError):
        return False


# --- the real files ---------------------------------------------------------------------------

def _library_dirs() -> Iterator[tuple[Path, bool]]:
    """(directory, recursive): the interpreter's, the system's, this venv's site-packages, any 32-bit ones."""
    yield Path(sysconfig.get_config_var("LIBDIR") or "/usr/lib"), False
    yield Path(sysconfig.get_paths()["platstdlib"]) / "lib-dynload", False
    multiarch = sysconfig.get_config_var("MULTIARCH") or "x86_64-linux-gnu"
    for top in ("/lib", "/usr/lib"):
        yield Path(top) / multiarch, False
    yield Path(sysconfig.get_paths()["platlib"]), True
    for extra in ("/lib32", "/usr/lib32", "/usr/lib/i386-linux-gnu", "/usr/libexec/valgrind"):
        yield Path(extra), False


@pytest.fixture(scope="module")
def real_elf_files() -> list[Path]:
    found: dict[str, Path] = {}
    for directory, recursive in _library_dirs():
        if not directory.is_dir():
            continue
        for path in (directory.rglob("*.so*") if recursive else directory.glob("*.so*")):
            if path.is_file() and not path.is_symlink() and is_elf(path):
                found.setdefault(os.path.realpath(path), path)
    return sorted(found.values())


def test_read_elf_and_loadable_agree_with_pyelftools_on_every_real_shared_object(real_elf_files: list[Path]) -> None:
    assert len(real_elf_files) >= 100, [str(p) for p in real_elf_files]
    site = Path(sysconfig.get_paths()["platlib"])
    assert sum(1 for p in real_elf_files if p.is_relative_to(site)) >= 20  # numpy, scipy, sklearn extensions
    differ = []
    for path in real_elf_files:
        new, old = read_elf(path), oracle_read_elf(path)
        if new != old or loadable(path) != oracle_loadable(path):
            differ.append(f"{path}:\n  new {new}\n  old {old}")
    assert not differ, "\n".join(differ[:5])
    infos = [read_elf(p) for p in real_elf_files]
    # not vacuous: the set reads as real, varied libraries
    assert sum(1 for i in infos if i and i.needed) >= 50
    assert sum(1 for i in infos if i and i.version_needs) >= 50
    assert sum(1 for i in infos if i and i.version_defs) >= 5
    assert sum(1 for i in infos if i and i.soname) >= 50


def _without_section_headers(data: bytes) -> bytes:
    """The same file with e_shoff, e_shnum and e_shstrndx zeroed: what the loader sees of a sstripped file."""
    out = bytearray(data)
    order = "<" if data[5] == 1 else ">"
    if data[4] == 2:  # ELF64: e_shoff at 40 (8 bytes), e_shnum at 60, e_shstrndx at 62
        struct.pack_into(f"{order}Q", out, 40, 0)
        struct.pack_into(f"{order}HH", out, 60, 0, 0)
    else:  # ELF32: e_shoff at 32 (4 bytes), e_shnum at 48, e_shstrndx at 50
        struct.pack_into(f"{order}I", out, 32, 0)
        struct.pack_into(f"{order}HH", out, 48, 0, 0)
    return bytes(out)


def _sample(files: list[Path], count: int) -> list[Path]:
    """``count`` files spread over the set, plus every one that defines versions (verdef)."""
    step = max(1, len(files) // count)
    picked = files[::step]
    with_defs = [p for p in files if (info := read_elf(p)) and info.version_defs][:10]
    return list(dict.fromkeys(picked + with_defs))


def test_without_section_headers_the_dynamic_segment_still_gives_everything(tmp_path: Path,
                                                                             real_elf_files: list[Path]) -> None:
    checked = 0
    for path in _sample(real_elf_files, 40):
        original = read_elf(path)
        if original is None or not (original.needed or original.soname):
            continue
        bare = tmp_path / path.name
        bare.write_bytes(_without_section_headers(path.read_bytes()))
        info = read_elf(bare)
        oracle = oracle_read_elf(bare)  # pyelftools reads the tags through PT_DYNAMIC too, but no versions
        assert info is not None and oracle is not None, path
        assert (info.needed, info.soname, info.rpath, info.runpath) == (
            oracle.needed, oracle.soname, oracle.rpath, oracle.runpath) == (
            original.needed, original.soname, original.rpath, original.runpath), path
        # DT_VERNEED/DT_VERDEF through the PT_LOAD segments: the same versions as the sections give
        assert info == original, path
        assert loadable(bare) == loadable(path)
        checked += 1
    assert checked >= 20


def _load_end(data: bytes) -> int:
    """Where the last PT_LOAD's bytes end in the file."""
    is64, order = data[4] == 2, "<" if data[5] == 1 else ">"
    fmt = f"{order}IIQQQQQQ" if is64 else f"{order}IIIIIIII"
    phoff = struct.unpack_from(f"{order}Q" if is64 else f"{order}I", data, 32 if is64 else 28)[0]
    phentsize, phnum = struct.unpack_from(f"{order}HH", data, 54 if is64 else 42)
    end = 0
    for index in range(phnum):
        fields = struct.unpack_from(fmt, data, phoff + index * phentsize)
        if fields[0] == 1:
            offset, filesz = (fields[2], fields[5]) if is64 else (fields[1], fields[4])
            end = max(end, offset + filesz)
    return end


def test_truncated_copies_never_raise(tmp_path: Path, real_elf_files: list[Path]) -> None:
    sized = sorted((p.stat().st_size, p) for p in real_elf_files if 20_000 < p.stat().st_size < 3_000_000)
    with_defs = next(p for _, p in sized if (i := read_elf(p)) and i.version_defs)
    picks = list(dict.fromkeys([sized[0][1], sized[len(sized) // 2][1], with_defs]))
    cut = tmp_path / "cut.so"
    for path in picks:
        data = path.read_bytes()
        load_end = _load_end(data)
        points = sorted({*range(0, 4096, 7), *(len(data) * i // 50 for i in range(50)), len(data) - 1})
        for point in points:
            cut.write_bytes(data[:point])
            info = read_elf(cut)
            assert info is None or isinstance(info, ElfInfo)
            if point < 0x40:
                assert info is None, (path, point)  # not even a whole ELF header
            ok = loadable(cut)
            assert isinstance(ok, bool)
            if point < load_end:
                assert not ok, (path, point)  # a PT_LOAD reaches past the end of the file


def test_garbage_after_the_magic_is_not_elf_and_reads_quickly(tmp_path: Path) -> None:
    rng = random.Random(20240611)
    junk = tmp_path / "junk.so"
    started = time.perf_counter()
    for round_ in range(300):
        body = bytearray(rng.randbytes(rng.choice([12, 100, 4096, 70_000])))
        if round_ % 3:  # a valid class and byte order, so the reader goes on to the headers
            body[0], body[1] = rng.choice([1, 2]), rng.choice([1, 2])
        junk.write_bytes(b"\x7fELF" + bytes(body))
        assert read_elf(junk) is None
        assert isinstance(loadable(junk), bool)
    assert time.perf_counter() - started < 30


def test_big_libraries_are_not_read_whole(tmp_path: Path, real_elf_files: list[Path]) -> None:
    """A library with 256 MiB after its headers (a sparse hole) reads in a few blocks."""
    path = next(p for p in real_elf_files if (i := read_elf(p)) and i.version_needs and i.needed)
    big = tmp_path / path.name
    big.write_bytes(path.read_bytes())
    with open(big, "r+b") as fh:
        fh.truncate(big.stat().st_size + (256 << 20))
    tracemalloc.start()
    try:
        info = read_elf(big)
        ok = loadable(big)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert info == read_elf(path) and ok == loadable(path)
    assert peak < 8 << 20, peak


# --- ELF files written by hand: both classes, both byte orders -------------------------------

_SHT_STRTAB, _SHT_DYNAMIC, _SHT_VERDEF, _SHT_VERNEED = 3, 6, 0x6FFFFFFD, 0x6FFFFFFE
_DT = {"NEEDED": 1, "STRTAB": 5, "STRSZ": 10, "SONAME": 14, "RPATH": 15, "RUNPATH": 29,
       "VERDEF": 0x6FFFFFFC, "VERDEFNUM": 0x6FFFFFFD, "VERNEED": 0x6FFFFFFE, "VERNEEDNUM": 0x6FFFFFFF}
_BASE = 0x400000  # the virtual address the file is mapped at


def _align(data: bytearray, to: int) -> int:
    data.extend(b"\0" * (-len(data) % to))
    return len(data)


def _string_table(names: Iterable[str]) -> tuple[bytes, dict[str, int]]:
    """.dynstr: each name once after the leading NUL, NUL-terminated; and where each one starts."""
    table = bytearray(b"\0")
    where: dict[str, int] = {}
    for name in names:
        if name not in where:
            where[name] = len(table)
            table += name.encode() + b"\0"
    return bytes(table), where


def _version_needs(order: str, verneed: dict[str, list[str]], where: dict[str, int]) -> bytes:
    """.gnu.version_r: one Verneed per library, then one Vernaux per version needed from it."""
    out = bytearray()
    for i, (library, versions) in enumerate(verneed.items()):
        step = 0 if i == len(verneed) - 1 else 16 + 16 * len(versions)
        out += struct.pack(f"{order}HHIII", 1, len(versions), where[library], 16, step)
        for j, version in enumerate(versions):
            out += struct.pack(f"{order}IHHII", 0, 0, 2 + j, where[version], 0 if j == len(versions) - 1 else 16)
    return bytes(out)


def _version_defs(order: str, entries: list[tuple[str, ...]], where: dict[str, int]) -> bytes:
    """.gnu.version_d: one Verdef per entry (the first is the file's own base), one Verdaux per name in it."""
    out = bytearray()
    for i, entry in enumerate(entries):
        size = 20 + 8 * len(entry)
        out += struct.pack(f"{order}HHHHIII", 1, 1 if i == 0 else 0, i + 1, len(entry), 0, 20,
                           0 if i == len(entries) - 1 else size)
        for j, name in enumerate(entry):
            out += struct.pack(f"{order}II", where[name], 0 if j == len(entry) - 1 else 8)
    return bytes(out)


def _table_tags(name: str, at: int, count: int) -> list[tuple[int, int]]:
    """DT_<name> and DT_<name>NUM for a version table of ``count`` entries at file offset ``at`` (none when empty)."""
    return [(_DT[name], _BASE + at), (_DT[f"{name}NUM"], count)] if count else []


def _version_section(name: int, kind: int, at: int, size: int, count: int) -> list[tuple]:
    """The section header of a version table (none when empty), linked to .dynstr."""
    return [(name, kind, True, at, size, 1, count, 8, 0)] if count else []


def _section_headers(order: str, word: str, sections: list[tuple]) -> bytes:
    out = bytearray()
    for name, kind, mapped, offset, size, link, info, addralign, entsize in sections:
        out += struct.pack(f"{order}II{word}{word}{word}{word}II{word}{word}", name, kind, 2 if mapped else 0,
                           _BASE + offset if mapped else 0, offset, size, link, info, addralign, entsize)
    return bytes(out)


def _program_headers(order: str, is64: bool, file_size: int, dynamic_at: int, dynamic_size: int) -> bytes:
    """PT_LOAD over the whole file, then PT_DYNAMIC over .dynamic."""
    if is64:  # type, flags, offset, vaddr, paddr, filesz, memsz, align
        load = struct.pack(f"{order}IIQQQQQQ", 1, 5, 0, _BASE, _BASE, file_size, file_size, 0x1000)
        dyn = struct.pack(f"{order}IIQQQQQQ", 2, 6, dynamic_at, _BASE + dynamic_at, _BASE + dynamic_at,
                          dynamic_size, dynamic_size, 8)
    else:  # type, offset, vaddr, paddr, filesz, memsz, flags, align
        load = struct.pack(f"{order}IIIIIIII", 1, 0, _BASE, _BASE, file_size, file_size, 5, 0x1000)
        dyn = struct.pack(f"{order}IIIIIIII", 2, dynamic_at, _BASE + dynamic_at, _BASE + dynamic_at,
                          dynamic_size, dynamic_size, 6, 4)
    return load + dyn


def build_elf(*, is64: bool, big: bool, machine: int, needed: tuple[str, ...] = (), soname: str | None = None,
              rpath: str | None = None, runpath: str | None = None,
              verneed: dict[str, list[str]] | None = None, verdef: list[tuple[str, ...]] | None = None) -> bytes:
    """A minimal shared object: one PT_LOAD over the whole file, PT_DYNAMIC, .dynstr, the version
    tables and .dynamic, with section headers. ``verdef`` entries are (version, parents...)."""
    order, word = (">" if big else "<"), ("Q" if is64 else "I")
    ehsize, phentsize, shentsize = (64, 56, 64) if is64 else (52, 32, 40)
    verneed = verneed or {}
    named = [(k, v) for k, v in (("SONAME", soname), ("RPATH", rpath), ("RUNPATH", runpath)) if v]
    entries = [(soname or "base",), *verdef] if verdef else []
    dynstr, where = _string_table([*needed, *(v for _, v in named), *verneed,
                                   *(v for vs in verneed.values() for v in vs), *(n for e in verdef or [] for n in e)])
    out = bytearray(ehsize + 2 * phentsize)
    dynstr_at = _align(out, 8)
    out += dynstr
    verneed_at = _align(out, 8)
    out += _version_needs(order, verneed, where)
    verdef_at = _align(out, 8)
    out += _version_defs(order, entries, where)
    tags = [(_DT["NEEDED"], where[n]) for n in needed] + [(_DT[k], where[v]) for k, v in named]
    tags += [(_DT["STRTAB"], _BASE + dynstr_at), (_DT["STRSZ"], len(dynstr))]
    tags += [*_table_tags("VERNEED", verneed_at, len(verneed)), *_table_tags("VERDEF", verdef_at, len(entries)), (0, 0)]
    dynamic_at = _align(out, 8)
    for tag, value in tags:
        out += struct.pack(f"{order}{'q' if is64 else 'i'}{word}", tag, value)
    dynamic_size = len(out) - dynamic_at
    shstrtab_at = len(out)
    out += b"\0.dynstr\0.gnu.version_r\0.gnu.version_d\0.dynamic\0.shstrtab\0"
    # (name, type, mapped, offset, size, link, info, addralign, entsize); the names are in .shstrtab
    sections = [(0, 0, False, 0, 0, 0, 0, 0, 0), (1, _SHT_STRTAB, True, dynstr_at, len(dynstr), 0, 0, 1, 0),
                *_version_section(9, _SHT_VERNEED, verneed_at, verdef_at - verneed_at, len(verneed)),
                *_version_section(24, _SHT_VERDEF, verdef_at, dynamic_at - verdef_at, len(entries)),
                (39, _SHT_DYNAMIC, True, dynamic_at, dynamic_size, 1, 0, 8, 16 if is64 else 8),
                (48, _SHT_STRTAB, False, shstrtab_at, len(out) - shstrtab_at, 0, 0, 1, 0)]
    shoff = _align(out, 8)
    out += _section_headers(order, word, sections)
    ident = b"\x7fELF" + bytes([2 if is64 else 1, 2 if big else 1, 1]) + b"\0" * 9
    header = struct.pack(f"{order}HHI{word}{word}{word}IHHHHHH", 3, machine, 1, 0, ehsize, shoff, 0, ehsize,
                         phentsize, 2, shentsize, len(sections), len(sections) - 1)
    out[:ehsize] = ident + header
    out[ehsize:ehsize + 2 * phentsize] = _program_headers(order, is64, len(out), dynamic_at, dynamic_size)
    return bytes(out)


_FLAVOURS = {  # (is64, big endian, e_machine): what each flavour is labelled
    "elf32-lsb-i686": (False, False, 3), "elf32-msb-armv7l": (False, True, 40),
    "elf64-lsb-x86_64": (True, False, 62), "elf64-msb-aarch64": (True, True, 183),
}
_NEEDS = {"libc.so.6": ["GLIBC_2.2.5", "GLIBC_2.17", "GLIBC_2.3.4"], "libstdc++.so.6": ["GLIBCXX_3.4.30", "CXXABI_1.3"]}


def _sample_elf(flavour: str) -> bytes:
    is64, big, machine = _FLAVOURS[flavour]
    return build_elf(is64=is64, big=big, machine=machine, needed=("libstdc++.so.6", "libc.so.6"),
                     soname="libhand.so.1", rpath="$ORIGIN/../lib:/opt/x", runpath="$ORIGIN",
                     verneed=_NEEDS, verdef=[("HAND_1.0",), ("HAND_1.1", "HAND_1.0")])


def _expected(machine: str) -> ElfInfo:
    return ElfInfo(
        machine=machine, glibc=(2, 17), needed=("libstdc++.so.6", "libc.so.6"), rpath=("$ORIGIN/../lib", "/opt/x"),
        runpath=("$ORIGIN",), soname="libhand.so.1",
        version_needs=tuple(VersionNeed(lib, v) for lib, vs in _NEEDS.items() for v in vs),
        version_defs=frozenset({"HAND_1.0", "HAND_1.1"}), glibc_full="GLIBC_2.17")


@pytest.mark.parametrize("flavour", sorted(_FLAVOURS))
def test_hand_written_elf32_elf64_little_and_big_endian(tmp_path: Path, flavour: str) -> None:
    path = tmp_path / "libhand.so.1"
    path.write_bytes(_sample_elf(flavour))
    expected = _expected(flavour.rpartition("-")[2])
    assert read_elf(path) == oracle_read_elf(path) == expected
    assert loadable(path) and oracle_loadable(path)
    bare = tmp_path / "bare.so"
    bare.write_bytes(_without_section_headers(path.read_bytes()))
    assert read_elf(bare) == expected  # versions through DT_VERNEED/DT_VERDEF
    oracle = oracle_read_elf(bare)
    assert oracle is not None and oracle == replace(expected, version_needs=(), version_defs=frozenset(),
                                                    glibc=None, glibc_full=None)
    assert loadable(bare)


def _patch(data: bytes, offset: int, fmt: str, *values: int) -> bytes:
    out = bytearray(data)
    struct.pack_into(fmt, out, offset, *values)
    return bytes(out)


def _section_header(data: bytes, kind: int) -> int:
    """The file offset of the (ELF64 little-endian) section header of type ``kind``."""
    shoff, = struct.unpack_from("<Q", data, 40)
    shnum, = struct.unpack_from("<H", data, 60)
    return next(shoff + 64 * i for i in range(shnum) if struct.unpack_from("<I", data, shoff + 64 * i + 4)[0] == kind)


def _hostile() -> Iterator[tuple[str, bytes, bool]]:
    """(what, file, does it still read): headers that would send a naive reader far or forever."""
    good = _sample_elf("elf64-lsb-x86_64")
    verneed, verdef, dynamic = (_section_header(good, k) for k in (_SHT_VERNEED, _SHT_VERDEF, _SHT_DYNAMIC))
    verneed_at, = struct.unpack_from("<Q", good, verneed + 24)
    dynstr_at, dynstr_size = struct.unpack_from("<QQ", good, _section_header(good, _SHT_STRTAB) + 24)
    yield "verneed count 2**32-1, the walk ends at vn_next 0", _patch(good, verneed + 44, "<I", 0xFFFFFFFF), True
    yield "verdef count 2**32-1", _patch(good, verdef + 44, "<I", 0xFFFFFFFF), True
    yield "vn_cnt 65535, the aux walk ends at vna_next 0", _patch(good, verneed_at + 2, "<H", 0xFFFF), True
    yield "vn_next past the section", _patch(good, verneed_at + 12, "<I", 0x7FFFFFF0), False
    yield "vn_aux past the file", _patch(good, verneed_at + 8, "<I", 0xFFFFFFF0), False
    yield "vna_name past the string table", _patch(good, verneed_at + 16 + 8, "<I", 0xFFFFFF), False
    yield ".dynamic of 2**60 bytes", _patch(good, dynamic + 32, "<Q", 1 << 60), False
    yield ".dynamic beyond the file", _patch(good, dynamic + 24, "<Q", 1 << 40), False
    yield "sh_link out of the table", _patch(good, dynamic + 40, "<I", 9999), False
    yield "e_shoff past the file", _patch(good, 40, "<Q", 1 << 62), False
    yield "e_shentsize too small", _patch(good, 58, "<H", 8), False
    yield "e_phentsize too small", _patch(_without_section_headers(good), 54, "<H", 8), False
    yield "e_shentsize 65535", _patch(good, 58, "<H", 0xFFFF), False
    yield "e_phentsize 65535", _patch(_without_section_headers(good), 54, "<H", 0xFFFF), False
    yield "e_phnum 65535 (PN_XNUM) without sections", _patch(_without_section_headers(good), 56, "<H", 0xFFFF), False
    unterminated = good[:dynstr_at] + b"x" * dynstr_size + good[dynstr_at + dynstr_size:]
    yield "no NUL in .dynstr", unterminated, False
    shoff, = struct.unpack_from("<Q", good, 40)
    extended = _patch(_patch(good, 60, "<H", 0), shoff + 32, "<Q", 0xFFFFFFFF)  # e_shnum 0: section 0's sh_size
    yield "extended section count 2**32-1", extended, False
    shnum, = struct.unpack_from("<H", good, 60)
    yield "extended section count, as written", _patch(_patch(good, 60, "<H", 0), shoff + 32, "<Q", shnum), True
    yield "extended segment count (PN_XNUM)", _patch(_patch(good, 56, "<H", 0xFFFF), shoff + 44, "<I", 2), True
    bare = _without_section_headers(good)
    yield "DT_STRTAB outside every PT_LOAD", bare.replace(struct.pack("<qQ", 5, _BASE + dynstr_at),
                                                           struct.pack("<qQ", 5, 0x10)), False
    yield "PT_DYNAMIC of 2**40 bytes", _patch(bare, 64 + 56 + 32, "<Q", 1 << 40), False


@pytest.mark.parametrize(("what", "data", "reads"), list(_hostile()), ids=[h[0] for h in _hostile()])
def test_hostile_headers_give_none_quickly(tmp_path: Path, what: str, data: bytes, reads: bool) -> None:
    path = tmp_path / "hostile.so"
    path.write_bytes(data)
    started = time.perf_counter()
    info = read_elf(path)
    ok = loadable(path)
    assert time.perf_counter() - started < 5, what
    assert isinstance(ok, bool)
    if reads:
        assert info == _expected("x86_64") and ok, what
    else:
        assert info is None, what
