"""build-layer: requirements → pinned wheels → site-packages → slim → pyc → record → zip → check.

:func:`build_layer` is the library entry point; it takes :class:`LayerOptions` and returns a
frozen :class:`LayerReport`. Lock first: what a set of inputs resolved to is stored in the
cache (:class:`lambdapack.layer.cache.ResolutionCache`) and a rebuild of the same inputs
installs exactly that from the wheel cache, without a network request; ``upgrade`` and
``upgrade_packages`` resolve again. Everything happens in a temporary tree; the zip is
written beside its destination and moved into place only once the layer passed
check-layer, so a failed build leaves the previous artifact (or nothing).
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import importlib
import json
import os
import threading
import time
import zipfile
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

from packaging.utils import canonicalize_name

from lambdapack.archive import (
    COMPRESSOR,
    ZipEntry,
    entries_from_dir,
    scratch_dir,
    source_date_epoch,
    staging_file,
    write_zip,
)
from lambdapack.errors import LayerError, ResolveError
from lambdapack.interpreters import find_python, interpreter_version, require_python
from lambdapack.interrupts import hold_signals
from lambdapack.layer.cache import CachedLayer, LayerCache, ResolutionCache, layer_key, resolution_key
from lambdapack.layer.compile import compile_pycs
from lambdapack.layer.loader import LAYER_LIBRARY_DIR
from lambdapack.layer.record import RECORD_NAME, SCHEMA, record_bytes
from lambdapack.layer.slim import dropped_file, host_strip_for, slim, strip_dist_info, strip_extensions
from lambdapack.layer.vendor import VendoredLibrary, plan_vendoring, unprovided_error, vendor_libraries
from lambdapack.targets import DIRECT_UPLOAD_LIMIT, RUNTIMES, UNZIPPED_LIMIT, Target
from lambdapack.wheels.cpu_only import GpuWheelError, Substitution, cpu_only_inputs, refuse_gpu_wheels
from lambdapack.wheels.pins import FetchedWheel, Inputs, ProgressFn, split_inputs
from lambdapack.wheels.resolve import resolve_pins
from lambdapack.wheels.store import HashMismatch, MissingWheel, default_cache_dir, download_pinned

if TYPE_CHECKING:
    from lambdapack.layer.check import Check, CheckReport
    from lambdapack.project.inputs import Project
    from lambdapack.wheels.install import InstallResult

DEFAULT_REQUIREMENTS = ("scikit-learn", "joblib")
# every Lambda Python runtime today runs on glibc ≥ 2.26 (Amazon Linux 2)
OLDEST_LAMBDA_GLIBC = (2, 26)
# the build's phases, in order: LayerReport.timings has one entry each (0.0 when skipped)
PHASES = ("resolve", "download", "install", "slim", "strip", "compile", "zip", "check")


@dataclass(frozen=True)
class LayerOptions:
    requirements: tuple[str, ...] = ()  # requirement strings and/or local wheel paths
    requirement_files: tuple[Path, ...] = ()
    find_links: tuple[Path, ...] = ()
    runtime: str = "python3.12"
    arch: str = "x86_64"
    # the guide's explicit form; when platforms is set these replace runtime/arch
    python_version: str | None = None
    platforms: tuple[str, ...] = ()
    abis: tuple[str, ...] = ()
    resolver: str | None = None  # None: uv, or pip for a hand-written tag set
    cache_dir: Path | None = None
    out: Path | None = None
    slim: bool = True
    keep_dist_info: bool = False
    compile: bool | None = None  # None: compile when the runtime's Python is found
    python: str | None = None
    check: bool = True
    model: Path | None = None  # pin scikit-learn/numpy/scipy/joblib to this model's manifest
    require_hashes: bool = False  # -r must be a `lambdapack lock` file; every wheel must match its hash
    upgrade: bool = False  # resolve again instead of reusing the stored resolution of these inputs
    upgrade_packages: tuple[str, ...] = ()  # resolve again, keeping every other package's stored version
    project: Path | None = None  # a project directory (uv.lock, pylock.toml, poetry.lock or pyproject.toml)
    groups: tuple[str, ...] = ()  # --project: dependency groups to include
    extras: tuple[str, ...] = ()  # --project: extras to include


@dataclass(frozen=True)
class LayerPackage:
    name: str
    version: str
    wheel: str
    sha256: str
    bytes: int  # installed size in the layer (after slimming)


@dataclass(frozen=True)
class LayerReport:
    path: Path
    sha256: str
    runtime: str | None
    arch: str
    python_version: str
    abi: str
    glibc: str
    platforms: tuple[str, ...]
    resolver: str
    packages: tuple[LayerPackage, ...]
    zip_bytes: int
    unzipped_bytes: int
    file_count: int
    fits_direct_upload: bool
    fits_unzipped_limit: bool
    compiled_with: str | None
    slimmed_bytes: int
    stripped_files: int
    dropped_files: tuple[str, ...]
    warnings: tuple[str, ...]
    notes: tuple[str, ...]
    seconds: float
    check: CheckReport | None = field(default=None)
    cached: bool = False  # the zip came from the layer cache (same inputs as an earlier build)
    # where the pins came from: "resolved" (the resolver ran), "stored" (this cache's resolution
    # of the same inputs, no index request), or the project lock file's name ("uv.lock", …)
    resolution: str = "resolved"
    lambda_runtimes: tuple[str, ...] = ()  # the Lambda runtimes that can load this layer
    timings: dict[str, float] = field(default_factory=dict)  # seconds per phase (PHASES)
    # requirements resolved as their CPU-only build (xgboost -> xgboost-cpu): Lambda has no GPU
    substitutions: tuple[Substitution, ...] = ()
    # libraries the layer's binaries need that only another wheel ships, copied into lib/ (/opt/lib)
    vendored_libraries: tuple[VendoredLibrary, ...] = ()


class _Clock:
    """Seconds spent per build phase."""

    def __init__(self) -> None:
        self.seconds = dict.fromkeys(PHASES, 0.0)

    @contextlib.contextmanager
    def __call__(self, phase: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[phase] += time.perf_counter() - start

    def rounded(self) -> dict[str, float]:
        return {k: round(v, 3) for k, v in self.seconds.items()}


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


def build_record(target: Target, wheels: list[FetchedWheel], resolver: str, options: LayerOptions,
                 compile_: bool, compiled_with: str | None) -> dict:
    return {
        "schema": SCHEMA,
        "runtime": target.runtime,
        "arch": target.arch,
        "python_version": target.python_version,
        "abi": target.abi,
        "glibc": target.glibc_version,
        "platforms": list(target.platforms),
        "site_packages": target.site_packages,
        "packages": [{"name": w.name, "version": w.version, "wheel": w.filename, "sha256": w.sha256}
                     for w in sorted(wheels, key=lambda w: w.name)],
        "options": {"resolver": resolver, "slim": options.slim, "keep_dist_info": options.keep_dist_info,
                    "compile": compile_},
        "compiled_with": compiled_with,
    }


def artifact_mode() -> int:
    """The mode a new file gets under this process's umask (what ``open()`` would create)."""
    with contextlib.suppress(OSError, ValueError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return 0o666 & ~int(line.split()[1], 8)
    mask = os.umask(0o022)  # no /proc: read it the only portable way, and put it straight back
    os.umask(mask)
    return 0o666 & ~mask


@dataclass(frozen=True)
class _Plan:
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


def build_layer(options: LayerOptions, progress: ProgressFn | None = None,
                on_step: ProgressFn | None = None) -> LayerReport:
    """Build the layer zip described by ``options``; see the module docstring."""
    started = time.monotonic()
    clock = _Clock()
    step = on_step or (lambda *_a: None)
    warnings: list[str] = []
    notes: list[str] = []
    # check-layer's module (pyelftools, the manylinux policy) takes longer to import than a whole
    # rebuild from the cache spends elsewhere; importing it while _plan waits on the interpreter
    # probe hides that cost (imports are thread-safe; the probe is a subprocess wait)
    prefetch = threading.Thread(target=importlib.import_module, args=("lambdapack.layer.check",), daemon=True)
    if options.check:
        prefetch.start()
    plan = _plan(options, warnings, notes)
    target = plan.target
    wheels, resolution = _verified_wheels(plan, options, clock, step, progress)
    key = _layer_key(plan, options, wheels)
    cache = LayerCache(plan.cache_dir)
    hit = cache.get(key)
    record = build_record(target, wheels, plan.resolver, options, plan.compiled_with is not None, plan.compiled_with)

    # nothing changed at all, and the zip at --out is still the one this entry wrote: keep it
    in_place = hit is not None and cache.in_place(key, plan.out)
    with contextlib.ExitStack() as stack:
        with hold_signals():  # no signal between the staged file's creation and its cleanup's registration
            staged = plan.out if in_place else stack.enter_context(staging_file(plan.out, ".building"))
        root: Path | None = None
        tree: Future[list[Check]] | None = None  # the tree's checks, running beside the zip
        hit = _reused(cache, hit, staged, plan.out, in_place, clock, step, notes)
        if hit is not None:
            meta = hit.meta
        else:
            with hold_signals():  # likewise for the tree
                root = stack.enter_context(scratch_dir("layer"))
            # the checks that read the tree run beside the zip; this pool is shut down (waited for)
            # before the tree is removed
            checker = stack.enter_context(ThreadPoolExecutor(1, thread_name_prefix="check")) if options.check else None
            try:
                meta, tree = _assemble(root, staged, plan, wheels, options, record, clock, step, checker)
            except OSError as exc:  # ENOSPC above all: ~200 MB unpacked plus the zip
                raise LayerError(f"cannot assemble the layer: {exc.strerror or exc}",
                                 hint=f"check free space and permissions in {root.parent} and {plan.out.parent}"
                                 ) from None
        check = None
        if options.check:
            step("checking the layer", 0, None)
            with clock("check"):
                if prefetch.is_alive():
                    prefetch.join()
                check = _checked(cache, key, staged, plan.out, target, options, root, record, tree)
            from lambdapack.layer.check import require_ok

            require_ok(check)
        if hit is None:
            cache.put(key, staged, meta)
        _place(staged, plan.out, in_place)
        cache.mark_in_place(key, plan.out)

    notes.extend(meta["notes"])
    warnings.extend(meta.get("warnings", ()))
    return LayerReport(
        path=plan.out, sha256=meta["sha256"], runtime=target.runtime, arch=target.arch,
        python_version=target.python_version, abi=target.abi, glibc=target.glibc_version, platforms=target.platforms,
        resolver=plan.resolver, packages=tuple(LayerPackage(**p) for p in meta["packages"]),
        zip_bytes=meta["zip_bytes"], unzipped_bytes=meta["unzipped_bytes"], file_count=meta["file_count"],
        fits_direct_upload=meta["zip_bytes"] <= DIRECT_UPLOAD_LIMIT,
        fits_unzipped_limit=meta["unzipped_bytes"] <= UNZIPPED_LIMIT,
        compiled_with=plan.compiled_with, slimmed_bytes=meta["slimmed_bytes"], stripped_files=meta["stripped_files"],
        dropped_files=tuple(meta["dropped_files"]), warnings=tuple(warnings), notes=tuple(notes),
        seconds=round(time.monotonic() - started, 2), check=check, cached=hit is not None, resolution=resolution,
        lambda_runtimes=lambda_runtimes_for(target), timings=clock.rounded(), substitutions=plan.substitutions,
        vendored_libraries=tuple(VendoredLibrary(**{**v, "needed_by": tuple(v["needed_by"])})
                                 for v in meta.get("vendored", ())))


def _verified_wheels(plan: _Plan, options: LayerOptions, clock: _Clock, step: ProgressFn,
                     progress: ProgressFn | None) -> tuple[list[FetchedWheel], str]:
    """:func:`_pinned_wheels`; with ``require_hashes``, the lock file is read before any download and
    every wheel must match its hash."""
    if not options.require_hashes:
        return _pinned_wheels(plan, options, clock, step, progress)
    from lambdapack.lock import require_hashes_inputs, verify_locked

    lock = require_hashes_inputs(plan.inputs, plan.target)
    wheels, resolution = _pinned_wheels(plan, options, clock, step, progress)
    verify_locked(wheels, lock)
    return wheels, resolution


def _layer_key(plan: _Plan, options: LayerOptions, wheels: list[FetchedWheel]) -> str:
    """The layer cache's key: the pinned wheels, the target and every option that changes the zip's bytes."""
    strip_tool = host_strip_for(plan.target.machine) if options.slim else None
    return layer_key(plan.target, [(w.name, w.version, w.filename, w.sha256) for w in wheels], {
        "resolver": plan.resolver, "slim": options.slim, "keep_dist_info": options.keep_dist_info,
        "compiled_with": plan.compiled_with, "strip": _tool_identity(strip_tool), "epoch": source_date_epoch(),
        "compressor": COMPRESSOR,
    })


def _reused(cache: LayerCache, hit: CachedLayer | None, staged: Path, out: Path, in_place: bool, clock: _Clock,
            step: ProgressFn, notes: list[str]) -> CachedLayer | None:
    """The cache entry now at ``staged`` (left where it is when ``in_place``), or None: build it."""
    if in_place:
        step(f"{out} is already this layer (same wheels, target and options)", 0, None)
        return hit
    if hit is None:
        return None
    step("reusing the cached layer (same wheels, target and options)", 0, None)
    with clock("zip"):
        if cache.copy_out(hit, staged):
            return hit
    notes.append("the cached layer did not match its sha256 and was rebuilt")
    return None


def _place(staged: Path, out: Path, in_place: bool) -> None:
    """Give the zip the mode of any new file and move it to ``out`` (already there when ``in_place``)."""
    # the same mode whether the bytes came from the cache or were just written: what the
    # user's umask gives any new file (the staging file itself is private, 0600)
    os.chmod(staged, artifact_mode())
    try:
        if not in_place:
            os.replace(staged, out)
    except OSError as exc:
        raise LayerError(f"cannot write {out}: {exc.strerror or exc}",
                         hint="check the output directory's permissions and free space") from None


def _plan(options: LayerOptions, warnings: list[str], notes: list[str]) -> _Plan:
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
    compiled_with = _full_version(python, target) if python is not None else None

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
    out = Path(options.out) if options.out else Path("dist") / f"layer-{target.label}.zip"
    _, substitutions = cpu_only_inputs(inputs)  # resolve_pins applies them; the report names them
    return _Plan(target, resolver, inputs, cache_dir, out, python, compiled_with, project, substitutions)


def _pinned_wheels(plan: _Plan, options: LayerOptions, clock: _Clock, step: ProgressFn,
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


def _full_version(python: Path, target: Target) -> str:
    version = interpreter_version(str(python))
    return ".".join(map(str, version[0])) if version else target.python_version


def _tool_identity(tool: str | None) -> list | None:
    if tool is None:
        return None
    try:
        stat = Path(tool).resolve().stat()
    except OSError:
        return [tool]
    return [str(Path(tool).resolve()), stat.st_size, stat.st_mtime_ns]


def _assemble(root: Path, staged: Path, plan: _Plan, wheels: list[FetchedWheel], options: LayerOptions,
              record: dict, clock: _Clock, step: ProgressFn,
              checker: ThreadPoolExecutor | None) -> tuple[dict, Future[list[Check]] | None]:
    """Install, slim, compile and zip the layer into ``staged``; return the cacheable facts, and the
    checks of the finished tree when ``checker`` runs them (beside the zip: they only read it)."""
    target = plan.target
    notes: list[str] = []
    warnings: list[str] = []
    site_packages = root / target.site_packages
    from lambdapack.wheels.install import install_wheels

    step(f"installing {len(wheels)} wheels", 0, None)
    drop_dist_info = not options.keep_dist_info
    with clock("install"):
        # what slimming would delete is never written (slim below still walks the tree: it lists the
        # extension modules to strip, and finds nothing more to delete)
        installed = install_wheels(wheels, site_packages, skip=functools.partial(
            dropped_file, slim=options.slim, drop_dist_info=drop_dist_info))
    tops = {w.name: installed.top_levels[w.path] for w in wheels}
    slimmed = installed.skipped_bytes
    stripped_files = 0
    with clock("slim"):
        if options.slim:
            step("slimming", 0, None)
            slimmed_result = slim(site_packages, drop_dist_info=drop_dist_info)
            slimmed += slimmed_result.bytes_removed
        elif drop_dist_info:
            slimmed += strip_dist_info(site_packages).bytes_removed
    if options.slim:
        with clock("strip"):
            stripped = strip_extensions(site_packages, target.machine, slimmed_result.extensions)
        slimmed += stripped.bytes_saved
        stripped_files = stripped.stripped
        if stripped.skipped_reason:
            notes.append(f"extension modules not stripped: {stripped.skipped_reason}")
        if stripped.refused:
            notes.append(f"{stripped.refused} extension modules left as shipped: stripping them would break "
                         "their loading (patchelf-rewritten layout)")
    with clock("strip"):  # the other step on the layer's binaries: a strip phase without --slim is this alone
        vendored = _vendor(root, site_packages, plan, wheels, tops, options, warnings)
    if vendored:
        record = {**record, "vendored_libraries": [v.record_entry() for v in vendored]}
        step("copied " + ", ".join(f"{v.soname} (from {v.package})" for v in vendored) + " into lib/", 0, None)
    if plan.compiled_with is not None and plan.python is not None:
        step(f"compiling .pyc with CPython {plan.compiled_with}", 0, None)
        with clock("compile"):
            compile_pycs(site_packages, plan.python, f"/opt/{target.site_packages}", plan.compiled_with)
    serialized = record_bytes(record)
    (root / RECORD_NAME).write_bytes(serialized)
    tree = None
    if checker is not None:
        from lambdapack.layer.check import check_tree, resolve_target

        check_target, _ = resolve_target([], record, target.runtime, target.arch, Counter())
        tree = checker.submit(check_tree, root, check_target, options.python)
    step("writing the zip" + (" (checking the layer meanwhile)" if tree else ""), 0, None)
    with clock("zip"):
        entries = _with_wheel_members(entries_from_dir(root / "python", prefix="python"), target, installed)
        entries += entries_from_dir(root / LAYER_LIBRARY_DIR, prefix=LAYER_LIBRARY_DIR) if vendored else []
        entries.append(ZipEntry(RECORD_NAME, serialized))
        digest = write_zip(staged, entries)
        with zipfile.ZipFile(staged) as zf:
            infos = zf.infolist()
    # sizes from the zip's own directory: no second walk over the tree
    sizes: dict[str, int] = {}
    prefix = target.site_packages + "/"
    for info in infos:
        if info.filename.startswith(prefix):
            top = info.filename[len(prefix):].split("/", 1)[0]
            if top == "__pycache__":  # a top-level module's pyc counts toward its .py
                top = info.filename.rsplit("/", 1)[1].split(".", 1)[0] + ".py"
            sizes[top] = sizes.get(top, 0) + info.file_size
    packages = [{"name": w.name, "version": w.version, "wheel": w.filename, "sha256": w.sha256,
                 "bytes": sum(sizes.get(t, 0) for t in tops[w.name])} for w in wheels]
    return {"sha256": digest, "zip_bytes": staged.stat().st_size, "unzipped_bytes": sum(i.file_size for i in infos),
            "file_count": len(infos), "packages": packages, "slimmed_bytes": slimmed,
            "stripped_files": stripped_files, "dropped_files": list(installed.dropped), "notes": notes,
            "vendored": [asdict(v) for v in vendored], "warnings": warnings}, tree


def _vendor(root: Path, site_packages: Path, plan: _Plan, wheels: list[FetchedWheel], tops: dict[str, frozenset[str]],
            options: LayerOptions, warnings: list[str]) -> tuple[VendoredLibrary, ...]:
    """Copy into ``lib/`` the libraries the layer's binaries need and only another wheel ships
    (:mod:`lambdapack.layer.vendor`); a library nothing ships stops the build (a warning with --no-check)."""
    owners = {top: (w.name, w.filename) for w in wheels for top in tops[w.name]}
    vendoring = plan_vendoring(root, site_packages, plan.target, owners)
    vendor_libraries(root, vendoring)
    for missing in vendoring.unprovided:
        error = unprovided_error(missing, plan.target)
        if options.check:
            raise error
        warnings.append(f"{error.message} ({error.hint})")
    return vendoring.vendored


def _with_wheel_members(entries: list[ZipEntry], target: Target, installed: InstallResult) -> list[ZipEntry]:
    """``entries`` with the wheel member each file was unpacked from (the zip reuses its deflated bytes
    when the file is still the member's content: see :func:`lambdapack.archive.write_zip`)."""
    prefix = target.site_packages + "/"
    out = []
    for entry in entries:
        member = installed.members.get(entry.arcname[len(prefix):]) if entry.arcname.startswith(prefix) else None
        out.append(replace(entry, reuse=member) if member is not None else entry)
    return out


def _checked(cache: LayerCache, key: str, staged: Path, out: Path, target: Target, options: LayerOptions,
             root: Path | None, record: dict, tree: Future[list[Check]] | None) -> CheckReport:
    """check-layer on the staged zip; the verdict of an identical zip under the same interpreter is reused."""
    # imported here: a rebuild that reuses a verdict never needs pyelftools
    from lambdapack.layer.check import Check, CheckReport, check_layer_zip, check_model
    from lambdapack.ui import to_jsonable

    interpreter = find_python(target.python, options.python)
    checker = hashlib.sha256(json.dumps([str(interpreter), _full_version(interpreter, target) if interpreter
                                         else None]).encode()).hexdigest()[:16]
    cached = cache.get_check(key, checker)
    if cached is not None:
        report = CheckReport(**{**cached, "path": out, "checks": tuple(Check(**{**c, "offenders": tuple(
            c["offenders"])}) for c in cached["checks"])})
    else:
        report = replace(check_layer_zip(staged, runtime=target.runtime, arch=target.arch, python=options.python,
                                     extracted=root, tree_checks=tree.result() if tree else None), path=out)
        if report.ok:
            cache.put_check(key, checker, to_jsonable(report))
    if options.model is not None:
        checks = (*report.checks, check_model(record, Path(options.model), out))
        report = replace(report, checks=checks, ok=all(c.status != "fail" for c in checks))
    return report
