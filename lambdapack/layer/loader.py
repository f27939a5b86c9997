"""Where Lambda's dynamic loader would find each library a layer's binaries need.

Lambda unpacks a layer at ``/opt``. For every ``DT_NEEDED`` name of an object, glibc's
``ld.so`` searches, in order: the object's ``DT_RPATH`` and then the ``DT_RPATH`` of every
object that loaded it (both only when the object has no ``DT_RUNPATH``), ``LD_LIBRARY_PATH``
(on Lambda's Python runtimes ``/var/lang/lib:/lib64:/usr/lib64:...:/opt/lib``, so the
system comes before the layer's ``lib/``), the object's own ``DT_RUNPATH`` (never
inherited), then the system defaults. ``$ORIGIN`` is the directory of the object whose path
list it appears in. What the system has is what the manylinux policy allows (``is_system``);
everything else must be in the layer. An object found in a directory but built for another
machine is skipped, as the loader skips it.

Not modelled: a library already loaded under the same soname by another object (the loader
reuses it); a layer that works only thanks to that load order is fragile anyway.
"""

from __future__ import annotations

import posixpath
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from lambdapack.layer.elf import ElfInfo, read_elf

LAYER_MOUNT = "/opt"  # where Lambda puts a layer's contents
LAYER_LIBRARY_DIR = "lib"  # /opt/lib: the one LD_LIBRARY_PATH entry inside a layer
SYSTEM = Path("/")  # the resolution of a library the runtime itself provides


@dataclass(frozen=True)
class MissingLibrary:
    """``obj`` needs ``name`` and the loader would not find it."""

    obj: Path
    name: str
    searched: tuple[str, ...]  # the search path as the loader sees it (``/opt/...`` and unexpanded entries)


@dataclass
class Linkage:
    """What :func:`link_layer` found: each (object, needed name) resolved, and what is missing."""

    resolved: dict[tuple[Path, str], Path] = field(default_factory=dict)  # in-layer file, or SYSTEM
    missing: dict[tuple[Path, str], MissingLibrary] = field(default_factory=dict)


def _mount_path(root: Path, path: Path) -> str:
    return posixpath.join(LAYER_MOUNT, path.relative_to(root).as_posix())


def _expand(entry: str, obj: Path, root: Path, machine: str) -> tuple[str, Path | None]:
    """``(as the loader sees it, the layer directory it names or None outside the layer)``."""
    origin = posixpath.dirname(_mount_path(root, obj))
    text = entry
    for token, value in (("${ORIGIN}", origin), ("$ORIGIN", origin), ("${LIB}", "lib64"), ("$LIB", "lib64"),
                         ("${PLATFORM}", machine), ("$PLATFORM", machine)):
        text = text.replace(token, value)
    if not text.startswith("/"):
        return text, None  # relative to the process's working directory: nothing to count on
    seen = posixpath.normpath(text)
    if seen == LAYER_MOUNT or seen.startswith(LAYER_MOUNT + "/"):
        return seen, root.joinpath(*posixpath.relpath(seen, LAYER_MOUNT).split("/"))
    return seen, None


class _Linker:
    def __init__(self, root: Path, infos: dict[Path, ElfInfo], machine: str,
                 is_system: Callable[[str], bool]) -> None:
        self.root = root
        self.infos = infos
        self.machine = machine
        self.is_system = is_system
        self.result = Linkage()
        self.visited: set[tuple[Path, tuple[str, ...]]] = set()
        self.reached: set[Path] = set()

    def info(self, path: Path) -> ElfInfo | None:
        if path not in self.infos:
            info = read_elf(path) if path.is_file() else None
            if info is None:
                return None
            self.infos[path] = info
        return self.infos[path]

    def _candidate(self, directory: Path | None, name: str) -> Path | None:
        if directory is None:
            return None
        path = directory / name
        try:
            real = path.resolve()
            real.relative_to(self.root.resolve())
        except (OSError, ValueError):
            return None  # a link out of the layer points at nothing Lambda has
        info = self.info(path) if path.is_file() else None
        return path if info is not None and info.machine == self.machine else None

    def _search(self, obj: Path, info: ElfInfo, name: str,
                inherited: tuple[tuple[str, Path | None], ...]) -> tuple[Path | None, tuple[str, ...]]:
        searched: list[str] = []
        if "/" in name:  # a path, not a soname: no search at all
            seen, directory = _expand(name, obj, self.root, self.machine)
            found = self._candidate(directory.parent if directory else None, Path(seen).name)
            return found, (seen,)
        if not info.runpath:
            own = tuple(_expand(e, obj, self.root, self.machine) for e in info.rpath)
            for seen, directory in (*own, *inherited):
                searched.append(seen)
                if (found := self._candidate(directory, name)) is not None:
                    return found, tuple(searched)
        if self.is_system(name):
            return SYSTEM, tuple(searched)
        lib_dir = posixpath.join(LAYER_MOUNT, LAYER_LIBRARY_DIR)
        searched.append(lib_dir)
        if (found := self._candidate(self.root / LAYER_LIBRARY_DIR, name)) is not None:
            return found, tuple(searched)
        for entry in info.runpath:
            seen, directory = _expand(entry, obj, self.root, self.machine)
            searched.append(seen)
            if (found := self._candidate(directory, name)) is not None:
                return found, tuple(searched)
        return None, tuple(searched)

    def visit(self, obj: Path, inherited: tuple[tuple[str, Path | None], ...]) -> None:
        info = self.info(obj)
        key = (obj, tuple(seen for seen, _ in inherited))
        if info is None or key in self.visited:
            return
        self.visited.add(key)
        self.reached.add(obj)
        own_rpath = () if info.runpath else tuple(_expand(e, obj, self.root, self.machine) for e in info.rpath)
        for name in info.needed:
            found, searched = self._search(obj, info, name, inherited)
            if found is None:
                self.result.missing.setdefault((obj, name), MissingLibrary(obj, name, searched))
                continue
            if self.result.resolved.get((obj, name), SYSTEM) == SYSTEM:
                self.result.resolved[(obj, name)] = found
            if found != SYSTEM:
                self.visit(found, (*own_rpath, *inherited))


def link_layer(root: Path, infos: dict[Path, ElfInfo], machine: str, is_system: Callable[[str], bool]) -> Linkage:
    """Resolve every ``DT_NEEDED`` of every ELF file in ``infos`` (paths under ``root``) like Lambda's loader.

    Objects nothing in the layer links (extension modules, executables, libraries loaded by
    path) start a load chain with no inherited ``RPATH``; libraries are then checked in each
    chain that reaches them, and once more on their own if none does.
    """
    linker = _Linker(root, dict(infos), machine, is_system)
    by_kind = sorted(infos, key=lambda p: (infos[p].soname is not None, p.as_posix()))
    for obj in by_kind:
        if infos[obj].soname is None:
            linker.visit(obj, ())
    for obj in by_kind:
        if obj not in linker.reached:
            linker.visit(obj, ())
    return linker.result

