"""Lambda has no GPU: CUDA and NCCL wheels never go into a layer.

Some libraries publish their Linux wheel as the GPU build and a CPU-only build under another
name: ``xgboost``'s Linux wheels depend on NVIDIA's NCCL (``nvidia-nccl-cu13``, ~300 MB
unzipped, past Lambda's 262,144,000-byte limit on its own), ``xgboost-cpu`` is the same
library and version without it. :data:`CPU_ONLY_BUILDS` is that table; a requirement naming a
key is resolved as its CPU-only build, with the same extras, version specifier and marker
(:func:`cpu_only_inputs`, in requirement strings and requirement files alike), and the build
says so (:class:`Substitution`). What cannot be substituted — an explicit ``nvidia-*`` or
``*-cu12`` requirement, a lock file that pins the GPU build, a package that depends on it — is
refused with one line and a hint naming the CPU-only route (:func:`refuse_gpu_wheels`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path

from packaging.utils import canonicalize_name

from lambdapack.errors import ResolveError
from lambdapack.wheels.pins import Inputs

# the GPU build's name -> its CPU-only build: the same library, the same versions
CPU_ONLY_BUILDS: dict[str, str] = {
    "xgboost": "xgboost-cpu",
}
# NVIDIA's CUDA runtime and libraries (nvidia-cublas-cu12, nvidia-nccl-cu13, ...) and the CUDA
# variants other projects publish under a suffix (cupy-cuda12x, jax-cuda12-plugin, ...)
_GPU_ONLY = re.compile(r"^(nvidia-.+|.+-cu\d+|.+-cuda\d+x?(-.+)?)$")
_REASON = "Lambda has no GPU, and {gpu}'s Linux wheel pulls in NVIDIA's CUDA/NCCL libraries"
# a requirement line's project name (PEP 508), before extras, a specifier, a marker or the end
_NAME = re.compile(r"^(?P<lead>\s*)(?P<name>[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?)"
                   r"(?P<rest>\s*(?:[\[(<>=!~;]|$).*)$", re.S)
_INCLUDE = re.compile(r"^(?P<option>\s*(?:-r|-c|--requirement|--constraint)(?:\s+|=))(?P<path>\S+)(?P<rest>.*)$", re.S)


class GpuWheelError(ResolveError):
    """A CUDA/NCCL wheel, or a GPU build with no substitution possible, would go into a layer."""


@dataclass(frozen=True)
class Substitution:
    """A requirement resolved as its CPU-only build (``xgboost`` -> ``xgboost-cpu``)."""

    requested: str  # canonical
    chosen: str  # canonical
    source: str  # where it was asked: "the requirements", or a requirements file's name
    reason: str

    def describe(self) -> str:
        return f"{self.requested} -> {self.chosen}, its CPU-only build (asked for in {self.source}): {self.reason}"


def is_gpu_only(name: str) -> bool:
    """Is ``name`` a CUDA/NCCL distribution (``nvidia-nccl-cu13``, ``cupy-cuda12x``)?"""
    return bool(_GPU_ONLY.match(canonicalize_name(name)))


def cpu_only_route() -> str:
    """The CPU-only builds lambdapack substitutes, as a hint names them."""
    return ", ".join(f"{cpu} for {gpu}" for gpu, cpu in sorted(CPU_ONLY_BUILDS.items()))


def _refuse_requirement(name: str, source: str) -> GpuWheelError:
    return GpuWheelError(f"{name} ({source}) is a CUDA/NCCL library: Lambda runs without a GPU, so a layer never "
                        "ships it",
                         hint=f"drop it from the requirements; for a library with a CPU-only build require that "
                             f"build ({cpu_only_route()}; lambdapack picks it for you when you name the library)")


def cpu_only_requirement(line: str, source: str = "the requirements") -> tuple[str, Substitution | None]:
    """One requirement line with a GPU build's name replaced by its CPU-only build's.

    Extras, specifier, marker and anything after them are kept as written; a direct
    reference (``name @ URL``) names one file and is left alone. A CUDA/NCCL name is refused.
    """
    match = _NAME.match(line)
    if match is None or "@" in match["rest"].split(";", 1)[0]:
        return line, None
    name = canonicalize_name(match["name"])
    if is_gpu_only(name):
        raise _refuse_requirement(name, source)
    chosen = CPU_ONLY_BUILDS.get(name)
    if chosen is None:
        return line, None
    return (f"{match['lead']}{chosen}{match['rest']}",
            Substitution(name, chosen, source, _REASON.format(gpu=name)))


def _rewrite_file(path: Path, workdir: Path | None, found: list[Substitution], done: dict[Path, Path]) -> Path:
    """``path``, or (when a line of it or of a file it includes changes) its rewritten copy in ``workdir``.

    Includes (``-r``/``-c``) of a copy are written as absolute paths; the copy lives in
    ``workdir`` only while the resolver runs. Unreadable files are left to the resolver to report.
    """
    path = path.resolve()
    if path in done:
        return done[path]
    done[path] = path  # an include cycle reads each file once
    try:
        lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    except (OSError, UnicodeDecodeError):
        return path
    out: list[str] = []
    changed = continued = False
    for line in lines:
        text = line
        include = _INCLUDE.match(line) if not continued else None
        if include is not None:
            nested = path.parent / include["path"]
            target = _rewrite_file(nested, workdir, found, done)
            changed |= target != nested.resolve()
            text = f"{include['option']}{target}{include['rest']}"
        elif not continued and not line.lstrip().startswith(("-", "#")):
            text, substitution = cpu_only_requirement(line, path.name)
            if substitution is not None:
                found.append(substitution)
                changed = True
        continued = line.rstrip("\r\n").endswith("\\")
        out.append(text)
    if not changed or workdir is None:
        return path
    copy = workdir / f"{list(done).index(path):03d}-{path.name}"  # files of one name in two directories
    copy.write_text("".join(out), encoding="utf-8")
    done[path] = copy
    return copy


def cpu_only_inputs(inputs: Inputs, workdir: Path | None = None) -> tuple[Inputs, tuple[Substitution, ...]]:
    """``inputs`` with every GPU build named in them replaced by its CPU-only build, and what was replaced.

    Requirement files that change are rewritten into ``workdir`` (None: only say what would change).
    """
    found: list[Substitution] = []
    requirements = []
    for requirement in inputs.requirements:
        text, substitution = cpu_only_requirement(requirement)
        requirements.append(text)
        if substitution is not None:
            found.append(substitution)
    done: dict[Path, Path] = {}
    files = tuple(_rewrite_file(Path(f), workdir, found, done) for f in inputs.requirement_files)
    unique = tuple(dict.fromkeys(found))
    return replace(inputs, requirements=tuple(requirements), requirement_files=files), unique


def refuse_gpu_wheels(names: Iterable[str], source: str) -> None:
    """Refuse a set of pinned packages that holds a CUDA/NCCL wheel or a GPU build (``source``: whose pins)."""
    pinned = {canonicalize_name(n) for n in names}
    gpu_builds = sorted(pinned & set(CPU_ONLY_BUILDS))
    gpu_only = sorted(n for n in pinned if is_gpu_only(n))
    if not gpu_builds and not gpu_only:
        return
    routes = [f"require {CPU_ONLY_BUILDS[n]} instead of {n}" for n in gpu_builds]
    if gpu_builds:
        what = (f"{source} pins {gpu_builds[0]}, whose Linux wheel is the GPU build"
                + (f" (with {', '.join(gpu_only)})" if gpu_only else ""))
    else:
        what = f"{source} pins {', '.join(gpu_only)}, CUDA/NCCL libraries"
    raise GpuWheelError(f"{what}: Lambda runs without a GPU, so a layer never ships them",
                        hint=("; ".join(routes) if routes else f"use the CPU-only build ({cpu_only_route()})")
                        + " (in the project or requirements that name it; lock again if a lock pins it), "
                          "or drop the package that depends on it")
