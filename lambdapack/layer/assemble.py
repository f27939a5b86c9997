"""The layer's tree: the wheels installed into site-packages, slimmed, stripped, their missing
libraries vendored, compiled to pycs, the build record written, and the whole zipped.

:func:`assemble` works in a temporary tree that :func:`lambdapack.layer.build.build_layer` owns,
and writes the zip where it is told (a staging file beside the destination).
"""

from __future__ import annotations

import functools
import zipfile
from collections import Counter
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, replace
from pathlib import Path
from typing import TYPE_CHECKING

from lambdapack.archive import ZipEntry, entries_from_dir, write_zip
from lambdapack.layer.compile import compile_pycs
from lambdapack.layer.loader import LAYER_LIBRARY_DIR
from lambdapack.layer.models import LayerOptions, PhaseClock
from lambdapack.layer.plan import LayerPlan
from lambdapack.layer.record import RECORD_NAME, SCHEMA, record_bytes
from lambdapack.layer.slim import dropped_file, slim, strip_dist_info, strip_extensions
from lambdapack.layer.vendor import VendoredLibrary, plan_vendoring, unprovided_error, vendor_libraries
from lambdapack.targets import Target
from lambdapack.wheels.pins import FetchedWheel, ProgressFn

if TYPE_CHECKING:
    from lambdapack.layer.check import Check
    from lambdapack.wheels.install import InstallResult


def build_record(target: Target, wheels: list[FetchedWheel], resolver: str, options: LayerOptions,
                 compile_: bool, compiled_with: str | None) -> dict:
    """The build record (``lambdapack-layer.json``, :mod:`lambdapack.layer.record`) of a layer of ``wheels``."""
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


def assemble(root: Path, staged: Path, plan: LayerPlan, wheels: list[FetchedWheel], options: LayerOptions,
             record: dict, clock: PhaseClock, step: ProgressFn,
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


def _vendor(root: Path, site_packages: Path, plan: LayerPlan, wheels: list[FetchedWheel],
            tops: dict[str, frozenset[str]], options: LayerOptions, warnings: list[str]) -> tuple[VendoredLibrary, ...]:
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


