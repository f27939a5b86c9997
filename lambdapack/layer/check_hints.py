"""What to do about each kind of check-layer failure: one hint per failure, worded here.

Every failed :class:`~lambdapack.layer.check.Check` carries the hint of its own failure (a size
failure is not answered with advice about glibc); check-layer prints each under its check and
build-layer's error carries the first failure's.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from lambdapack.layer.loader import LAYER_LIBRARY_DIR, LAYER_MOUNT
from lambdapack.layer.vendor import KNOWN_PROVIDERS
from lambdapack.targets import ARCHES, Target
from lambdapack.wheels.cpu_only import cpu_only_route


def _label(target: Target) -> str:
    return target.runtime or f"python{target.python_version}"


def _rebuild(target: Target) -> str:
    if target.runtime is None:
        return "`lambdapack build-layer --runtime RUNTIME --arch ARCH`"
    return f"`lambdapack build-layer --runtime {target.runtime} --arch {target.arch}`"


def _manylinux(target: Target) -> str:
    return f"manylinux_{target.glibc[0]}_{target.glibc[1]}_{ARCHES.get(target.arch, target.machine)}"


def archive_hint() -> str:
    return ("the zip is corrupt or hostile: do not upload or unpack it; build the layer again with "
            "`lambdapack build-layer`")


def layout_other_python_hint(target: Target) -> str:
    return (f"the layer is for another Python: rebuild it for {_label(target)} ({_rebuild(target)}), or check it "
            "against the runtime it was built for (--runtime)")


def layout_empty_hint() -> str:
    return ("Lambda imports a layer's code from python/ or python/lib/python3.X/site-packages only: build the "
            "layer with `lambdapack build-layer`, or move the packages there")


def size_hint() -> str:
    return ("the limit counts the function and all its layers unzipped: drop packages the function does not "
            "import, keep --slim (the default) and leave out --keep-dist-info, and prefer CPU-only builds of "
            f"large libraries ({cpu_only_route()}, which build-layer picks by itself)")


def elf_hint(target: Target, *, wrong_machine: bool, too_new: bool) -> str:
    if wrong_machine:
        return (f"some binaries are built for another architecture: rebuild the layer for {target.arch} "
                f"({_rebuild(target)}), or check it against the arch it was built for (--arch)")
    plat = _manylinux(target)
    if too_new:
        newer = "; or serve the function on python3.12 or newer (glibc 2.34)" if target.glibc < (2, 34) else ""
        return (f"the layer holds binaries built for a newer system than {plat}: pin a release with a {plat} "
                f"(or older) wheel, or rebuild it on such a system{newer}")
    return (f"a binary uses internal symbols of a system library that no {plat} wheel may rely on: pin another "
            "release of its package, or rebuild it with `auditwheel repair`")


def libs_hint(target: Target, missing: Iterable[str]) -> str:
    names = sorted(set(missing))
    providers = sorted({f"{KNOWN_PROVIDERS[n]} (ships {n.split('.so')[0]})" for n in names if n in KNOWN_PROVIDERS})
    lib_dir = f"{LAYER_MOUNT}/{LAYER_LIBRARY_DIR}"
    route = f"add {', '.join(providers)} to the requirements, or " if providers else ""
    return (f"{_label(target)} lacks {', '.join(names) or 'a needed library'}: {route}add a package whose wheel "
            f"ships it (build-layer copies it into the layer's lib/, which is {lib_dir} on Lambda's "
            "LD_LIBRARY_PATH), or drop the package that needs it")


def abi_hint(target: Target) -> str:
    return (f"extension modules for another CPython do not import under {_label(target)}: rebuild the layer for "
            f"it ({_rebuild(target)}) so pip/uv choose cp{target.python[0]}{target.python[1]} wheels")


def import_hint(target: Target, *, crashed: bool) -> str:
    python = f"python{target.python_version}"
    if crashed:
        return (f"the interpreter itself failed: run the import by hand ({python} -I -c 'import NAME' with the "
                "unzipped layer's site-packages on PYTHONPATH) to see the full error")
    return (f"a package imports a module or library the layer lacks: add it to the requirements (the offender "
            f"names it), or run `{python} -I -c 'import NAME'` on the unzipped layer for the traceback")


def model_hint(model_dir: Path, layer: Path | None = None) -> str:
    return (f"rebuild the layer pinned to the model (`lambdapack build-layer --model {model_dir}`), or retrain "
            f"the model with the layer's libraries (`lambdapack train --layer {layer or 'LAYER.zip'}`)")
