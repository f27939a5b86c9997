"""What a layer is built from: the target, the inputs, the compiling interpreter and the output
path (:func:`plan_build`, checked before any network traffic), and the wheels they pin
(:func:`pinned_wheels`).

Lock first: what a set of inputs resolved to is stored in the cache
(:class:`lambdapack.layer.cache.ResolutionCache`) and a rebuild of the same inputs installs
exactly that from the wheel cache, without a network request; ``upgrade`` and
``upgrade_packages`` resolve again.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from packaging.utils import canonicalize_name

from lambdapack.defaults import layer_zip
from lambdapack.errors import LayerError, ResolveError
from lambdapack.interpreters import find_python, interpreter_version, require_python
from lambdapack.layer.cache import ResolutionCache, resolution_key
from lambdapack.layer.models import DEFAULT_REQUIREMENTS, LayerOptions, PhaseClock
from lambdapack.targets import RUNTIMES, Target
from lambdapack.wheels.cpu_only import GpuWheelError, Substitution, cpu_only_inputs, refuse_gpu_wheels
from lambdapack.wheels.pins import FetchedWheel, Inputs, ProgressFn, split_inputs
from lambdapack.wheels.resolve import resolve_pins
from lambdapack.wheels.store import HashMismatch, MissingWheel, default_cache_dir, download_pinned

if TYPE_CHECKING:
    from lambdapack.project.inputs import Project

# every Lambda Python runtime today runs on glibc ≥ 2.26 (Amazon Linux 2)
OLDEST_LAMBDA_GLIBC = (2, 26)


@dataclass(frozen=True)
class LayerPlan:
    """What is being built from what: the target, the inputs and how they are pinned."""

    target: Target
    resolver: str
    inputs: Inputs
    cache_dir: Path
    out: Path
    python: Path | None
    compiled_with: str | None
    project: Project | None  # --project
    substitutions: tuple[Substitution, ...] = ()  # what the resolution takes as its CPU-only build


def target_for(options: LayerOptions) -> Target:
    if options.platforms or options.python_version or options.abis:
        if not options.platforms:
            raise LayerError("--python-version/--abi need at least one --platform",
                             hint="e.g. --python-version 38 --abi cp38 --platform manylinux1_x86_64, "
                                  "or use --runtime/--arch instead")
        return Target.from_tags(options.python_version or "3.12", options.platforms, options.abis)
    return Target.for_runtime(options.runtime, options.arch)


def lambda_runtimes_for(target: Target) -> tuple[str, ...]:
    """The Lambda runtimes that can load a layer built for ``target``."""
    if target.runtime is not None:
        return (target.runtime,)
    return tuple(name for name, rt in RUNTIMES.items() if rt.python == target.python)


def no_runtime_warning(target: Target, requirements: list[str]) -> str | None:
    """A warning when no Lambda runtime runs the target's Python (python3.8 and older are retired)."""
    if lambda_runtimes_for(target):
        return None
    suggestion = " ".join(["lambdapack build-layer --runtime python3.12 --arch", target.arch, *requirements])
    return (f"no Lambda runtime runs Python {target.python_version} (Lambda offers "
            f"{', '.join(RUNTIMES)}): no function can use this layer; build for a current runtime "
            f"instead: {suggestion}")


def capped_tags_warning(target: Target) -> str | None:
    """A warning when hand-written tags cap wheels below the glibc the runtime could load."""
    if target.runtime is not None:
        return None
    runtime = RUNTIMES.get(f"python{target.python_version}")
    lambda_glibc = runtime.glibc if runtime else OLDEST_LAMBDA_GLIBC
    if target.glibc >= lambda_glibc:
        return None
    return (f"--platform {' '.join(target.platforms)} caps wheels at glibc {target.glibc_version}, but "
            f"python{target.python_version} on Lambda has glibc {lambda_glibc[0]}.{lambda_glibc[1]}: pip will pick "
            f"old releases whose wheels carry that tag; use --runtime/--arch (or add "
            f"--platform manylinux2014_{target.machine}) for current ones")


def model_pins(model_dir: Path, target: Target) -> list[str]:
    """Pins tying the layer to the model's manifest; refuses versions the target can never load."""
    from lambdapack.model.layer_pins import layer_pins

    return layer_pins(model_dir, target)


def plan_build(options: LayerOptions, warnings: list[str], notes: list[str]) -> LayerPlan:
    """The target, inputs, interpreter and paths of a build, checked before any network traffic."""
    target = target_for(options)
    if (capped := capped_tags_warning(target)) is not None:
        warnings.append(capped)
    resolver = options.resolver or ("uv" if target.runtime is not None else "pip")
    if resolver == "uv" and not target.uv_platform_exact:
        notes.append(f"uv targets {target.uv_platform} (it has no manylinux_{target.glibc[0]}_{target.glibc[1]}); "
                     "wheels tagged between the two are not considered (--resolver pip lists every tag)")

    # resolve the compiler before any download: a bad --python is a usage error, not a late surprise
    python = None
    if options.compile is not False:
        python = require_python(target.python, options.python) if options.python else find_python(target.python)
        if python is None:
            warnings.append(f"no CPython {target.python_version} found (PATH, pyenv): layer built without .pyc "
                            f"files, so cold starts compile every module; pass --python PATH to fix")
    compiled_with = full_python_version(python, target) if python is not None else None

    project = None
    requirements, wheel_paths = split_inputs(list(options.requirements))
    if options.project is not None:
        from lambdapack.project.read import read_project

        project = read_project(options.project, groups=options.groups, extras=options.extras)
        if requirements or wheel_paths or options.requirement_files:
            raise ResolveError("--project takes its requirements from the project only",
                               hint="add them to the project (and lock it again), or build without --project")
        requirements = list(project.requirements)
    elif not requirements and not wheel_paths and not options.requirement_files:
        requirements = list(DEFAULT_REQUIREMENTS)
    if options.model is not None:
        requirements += model_pins(options.model, target)
    if (retired := no_runtime_warning(target, requirements)) is not None:
        warnings.append(retired)
    inputs = Inputs(tuple(requirements), tuple(options.requirement_files), tuple(wheel_paths),
                    tuple(options.find_links))
    cache_dir = Path(options.cache_dir) if options.cache_dir else default_cache_dir()
    out = Path(options.out) if options.out else layer_zip(target.label)
    _, substitutions = cpu_only_inputs(inputs)  # resolve_pins applies them; the report names them
    return LayerPlan(target, resolver, inputs, cache_dir, out, python, compiled_with, project, substitutions)


def pinned_wheels(plan: LayerPlan, options: LayerOptions, clock: PhaseClock, step: ProgressFn,
                  progress: ProgressFn | None) -> tuple[list[FetchedWheel], str]:
    """The verified wheel files to install, and where their pins came from (LayerReport.resolution).

    Lock first: a stored resolution of the same inputs is installed as it is, from the wheel
    cache (a wheel missing there is fetched from its recorded URL: still no resolve).
    """
    target = plan.target
    project = plan.project
    locked = project is not None and project.locked
    extra = {"project": project.fingerprint} if project is not None else None
    key = resolution_key(plan.inputs, target, plan.resolver, extra)
    resolutions = ResolutionCache(plan.cache_dir)
    stored = None if options.upgrade else resolutions.get(key)
    upgrade = tuple(canonicalize_name(n) for n in options.upgrade_packages)
    if stored is not None and not upgrade:
        step(f"installing the stored resolution for {target.label} (no index request)", 0, None)
        refuse_gpu_wheels((p.name for p in stored), "the stored resolution")
        try:
            with clock("download"):
                return download_pinned(stored, target, plan.cache_dir, progress), "stored"
        except MissingWheel as exc:
            step(f"{exc.message}: resolving again", 0, None)

    source = project.kind if project is not None and locked else plan.resolver
    step(f"resolving for {target.label} with {source}", 0, None)
    with clock("resolve"):
        try:
            if locked:
                if upgrade:
                    raise ResolveError(f"--upgrade-package: the versions come from {source}",
                                       hint="upgrade in the project (e.g. `uv lock --upgrade-package NAME`), "
                                            "then build again")
                assert project is not None
                pins = project.pins_for(target, plan.cache_dir, progress)
                refuse_gpu_wheels((p.name for p in pins), project.source.name)
            else:
                pins = resolve_pins(plan.inputs, target, resolver=plan.resolver, cache_dir=plan.cache_dir,
                                    progress=progress, preferences=stored or (), upgrade=upgrade)
        except ResolveError as exc:
            if options.model is None or isinstance(exc, GpuWheelError):
                raise
            from lambdapack.model.layer_pins import explain_resolve_failure

            raise explain_resolve_failure(exc, options.model, target) from None
    with clock("download"):
        try:
            wheels = download_pinned(pins, target, plan.cache_dir, progress)
        except HashMismatch as exc:
            if not locked:
                raise
            raise ResolveError(f"{source} pins {exc.filename} with sha256 {exc.expected[:16]}…, but the index "
                               f"serves {exc.got[:16]}…",
                               hint="the lock is stale or the file was replaced: lock the project again, and "
                                    "only once you trust the new file") from None
    resolutions.put(key, [w.pin() for w in wheels], {"target": target.label, "resolver": source})
    return wheels, source if locked else "resolved"


def full_python_version(python: Path, target: Target) -> str:
    """``python``'s full version (``3.12.1``: what the pycs are compiled with), or the target's minor version."""
    version = interpreter_version(str(python))
    return ".".join(map(str, version[0])) if version else target.python_version


def verified_wheels(plan: LayerPlan, options: LayerOptions, clock: PhaseClock, step: ProgressFn,
                    progress: ProgressFn | None) -> tuple[list[FetchedWheel], str]:
    """:func:`pinned_wheels`; with ``require_hashes``, the lock file is read before any download and
    every wheel must match its hash."""
    if not options.require_hashes:
        return pinned_wheels(plan, options, clock, step, progress)
    from lambdapack.lock import require_hashes_inputs, verify_locked

    lock = require_hashes_inputs(plan.inputs, plan.target)
    wheels, resolution = pinned_wheels(plan, options, clock, step, progress)
    verify_locked(wheels, lock)
    return wheels, resolution


