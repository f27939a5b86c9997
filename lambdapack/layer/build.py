"""build-layer: requirements → verified wheels → site-packages → slim → pyc → record → zip → check.

:func:`build_layer` is the library entry point; it takes :class:`LayerOptions` and returns a
frozen :class:`LayerReport`. Everything happens in a temporary tree; the zip is written
beside its destination and moved into place only once the layer passed check-layer, so
a failed build leaves the previous artifact (or nothing).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import tempfile
import time
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

from lambdapack.archive import (
    ZipEntry,
    entries_from_dir,
    source_date_epoch,
    sweep_stale_partials,
    unzipped_size,
    write_zip,
)
from lambdapack.errors import LayerError, ResolveError
from lambdapack.interpreters import find_python, interpreter_version, require_python
from lambdapack.layer.cache import LayerCache, cache_key
from lambdapack.layer.check import MODEL_CHECK, Check, CheckReport, check_layer, require_ok
from lambdapack.layer.compile import compile_pycs
from lambdapack.layer.record import RECORD_NAME, SCHEMA, record_bytes
from lambdapack.layer.slim import host_strip_for, slim, strip_dist_info, strip_extensions
from lambdapack.lock import require_hashes_inputs, verify_locked
from lambdapack.targets import DIRECT_UPLOAD_LIMIT, RUNTIMES, UNZIPPED_LIMIT, Target
from lambdapack.ui import to_jsonable
from lambdapack.wheels import FetchedWheel, Inputs, default_cache_dir, fetch_wheels, install_wheels, split_inputs
from lambdapack.wheels.fetch import ProgressFn

DEFAULT_REQUIREMENTS = ("scikit-learn", "joblib")
# every Lambda Python runtime today runs on glibc ≥ 2.26 (Amazon Linux 2)
OLDEST_LAMBDA_GLIBC = (2, 26)


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


@dataclass(frozen=True)
class PackageReport:
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
    packages: tuple[PackageReport, ...]
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


def target_for(options: LayerOptions) -> Target:
    if options.platforms or options.python_version or options.abis:
        if not options.platforms:
            raise LayerError("--python-version/--abi need at least one --platform",
                             hint="e.g. --python-version 38 --abi cp38 --platform manylinux1_x86_64, "
                                  "or use --runtime/--arch instead")
        return Target.from_tags(options.python_version or "3.12", options.platforms, options.abis)
    return Target.for_runtime(options.runtime, options.arch)


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
    from lambdapack.model.ties import layer_pins

    return layer_pins(model_dir, target)


def _top_levels(wheel: Path) -> set[str]:
    with zipfile.ZipFile(wheel) as zf:
        tops = {name.split("/", 1)[0] for name in zf.namelist()}
    return {t for t in tops if not t.endswith(".data")}


def _sizes_by_top(site_packages: Path) -> dict[str, int]:
    sizes: dict[str, int] = {}
    for entry in site_packages.iterdir():
        if entry.is_file():
            sizes[entry.name] = entry.stat().st_size
        else:
            sizes[entry.name] = sum(p.stat().st_size for p in entry.rglob("*") if p.is_file())
    # a top-level module "foo.py" compiled to "__pycache__/foo.*.pyc" counts toward foo.py
    return sizes


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


@contextlib.contextmanager
def _stage(out: Path) -> Iterator[Path]:
    """A temporary zip path beside ``out``; removed unless the caller moved it into place."""
    out.parent.mkdir(parents=True, exist_ok=True)
    sweep_stale_partials(out)
    fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".building", dir=out.parent)
    os.close(fd)
    try:
        yield Path(tmp)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


def build_layer(options: LayerOptions, progress: ProgressFn | None = None,
                on_step: ProgressFn | None = None) -> LayerReport:
    """Build the layer zip described by ``options``; see the module docstring."""
    started = time.monotonic()
    step = on_step or (lambda *_a: None)
    target = target_for(options)
    warnings: list[str] = []
    notes: list[str] = []
    if (capped := capped_tags_warning(target)) is not None:
        warnings.append(capped)
    resolver = options.resolver or ("uv" if target.runtime is not None else "pip")
    if resolver == "uv" and not target.uv_platform_exact:
        notes.append(f"uv targets {target.uv_platform} (it has no manylinux_{target.glibc[0]}_{target.glibc[1]}); "
                     "wheels tagged between the two are not considered (--resolver pip lists every tag)")

    # resolve the compiler before any download: a bad --python is a usage error, not a late surprise
    compile_ = options.compile is not False
    python = None
    if compile_:
        python = require_python(target.python, options.python) if options.python else find_python(target.python)
        if python is None:
            compile_ = False
            warnings.append(f"no CPython {target.python_version} found (PATH, pyenv): layer built without .pyc "
                            f"files, so cold starts compile every module; pass --python PATH to fix")

    requirements, wheel_paths = split_inputs(list(options.requirements))
    if not requirements and not wheel_paths and not options.requirement_files:
        requirements = list(DEFAULT_REQUIREMENTS)
    if options.model is not None:
        requirements += model_pins(options.model, target)
    inputs = Inputs(tuple(requirements), tuple(options.requirement_files), tuple(wheel_paths),
                    tuple(options.find_links))
    cache_dir = Path(options.cache_dir) if options.cache_dir else default_cache_dir()
    out = Path(options.out) if options.out else Path("dist") / f"layer-{target.label}.zip"

    lock = require_hashes_inputs(inputs, target) if options.require_hashes else None

    step(f"resolving for {target.label} with {resolver}", 0, None)
    try:
        wheels = fetch_wheels(inputs, target, resolver=resolver, cache_dir=cache_dir, progress=progress)
    except ResolveError as exc:
        if options.model is None:
            raise
        from lambdapack.model.ties import explain_resolve_failure

        raise explain_resolve_failure(exc, options.model, target) from None
    if lock is not None:
        verify_locked(wheels, lock)

    compiled_with = _full_version(python, target) if compile_ and python is not None else None
    strip_tool = host_strip_for(target.machine) if options.slim else None
    key = cache_key({
        "target": [target.runtime, target.arch, list(target.python), list(target.glibc), list(target.platforms),
                   list(target.abis)],
        "wheels": [[w.name, w.version, w.filename, w.sha256] for w in wheels],
        "resolver": resolver, "slim": options.slim, "keep_dist_info": options.keep_dist_info,
        "compiled_with": [str(python), compiled_with] if compiled_with else None,
        "strip": _tool_identity(strip_tool), "epoch": source_date_epoch(),
    })
    cache = LayerCache(cache_dir)
    hit = cache.get(key)

    with contextlib.ExitStack() as stack:
        staged = stack.enter_context(_stage(out))
        root: Path | None = None
        if hit is not None:
            step("reusing the cached layer (same wheels, target and options)", 0, None)
            shutil.copyfile(hit.zip_path, staged)
            meta = hit.meta
        else:
            root = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="lambdapack-layer-")))
            try:
                meta = _assemble(root, staged, target, wheels, resolver, options, python, compiled_with, step)
            except OSError as exc:  # ENOSPC above all: ~200 MB unpacked plus the zip
                raise LayerError(f"cannot assemble the layer: {exc.strerror or exc}",
                                 hint=f"check free space and permissions in {root.parent} and {out.parent}"
                                 ) from None
        record = build_record(target, wheels, resolver, options, compiled_with is not None, compiled_with)
        check = None
        if options.check:
            step("checking the layer", 0, None)
            check = _checked(cache, key, staged, out, target, options, root, record)
            require_ok(check)
        if hit is None:
            cache.put(key, staged, meta)
        try:
            os.replace(staged, out)
        except OSError as exc:
            raise LayerError(f"cannot write {out}: {exc.strerror or exc}",
                             hint="check the output directory's permissions and free space") from None

    notes.extend(meta["notes"])
    return LayerReport(
        path=out, sha256=meta["sha256"], runtime=target.runtime, arch=target.arch,
        python_version=target.python_version, abi=target.abi, glibc=target.glibc_version, platforms=target.platforms,
        resolver=resolver, packages=tuple(PackageReport(**p) for p in meta["packages"]),
        zip_bytes=meta["zip_bytes"], unzipped_bytes=meta["unzipped_bytes"], file_count=meta["file_count"],
        fits_direct_upload=meta["zip_bytes"] <= DIRECT_UPLOAD_LIMIT,
        fits_unzipped_limit=meta["unzipped_bytes"] <= UNZIPPED_LIMIT,
        compiled_with=compiled_with, slimmed_bytes=meta["slimmed_bytes"], stripped_files=meta["stripped_files"],
        dropped_files=tuple(meta["dropped_files"]), warnings=tuple(warnings), notes=tuple(notes),
        seconds=round(time.monotonic() - started, 2), check=check, cached=hit is not None)


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


def _assemble(root: Path, staged: Path, target: Target, wheels: list[FetchedWheel], resolver: str,
              options: LayerOptions, python: Path | None, compiled_with: str | None, step: ProgressFn) -> dict:
    """Install, slim, compile and zip the layer into ``staged``; return the cacheable facts."""
    notes: list[str] = []
    site_packages = root / target.site_packages
    step(f"installing {len(wheels)} wheels", 0, None)
    installed = install_wheels(wheels, site_packages)
    tops = {w.name: _top_levels(w.path) for w in wheels}
    slimmed = 0
    if not options.keep_dist_info:
        slimmed += strip_dist_info(site_packages).bytes_removed
    stripped_files = 0
    if options.slim:
        step("slimming", 0, None)
        slimmed += slim(site_packages).bytes_removed
        stripped = strip_extensions(site_packages, target.machine)
        slimmed += stripped.bytes_saved
        stripped_files = stripped.stripped
        if stripped.skipped_reason:
            notes.append(f"extension modules not stripped: {stripped.skipped_reason}")
        if stripped.refused:
            notes.append(f"{stripped.refused} extension modules left as shipped: stripping them would break "
                         "their loading (patchelf-rewritten layout)")
    if compiled_with is not None and python is not None:
        step(f"compiling .pyc with CPython {compiled_with}", 0, None)
        compile_pycs(site_packages, python, f"/opt/{target.site_packages}", compiled_with)
    record = build_record(target, wheels, resolver, options, compiled_with is not None, compiled_with)
    serialized = record_bytes(record)
    (root / RECORD_NAME).write_bytes(serialized)
    sizes = _sizes_by_top(site_packages)
    packages = [{"name": w.name, "version": w.version, "wheel": w.filename, "sha256": w.sha256,
                 "bytes": sum(sizes.get(t, 0) for t in tops[w.name])} for w in wheels]
    step("writing the zip", 0, None)
    entries: list[ZipEntry] = entries_from_dir(root / "python", prefix="python")
    entries.append(ZipEntry(RECORD_NAME, serialized))
    digest = write_zip(staged, entries)
    with zipfile.ZipFile(staged) as zf:
        unzipped, file_count = unzipped_size(zf), len(zf.infolist())
    return {"sha256": digest, "zip_bytes": staged.stat().st_size, "unzipped_bytes": unzipped,
            "file_count": file_count, "packages": packages, "slimmed_bytes": slimmed,
            "stripped_files": stripped_files, "dropped_files": list(installed.dropped), "notes": notes}


def _checked(cache: LayerCache, key: str, staged: Path, out: Path, target: Target, options: LayerOptions,
             root: Path | None, record: dict) -> CheckReport:
    """check-layer on the staged zip; the verdict of an identical zip under the same interpreter is reused."""
    interpreter = find_python(target.python, options.python)
    checker = hashlib.sha256(json.dumps([str(interpreter), _full_version(interpreter, target) if interpreter
                                         else None]).encode()).hexdigest()[:16]
    cached = cache.get_check(key, checker)
    if cached is not None:
        report = CheckReport(**{**cached, "path": out, "checks": tuple(Check(**{**c, "offenders": tuple(
            c["offenders"])}) for c in cached["checks"])})
    else:
        report = replace(check_layer(staged, runtime=target.runtime, arch=target.arch, python=options.python,
                                     extracted=root), path=out)
        if report.ok:
            cache.put_check(key, checker, to_jsonable(report))
    if options.model is not None:
        checks = (*report.checks, MODEL_CHECK(record, Path(options.model)))
        report = replace(report, checks=checks, ok=all(c.status != "fail" for c in checks))
    return report
