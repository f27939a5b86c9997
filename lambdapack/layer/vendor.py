"""Libraries a layer's binaries need that neither their wheel nor the runtime ships, copied into ``lib/``.

A wheel may link a library without shipping it: LightGBM's ``lib_lightgbm.so`` needs
``libgomp.so.1`` (GCC's OpenMP runtime), which is outside every manylinux policy and absent
from Lambda's Python runtimes. Another wheel of the same layer often ships a build of it:
scikit-learn's carries ``scikit_learn.libs/libgomp-<hash>.so.1.0.0`` (auditwheel's renamed
copy). :func:`plan_vendoring` finds each needed-but-missing library the way Lambda's loader
would look for it (:func:`lambdapack.layer.loader.link_layer` under the runtime's manylinux
policy) and picks, among the layer's own shared libraries, one whose SONAME (auditwheel's
``-<hash>`` removed) is that name or a longer version of it (``libgomp.so.1.0.0`` for
``libgomp.so.1``) and which defines every symbol version the needing binaries ask of it
(``GOMP_4.0``, ``OMP_1.0`` ...). :func:`vendor_libraries` copies it to ``lib/<soname>`` at the
layer root: Lambda mounts a layer at ``/opt`` and ``/opt/lib`` is on the runtime's
``LD_LIBRARY_PATH``. The choice is a pure function of the installed files, so the same wheels
give the same layer.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from lambdapack.errors import LayerError
from lambdapack.layer.elf import ElfInfo, read_elf
from lambdapack.layer.loader import LAYER_LIBRARY_DIR, LAYER_MOUNT, link_layer
from lambdapack.layer.policy import is_loader, policy_for
from lambdapack.targets import Target

# auditwheel renames a vendored library to NAME-<8 hex digits>.so[.N...] and sets that as its SONAME
_AUDITWHEEL_HASH = re.compile(r"^(?P<stem>.+?)-[0-9a-f]{8}(?P<ext>\.so(?:\.\d+)*)$")
# packages whose wheels are known to ship a build of a library other wheels link without shipping
KNOWN_PROVIDERS: dict[str, str] = {
    "libgomp.so.1": "scikit-learn",
}


@dataclass(frozen=True)
class VendoredLibrary:
    """A library copied into the layer's ``lib/`` from another wheel of the layer."""

    soname: str  # the name the needing binaries ask for; the file is lib/<soname>
    package: str  # the distribution whose wheel ships it
    wheel: str  # that wheel's file name
    source: str  # where the wheel installs it, relative to site-packages
    sha256: str
    needed_by: tuple[str, ...]  # the binaries that need it, relative to site-packages
    path: str = ""  # in the layer: lib/<soname> (/opt/lib/<soname> on Lambda)

    def record_entry(self) -> dict[str, object]:
        """The entry of the build record's ``vendored_libraries`` (docs/formats.md)."""
        return {"soname": self.soname, "path": self.path, "package": self.package, "wheel": self.wheel,
                "source": self.source, "sha256": self.sha256, "needed_by": list(self.needed_by)}


@dataclass(frozen=True)
class UnprovidedLibrary:
    """A library binaries need that the runtime lacks and no wheel of the layer ships."""

    soname: str
    needed_by: tuple[str, ...]  # relative to site-packages


@dataclass(frozen=True)
class VendorPlan:
    libraries: tuple[tuple[VendoredLibrary, Path], ...]  # each with the installed file to copy
    unprovided: tuple[UnprovidedLibrary, ...]

    @property
    def vendored(self) -> tuple[VendoredLibrary, ...]:
        return tuple(library for library, _ in self.libraries)


def provided_name(info: ElfInfo, path: Path) -> str:
    """The name a shared library answers to: its SONAME (or file name) without auditwheel's hash."""
    name = info.soname or path.name
    match = _AUDITWHEEL_HASH.match(name)
    return f"{match['stem']}{match['ext']}" if match else name


def answers_to(info: ElfInfo, path: Path, soname: str) -> bool:
    """Does this library answer to ``soname``? ``libgomp.so.1.0.0`` does to ``libgomp.so.1``, not ``.so.2``."""
    name = provided_name(info, path)
    return name == soname or name.startswith(soname + ".")


def _shared_objects(site_packages: Path, machine: str) -> dict[Path, ElfInfo]:
    """Every shared object (``*.so``, ``*.so.N``) of ``machine`` the wheels installed."""
    infos: dict[Path, ElfInfo] = {}
    for dirpath, dirnames, filenames in os.walk(site_packages):
        dirnames.sort()
        for name in sorted(filenames):
            path = Path(dirpath) / name
            if ".so" not in name or path.is_symlink():
                continue
            info = read_elf(path)
            if info is not None and info.machine == machine:
                infos[path] = info
    return infos


def _owner(rel: str, owners: Mapping[str, tuple[str, str]]) -> tuple[str, str]:
    top = rel.split("/", 1)[0]
    return owners.get(top, ("", ""))


def _pick(soname: str, needers: list[Path], infos: dict[Path, ElfInfo], site_packages: Path,
          owners: Mapping[str, tuple[str, str]]) -> tuple[VendoredLibrary, Path] | None:
    """The layer's library that answers to ``soname`` and defines every version ``needers`` ask of it."""
    wanted = {need.version for obj in needers for need in infos[obj].version_needs if need.library == soname}
    candidates = []
    for path, info in infos.items():
        if path in needers or not answers_to(info, path, soname) or not wanted <= info.version_defs:
            continue
        rel = path.relative_to(site_packages).as_posix()
        package, wheel = _owner(rel, owners)
        candidates.append((package, rel, wheel, path))
    if not candidates:
        return None
    package, rel, wheel, path = min(candidates)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    needed_by = tuple(sorted(obj.relative_to(site_packages).as_posix() for obj in needers))
    return VendoredLibrary(soname, package, wheel, rel, digest, needed_by, f"{LAYER_LIBRARY_DIR}/{soname}"), path


def plan_vendoring(root: Path, site_packages: Path, target: Target,
                   owners: Mapping[str, tuple[str, str]]) -> VendorPlan:
    """What to copy into ``root/lib`` so every library the layer's binaries need is found on Lambda.

    ``owners`` maps a top-level name in site-packages to the (package, wheel file name) that installed it.
    """
    infos = _shared_objects(site_packages, target.machine)
    policy = policy_for(target.glibc, target.machine)
    linkage = link_layer(root, infos, target.machine, lambda name: is_loader(name) or name in policy.lib_whitelist)
    needers: dict[str, list[Path]] = {}
    for obj, name in sorted(linkage.missing, key=lambda key: (key[1], key[0].as_posix())):
        if "/" not in name:  # a path is loaded from there or not at all: nothing in lib/ can stand in
            needers.setdefault(name, []).append(obj)
    libraries: list[tuple[VendoredLibrary, Path]] = []
    unprovided: list[UnprovidedLibrary] = []
    for soname, objs in needers.items():
        picked = _pick(soname, objs, infos, site_packages, owners)
        if picked is not None:
            libraries.append(picked)
        else:
            unprovided.append(UnprovidedLibrary(soname, tuple(sorted(o.relative_to(site_packages).as_posix()
                                                                      for o in objs))))
    return VendorPlan(tuple(libraries), tuple(unprovided))


def vendor_libraries(root: Path, plan: VendorPlan) -> None:
    """Copy the planned libraries to ``root/lib/<soname>`` (mode 0755, like the wheels' own libraries)."""
    if not plan.libraries:
        return
    lib = root / LAYER_LIBRARY_DIR
    lib.mkdir(exist_ok=True)
    for library, source in plan.libraries:
        dest = lib / library.soname
        shutil.copyfile(source, dest)
        os.chmod(dest, 0o755)


def unprovided_error(missing: UnprovidedLibrary, target: Target) -> LayerError:
    """One line naming the library and who needs it, and a hint naming a wheel that ships it."""
    label = target.runtime or f"python{target.python_version}"
    more = f" (and {len(missing.needed_by) - 1} more)" if len(missing.needed_by) > 1 else ""
    provider = KNOWN_PROVIDERS.get(missing.soname)
    route = (f"add {provider}, whose wheel ships {missing.soname.split('.so')[0]} "
             f"(lambdapack copies it to {LAYER_MOUNT}/{LAYER_LIBRARY_DIR}), or another package whose wheel "
             f"ships {missing.soname}" if provider else
             f"add a package whose wheel ships {missing.soname} (lambdapack copies it to "
             f"{LAYER_MOUNT}/{LAYER_LIBRARY_DIR})")
    return LayerError(f"{missing.needed_by[0]}{more} links {missing.soname}, which {label} lacks and no wheel "
                      f"in this layer ships",
                      hint=f"{route}; or drop the package that needs it; --no-check keeps the layer as it is")
