"""What a shared object needs from the system, read with pyelftools.

``GLIBC_2.28 not found`` at import on Lambda is the classic layer failure, but glibc is not
the only thing a binary can need that the runtime lacks: every ``DT_NEEDED`` library must be
found (the system's, or one shipped beside it through ``RPATH``/``RUNPATH``), and every
version it asks of them (``.gnu.version_r``: ``GLIBCXX_3.4.30``, ``CXXABI_1.3.13`` ...) must be
defined there. :func:`read_elf` collects all of it in one pass over the file.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from elftools.common.exceptions import ELFError
from elftools.elf.dynamic import DynamicSection, DynamicSegment
from elftools.elf.elffile import ELFFile
from elftools.elf.gnuversions import GNUVerDefSection, GNUVerNeedSection, GNUVerSymSection
from elftools.elf.sections import SymbolTableSection

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


def _split_paths(value: str) -> tuple[str, ...]:
    return tuple(part for part in value.split(":") if part)


def _dynamic_tags(elf: ELFFile) -> dict[str, list[str]]:
    tags: dict[str, list[str]] = {"DT_NEEDED": [], "DT_RPATH": [], "DT_RUNPATH": [], "DT_SONAME": []}
    dynamic = next((s for s in elf.iter_sections() if isinstance(s, DynamicSection)), None)
    if dynamic is None:  # no section headers (a stripped-to-the-bone file): the loader reads PT_DYNAMIC
        dynamic = next((s for s in elf.iter_segments() if isinstance(s, DynamicSegment)), None)
    if dynamic is None:
        return tags
    for tag in dynamic.iter_tags():
        kind = tag.entry.d_tag
        if kind == "DT_NEEDED":
            tags[kind].append(tag.needed)
        elif kind == "DT_RPATH":
            tags[kind].append(tag.rpath)
        elif kind == "DT_RUNPATH":
            tags[kind].append(tag.runpath)
        elif kind == "DT_SONAME":
            tags[kind].append(tag.soname)
    return tags


def _versions(elf: ELFFile) -> tuple[list[VersionNeed], set[str]]:
    needs: list[VersionNeed] = []
    defs: set[str] = set()
    for section in elf.iter_sections():
        if isinstance(section, GNUVerNeedSection):
            for needed, aux_iter in section.iter_versions():
                needs.extend(VersionNeed(needed.name, aux.name) for aux in aux_iter)
        elif isinstance(section, GNUVerDefSection):
            for verdef, aux_iter in section.iter_versions():
                if not verdef["vd_flags"] & 0x1:  # VER_FLG_BASE names the file itself, not a version
                    defs.update(aux.name for aux in aux_iter)
    return needs, defs


def _version_key(version: str) -> tuple[int, ...]:
    return tuple(int(p) for p in re.findall(r"\d+", version))


def read_elf(path: Path) -> ElfInfo | None:
    """Machine, needed libraries, search paths and symbol versions of ``path``; None if not a readable ELF file."""
    try:
        with open(path, "rb") as fh:
            if fh.read(4) != ELF_MAGIC:
                return None
            fh.seek(0)
            elf = ELFFile(fh)
            machine = elf_machine(elf["e_machine"])
            tags = _dynamic_tags(elf)
            needs, defs = _versions(elf)
    except (ELFError, OSError, ValueError, KeyError, AttributeError):
        return None
    glibc_needs = [n.version for n in needs if _GLIBC.match(n.version)]
    newest_full = max(glibc_needs, key=_version_key) if glibc_needs else None
    newest = None
    if newest_full:
        match = _GLIBC.match(newest_full)
        newest = (int(match[1]), int(match[2])) if match else None
    return ElfInfo(
        machine=machine, glibc=newest,
        needed=tuple(tags["DT_NEEDED"]),
        rpath=tuple(p for value in tags["DT_RPATH"] for p in _split_paths(value)),
        runpath=tuple(p for value in tags["DT_RUNPATH"] for p in _split_paths(value)),
        soname=tags["DT_SONAME"][0] if tags["DT_SONAME"] else None,
        version_needs=tuple(dict.fromkeys(needs)), version_defs=frozenset(defs), glibc_full=newest_full,
    )


def symbols_by_version(path: Path, versions: set[str]) -> dict[str, tuple[str, ...]]:
    """The imported symbols of ``path`` bound to each of ``versions`` (``GLIBCXX_3.4.30`` -> the functions).

    Only for offenders: it walks ``.dynsym`` and ``.gnu.version``, which :func:`read_elf` avoids.
    """
    found: dict[str, list[str]] = {}
    try:
        with open(path, "rb") as fh:
            elf = ELFFile(fh)
            names: dict[int, str] = {}
            versym = None
            for section in elf.iter_sections():
                if isinstance(section, GNUVerNeedSection):
                    for _needed, aux_iter in section.iter_versions():
                        names.update({aux["vna_other"]: aux.name for aux in aux_iter})
                elif isinstance(section, GNUVerSymSection):
                    versym = section
            table = elf.get_section_by_name(".dynsym")
            if versym is None or not isinstance(table, SymbolTableSection):
                return {}
            for index, symbol in enumerate(table.iter_symbols()):
                if not symbol.name or symbol["st_shndx"] != "SHN_UNDEF":
                    continue
                ndx = versym.get_symbol(index)["ndx"]
                version = names.get(ndx & 0x7FFF) if isinstance(ndx, int) else None  # bit 15: hidden
                if version in versions:
                    found.setdefault(version, []).append(symbol.name)
    except (ELFError, OSError, ValueError, KeyError, AttributeError):
        return {}
    return {version: tuple(sorted(symbols)) for version, symbols in found.items()}


def demangle(symbols: list[str]) -> list[str]:
    """C++ symbol names as a reader knows them (``std::condition_variable::wait(...)``), via binutils' c++filt."""
    tool = shutil.which("c++filt")
    if tool is None or not symbols:
        return symbols
    try:
        done = subprocess.run([tool], input="\n".join(symbols), capture_output=True, text=True, timeout=30,
                              check=True)
    except (OSError, subprocess.SubprocessError):
        return symbols
    lines = done.stdout.splitlines()
    return lines if len(lines) == len(symbols) else symbols


def undefined_symbols(path: Path) -> frozenset[str]:
    """The dynamic symbols ``path`` imports (undefined in its ``.dynsym``).

    Kept apart from :func:`read_elf`: walking ``.dynsym`` of a large library is slow, and the
    policy needs it only for the few libraries it blacklists symbols of (``libz.so.1``).
    """
    try:
        with open(path, "rb") as fh:
            elf = ELFFile(fh)
            table = elf.get_section_by_name(".dynsym")
            if not isinstance(table, SymbolTableSection):
                return frozenset()
            return frozenset(sym.name for sym in table.iter_symbols()
                             if sym.name and sym["st_shndx"] == "SHN_UNDEF")
    except (ELFError, OSError, ValueError, KeyError, AttributeError):
        return frozenset()


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
        with open(path, "rb") as fh:
            elf = ELFFile(fh)
            for segment in elf.iter_segments():
                if segment["p_type"] != "PT_LOAD":
                    continue
                align = max(int(segment["p_align"]), 1)
                if (segment["p_vaddr"] - segment["p_offset"]) % min(align, 4096):
                    return False
                if segment["p_offset"] + segment["p_filesz"] > path.stat().st_size:
                    return False
        return True
    except (ELFError, OSError, ValueError, KeyError):
        return False
