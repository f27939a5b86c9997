"""build-layer: requirements → pinned wheels → site-packages → slim → pyc → record → zip → check.

:func:`build_layer` is the library entry point; it takes :class:`LayerOptions` and returns a
frozen :class:`LayerReport` (both in :mod:`lambdapack.layer.models`, and exported here). It
runs the steps in order: plan the build and pin its wheels (:mod:`lambdapack.layer.plan`:
lock first), reuse the finished layer the cache holds for exactly those wheels and options
(:class:`lambdapack.layer.cache.LayerCache`) or assemble it (:mod:`lambdapack.layer.assemble`),
check it, and put it in place. Everything happens in a temporary tree; the zip is written
beside its destination and moved into place only once the layer passed check-layer, so a
failed build leaves the previous artifact (or nothing).
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import json
import os
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from lambdapack.archive import COMPRESSOR, scratch_dir, source_date_epoch, staging_file
from lambdapack.errors import LayerError
from lambdapack.interpreters import find_python
from lambdapack.interrupts import hold_signals
from lambdapack.layer.assemble import assemble, build_record
from lambdapack.layer.cache import CachedLayer, LayerCache, layer_key
from lambdapack.layer.models import DEFAULT_REQUIREMENTS, PHASES, LayerOptions, LayerPackage, LayerReport, PhaseClock
from lambdapack.layer.plan import LayerPlan, full_python_version, lambda_runtimes_for, plan_build, verified_wheels
from lambdapack.layer.slim import host_strip_for
from lambdapack.layer.vendor import VendoredLibrary
from lambdapack.targets import DIRECT_UPLOAD_LIMIT, UNZIPPED_LIMIT, Target
from lambdapack.wheels.pins import FetchedWheel, ProgressFn

if TYPE_CHECKING:
    from lambdapack.layer.check import Check, CheckReport

# a build's library names in one import: build_layer, and what it is asked and reports (layer.models)
__all__ = ["DEFAULT_REQUIREMENTS", "PHASES", "LayerOptions", "LayerPackage", "LayerReport", "build_layer"]


def build_layer(options: LayerOptions, progress: ProgressFn | None = None,
                on_step: ProgressFn | None = None) -> LayerReport:
    """Build the layer zip described by ``options``; see the module docstring."""
    started = time.monotonic()
    clock = PhaseClock()
    step = on_step or (lambda *_a: None)
    warnings: list[str] = []
    notes: list[str] = []
    # check-layer's module (pyelftools, the manylinux policy) takes longer to import than a whole
    # rebuild from the cache spends elsewhere; importing it while plan_build waits on the interpreter
    # probe hides that cost (imports are thread-safe; the probe is a subprocess wait)
    prefetch = threading.Thread(target=importlib.import_module, args=("lambdapack.layer.check",), daemon=True)
    if options.check:
        prefetch.start()
    plan = plan_build(options, warnings, notes)
    target = plan.target
    wheels, resolution = verified_wheels(plan, options, clock, step, progress)
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
                meta, tree = assemble(root, staged, plan, wheels, options, record, clock, step, checker)
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


def _layer_key(plan: LayerPlan, options: LayerOptions, wheels: list[FetchedWheel]) -> str:
    """The layer cache's key: the pinned wheels, the target and every option that changes the zip's bytes."""
    strip_tool = host_strip_for(plan.target.machine) if options.slim else None
    return layer_key(plan.target, [(w.name, w.version, w.filename, w.sha256) for w in wheels], {
        "resolver": plan.resolver, "slim": options.slim, "keep_dist_info": options.keep_dist_info,
        "compiled_with": plan.compiled_with, "strip": _tool_identity(strip_tool), "epoch": source_date_epoch(),
        "compressor": COMPRESSOR,
    })


def _reused(cache: LayerCache, hit: CachedLayer | None, staged: Path, out: Path, in_place: bool, clock: PhaseClock,
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


def artifact_mode() -> int:
    """The mode a new file gets under this process's umask (what ``open()`` would create)."""
    with contextlib.suppress(OSError, ValueError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return 0o666 & ~int(line.split()[1], 8)
    mask = os.umask(0o022)  # no /proc: read it the only portable way, and put it straight back
    os.umask(mask)
    return 0o666 & ~mask


def _tool_identity(tool: str | None) -> list | None:
    """The strip tool as the cache key knows it: a new binutils makes other bytes."""
    if tool is None:
        return None
    try:
        stat = Path(tool).resolve().stat()
    except OSError:
        return [tool]
    return [str(Path(tool).resolve()), stat.st_size, stat.st_mtime_ns]


def _checked(cache: LayerCache, key: str, staged: Path, out: Path, target: Target, options: LayerOptions,
             root: Path | None, record: dict, tree: Future[list[Check]] | None) -> CheckReport:
    """check-layer on the staged zip; the verdict of an identical zip under the same interpreter is reused."""
    # imported here: a rebuild that reuses a verdict never needs pyelftools
    from lambdapack.layer.check import Check, CheckReport, check_layer_zip, check_model
    from lambdapack.ui import to_jsonable

    interpreter = find_python(target.python, options.python)
    checker = hashlib.sha256(json.dumps([str(interpreter), full_python_version(interpreter, target) if interpreter
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
