"""The symbols behind an offending symbol version, read with pyelftools, for check-layer's messages.

:mod:`lambdapack.layer.elf` reads what every shared object needs in a few bounded reads and
never walks ``.dynsym``; these functions do, for the few files the ``elf`` check flags:
:func:`symbols_by_version` names the functions that need a too-new version (``GLIBCXX_3.4.30``
for ``std::condition_variable::wait(...)``, made readable by :func:`demangle` through binutils'
``c++filt``), and :func:`undefined_symbols` lists what a file imports, for the libraries whose
internal symbols the manylinux policy forbids. pyelftools is imported when they are called.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path


def symbols_by_version(path: Path, versions: set[str]) -> dict[str, tuple[str, ...]]:
    """The imported symbols of ``path`` bound to each of ``versions`` (``GLIBCXX_3.4.30`` -> the functions).

    Only for offenders: it walks ``.dynsym`` and ``.gnu.version``, which :func:`lambdapack.layer.elf.read_elf` avoids.
    """
    from elftools.common.exceptions import ELFError
    from elftools.elf.elffile import ELFFile
    from elftools.elf.gnuversions import GNUVerNeedSection, GNUVerSymSection
    from elftools.elf.sections import SymbolTableSection

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
    from elftools.common.exceptions import ELFError
    from elftools.elf.elffile import ELFFile
    from elftools.elf.sections import SymbolTableSection

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
