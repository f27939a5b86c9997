"""check-layer's ``elf``, ``libs`` and ``abi`` checks: what the layer's binaries need against what
the runtime has.

``elf``: every ELF file built for the arch, and every symbol version it needs of a system
library within the manylinux policy of the runtime's glibc (:mod:`lambdapack.layer.policy`), or
defined by the library the layer ships; ``libs``: every ``DT_NEEDED`` library either one that
policy lets a wheel assume or found in the layer the way Lambda's loader searches
(:mod:`lambdapack.layer.loader`); ``abi``: every extension module named for the runtime's
CPython. :func:`check_binaries` runs the three on one scan (:func:`scan_elf`) and one linkage of
the unpacked layer.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path

from lambdapack.layer import check_hints as hints
from lambdapack.layer.check_verdict import FAIL, MAX_OFFENDERS, PASS, SKIP, Check, counted
from lambdapack.layer.elf import ElfInfo, read_elf
from lambdapack.layer.elf_symbols import demangle, symbols_by_version, undefined_symbols
from lambdapack.layer.loader import SYSTEM, Linkage, link_layer
from lambdapack.layer.policy import ManylinuxPolicy, is_loader, policy_for
from lambdapack.targets import Target

_NUMBERED_VERSION = re.compile(r"^\d+(?:\.\d+)*$")


def scan_elf(root: Path) -> dict[Path, ElfInfo]:
    """Every regular ELF file under ``root`` (links are followed where the loader follows them)."""
    infos: dict[Path, ElfInfo] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in sorted(filenames):
            path = Path(dirpath) / name
            if path.is_symlink():
                continue
            info = read_elf(path)
            if info is not None:
                infos[path] = info
    return infos


def _runtime_label(target: Target, policy: ManylinuxPolicy) -> str:
    return f"{target.runtime or 'python' + target.python_version} ({policy.name})"


def _is_system(policy: ManylinuxPolicy) -> Callable[[str], bool]:
    return lambda name: is_loader(name) or name in policy.lib_whitelist


def _version_offenders(obj: Path, info: ElfInfo, root: Path, linkage: Linkage, infos: dict[Path, ElfInfo],
                       policy: ManylinuxPolicy, label: str) -> list[str]:
    rel = obj.relative_to(root).as_posix()
    out = []
    users: dict[str, tuple[str, ...]] | None = None  # read only for a file that offends
    for need in info.version_needs:
        where = linkage.resolved.get((obj, need.library))
        if where is not None and where != SYSTEM:  # a library the layer ships answers for its versions
            defs = infos[where].version_defs if where in infos else (read_elf(where) or info).version_defs
            if defs and need.version not in defs:
                out.append(f"{rel}: needs {need.version} of {need.library}, which the layer's "
                           f"{where.relative_to(root).as_posix()} does not define")
            continue
        if where is None and not is_loader(need.library) and need.library not in policy.lib_whitelist:
            continue  # a missing library: the libs check names it
        if policy.allows(need.version):
            continue
        newest = policy.newest(need.family)
        has = f"has up to {newest}" if newest else f"has no versioned {need.family} symbols"
        if newest and not _NUMBERED_VERSION.match(need.version.partition("_")[2]):
            has = f"offers no {need.version} (up to {newest})"
        if users is None:
            users = symbols_by_version(obj, {n.version for n in info.version_needs if not policy.allows(n.version)})
        out.append(f"{rel}: needs {need.version} ({need.library}{_used_by(users.get(need.version, ()))}); "
                   f"{label} {has}")
    return out


def _used_by(symbols: tuple[str, ...], shown: int = 3) -> str:
    if not symbols:
        return ""
    names = demangle(list(symbols[:shown]))
    more = f" and {len(symbols) - shown} more" if len(symbols) > shown else ""
    return " for " + ", ".join(names) + more


def _blacklist_offenders(obj: Path, info: ElfInfo, root: Path, linkage: Linkage,
                         policy: ManylinuxPolicy) -> list[str]:
    out = []
    for library, forbidden in policy.blacklist.items():
        if library in info.needed and linkage.resolved.get((obj, library)) == SYSTEM:
            for symbol in sorted(undefined_symbols(obj) & forbidden):
                out.append(f"{obj.relative_to(root).as_posix()}: uses {symbol} of the system {library}, an internal "
                           f"symbol no manylinux wheel may rely on")
    return out


def _newest_needed(infos: dict[Path, ElfInfo], policy: ManylinuxPolicy) -> str:
    newest: dict[str, str] = {}
    for info in infos.values():
        for need in info.version_needs:
            if not policy.limits(need.family) or not _NUMBERED_VERSION.match(need.version.partition("_")[2]):
                continue
            current = newest.get(need.family)
            if current is None or _version_tuple(need.version) > _version_tuple(current):
                newest[need.family] = need.version
    return ", ".join(newest[f] for f in sorted(newest)) or "none"


def _version_tuple(version: str) -> tuple[int, ...]:
    return tuple(int(p) for p in version.partition("_")[2].split("."))


def check_elf(root: Path, target: Target, infos: dict[Path, ElfInfo], linkage: Linkage) -> Check:
    """Machine, and every symbol version each binary needs of the system, against the runtime's policy."""
    policy = policy_for(target.glibc, target.machine)
    label = _runtime_label(target, policy)
    wrong_machine = [f"{p.relative_to(root).as_posix()} ({i.machine})" for p, i in infos.items()
                     if i.machine != target.machine]
    too_new: list[str] = []
    forbidden: list[str] = []
    for obj, info in infos.items():
        if info.machine != target.machine:
            continue
        too_new.extend(_version_offenders(obj, info, root, linkage, infos, policy, label))
        forbidden.extend(_blacklist_offenders(obj, info, root, linkage, policy))
    if wrong_machine or too_new or forbidden:
        parts = []
        if wrong_machine:
            parts.append(f"{len(wrong_machine)} not built for {target.machine}")
        if too_new:
            parts.append(f"{counted(len(too_new), 'symbol version')} newer than {label} has")
        if forbidden:
            parts.append(f"{counted(len(forbidden), 'use')} of symbols {policy.name} forbids")
        return Check("elf", FAIL, f"{len(infos)} ELF files: " + ", ".join(parts),
                     tuple((wrong_machine + too_new + forbidden)[:MAX_OFFENDERS]),
                     hints.elf_hint(target, wrong_machine=bool(wrong_machine), too_new=bool(too_new)))
    return Check("elf", PASS, f"{len(infos)} ELF files, all {target.machine}; every symbol version within "
                 f"{policy.name} (newest needed: {_newest_needed(infos, policy)})")


def check_libraries(root: Path, target: Target, infos: dict[Path, ElfInfo], linkage: Linkage) -> Check:
    """Every DT_NEEDED library: one the runtime has (the policy's whitelist) or one the layer ships."""
    policy = policy_for(target.glibc, target.machine)
    if infos and not any(info.machine == target.machine for info in infos.values()):
        return Check("libs", SKIP, f"not run: no ELF file here is built for {target.machine} (the elf check "
                     "names them)")
    missing = []
    names = []
    for (obj, name), gap in sorted(linkage.missing.items(), key=lambda item: (item[0][0].as_posix(), item[0][1])):
        if infos.get(obj) is not None and infos[obj].machine != target.machine:
            continue  # the elf check already failed it
        searched = ", ".join(gap.searched) if gap.searched else "nowhere in the layer"
        names.append(name)
        missing.append(f"{obj.relative_to(root).as_posix()}: links {name}, which is neither a system library "
                       f"{policy.name} allows nor found in the layer (searched: {searched})")
    shipped = sum(1 for where in linkage.resolved.values() if where != SYSTEM)
    if missing:
        return Check("libs", FAIL, f"{counted(len(missing), 'needed library', 'needed libraries')} the runtime "
                     "lacks and the layer does not ship",
                     tuple(missing[:MAX_OFFENDERS]), hints.libs_hint(target, names))
    return Check("libs", PASS, f"every needed library found: {shipped} links into the layer, the rest in "
                 f"{policy.name}'s system libraries")


_EXTENSION_SUFFIX = re.compile(r"\.cpython-(?P<version>\d)(?P<minor>\d+)(?P<flags>[a-z]*)-(?P<platform>[^.]+)\.so$")


def check_abi(root: Path, target: Target, infos: dict[Path, ElfInfo]) -> Check:
    """Extension modules named for the runtime's CPython (``.cpython-312-x86_64-linux-gnu.so``, abi3 or bare)."""
    wanted = f".cpython-{target.python[0]}{target.python[1]}-{target.machine}-linux-gnu.so"
    label = target.runtime or f"python{target.python_version}"
    offenders = []
    count = 0
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in sorted(filenames):
            path = Path(dirpath) / name
            match = _EXTENSION_SUFFIX.search(name)
            if match is None and not name.endswith(".abi3.so"):
                continue
            count += 1
            rel = path.relative_to(root).as_posix()
            if match is not None and not name.endswith(wanted):
                built = f"CPython {match['version']}.{match['minor']}{match['flags']} on {match['platform']}"
                offenders.append(f"{rel}: built for {built}; {label} imports only *{wanted}, *.abi3.so or *.so")
            elif path not in infos and not path.is_symlink():
                offenders.append(f"{rel}: not an ELF shared object, so {label} cannot load it")
    if offenders:
        return Check("abi", FAIL, f"{len(offenders)} of {count} extension modules cannot load under {label}",
                     tuple(offenders[:MAX_OFFENDERS]), hints.abi_hint(target))
    return Check("abi", PASS, f"{count} extension modules, all for CPython {target.python_version} "
                 f"({wanted.lstrip('.')} or abi3)")


def check_binaries(root: Path, target: Target, infos: dict[Path, ElfInfo]) -> list[Check]:
    """The elf, libs and abi checks, sharing one scan and one linkage of the layer."""
    policy = policy_for(target.glibc, target.machine)
    linkage = link_layer(root, {p: i for p, i in infos.items() if i.machine == target.machine}, target.machine,
                         _is_system(policy))
    return [check_elf(root, target, infos, linkage), check_libraries(root, target, infos, linkage),
            check_abi(root, target, infos)]

