"""What a shared object needs from the system: its machine and the newest glibc symbol version.

``GLIBC_2.28 not found`` at import on Lambda is the classic layer failure; the versions a
binary needs are in its ``.gnu.version_r`` section, read here with pyelftools.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from elftools.common.exceptions import ELFError
from elftools.elf.elffile import ELFFile
from elftools.elf.gnuversions import GNUVerNeedSection

ELF_MAGIC = b"\x7fELF"
# e_machine names as pyelftools spells them -> uname machine names
MACHINES = {"EM_X86_64": "x86_64", "EM_AARCH64": "aarch64", "EM_386": "i686", "EM_ARM": "armv7l"}
_GLIBC = re.compile(r"^GLIBC_(\d+)\.(\d+)(?:\.\d+)?$")


@dataclass(frozen=True)
class ElfInfo:
    machine: str
    glibc: tuple[int, int] | None  # the newest GLIBC_x.y the file needs, None if none

    @property
    def glibc_text(self) -> str | None:
        return f"{self.glibc[0]}.{self.glibc[1]}" if self.glibc else None


def is_elf(path: Path) -> bool:
    try:
        with open(path, "rb") as fh:
            return fh.read(4) == ELF_MAGIC
    except OSError:
        return False


def read_elf(path: Path) -> ElfInfo | None:
    """Machine and glibc requirement of ``path``, or None if it is not a readable ELF file."""
    try:
        with open(path, "rb") as fh:
            if fh.read(4) != ELF_MAGIC:
                return None
            fh.seek(0)
            elf = ELFFile(fh)
            machine = MACHINES.get(elf["e_machine"], str(elf["e_machine"]))
            newest: tuple[int, int] | None = None
            for section in elf.iter_sections():
                if not isinstance(section, GNUVerNeedSection):
                    continue
                for _needed, aux_iter in section.iter_versions():
                    for aux in aux_iter:
                        match = _GLIBC.match(aux.name)
                        if match:
                            version = (int(match[1]), int(match[2]))
                            newest = version if newest is None or version > newest else newest
            return ElfInfo(machine, newest)
    except (ELFError, OSError, ValueError, KeyError):
        return None


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
