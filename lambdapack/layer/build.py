"""build-layer: requirements → verified wheels → site-packages → slim → pyc → record → zip → check.

:func:`build_layer` is the library entry point; it takes :class:`LayerOptions` and returns a
frozen :class:`LayerReport`. Everything happens in a temporary tree; the zip is written
beside its destination and moved into place only once the layer passed check-layer, so
a failed build leaves the previous artifact (or nothing).
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import time
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from lambdapack import compat
from lambdapack.archive import ZipEntry, entries_from_dir, write_zip
from lambdapack.errors import LayerError, ModelError
from lambdapack.interpreters import find_python, interpreter_version, require_python
from lambdapack.layer.check import RECORD_NAME, CheckReport, check_layer, require_ok
from lambdapack.layer.compile import compile_pycs
from lambdapack.layer.slim import slim, strip_dist_info, strip_extensions
from lambdapack.lock import require_hashes_inputs, verify_locked
from lambdapack.targets import DIRECT_UPLOAD_LIMIT, RUNTIMES, UNZIPPED_LIMIT, Target
from lambdapack.wheels import FetchedWheel, Inputs, default_cache_dir, fetch_wheels, install_wheels, split_inputs
from lambdapack.wheels.fetch import ProgressFn

DEFAULT_REQUIREMENTS = ("scikit-learn", "joblib")
RECORD_SCHEMA = "lambdapack.layer/1"
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


def model_pins(model_dir: Path) -> list[str]:
    manifest = Path(model_dir) / "model.json"
    try:
        versions = json.loads(manifest.read_text(encoding="utf-8")).get("versions") or {}
    except FileNotFoundError:
        raise ModelError(f"{manifest} does not exist", hint="train a model first (`lambdapack train`)") from None
    except (OSError, ValueError, AttributeError) as exc:
        raise ModelError(f"cannot read {manifest}: {exc}", hint="retrain the model to rewrite its manifest") from None
    return compat.pins_for(versions)


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
        "schema": RECORD_SCHEMA,
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
        requirements += model_pins(options.model)
    inputs = Inputs(tuple(requirements), tuple(options.requirement_files), tuple(wheel_paths),
                    tuple(options.find_links))
    cache_dir = Path(options.cache_dir) if options.cache_dir else default_cache_dir()
    out = Path(options.out) if options.out else Path("dist") / f"layer-{target.label}.zip"

    lock = require_hashes_inputs(inputs, target) if options.require_hashes else None

    step(f"resolving for {target.label} with {resolver}", 0, None)
    wheels = fetch_wheels(inputs, target, resolver=resolver, cache_dir=cache_dir, progress=progress)
    if lock is not None:
        verify_locked(wheels, lock)

    with tempfile.TemporaryDirectory(prefix="lambdapack-layer-") as tmp:
        root = Path(tmp)
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
        compiled_with = None
        if compile_ and python is not None:
            version = interpreter_version(str(python))
            full = ".".join(map(str, version[0])) if version else target.python_version
            step(f"compiling .pyc with CPython {full}", 0, None)
            compile_pycs(site_packages, python, f"/opt/{target.site_packages}", full)
            compiled_with = full
        record = build_record(target, wheels, resolver, options, compiled_with is not None, compiled_with)
        record_bytes = (json.dumps(record, indent=2) + "\n").encode()
        (root / RECORD_NAME).write_bytes(record_bytes)

        sizes = _sizes_by_top(site_packages)
        packages = tuple(
            PackageReport(w.name, w.version, w.filename, w.sha256,
                          sum(sizes.get(t, 0) for t in tops[w.name]))
            for w in wheels)

        step("writing the zip", 0, None)
        entries: list[ZipEntry] = entries_from_dir(root / "python", prefix="python")
        entries.append(ZipEntry(RECORD_NAME, record_bytes))
        with _stage(out) as staged:
            digest = write_zip(staged, entries)
            zip_bytes = staged.stat().st_size
            with zipfile.ZipFile(staged) as zf:
                infos = zf.infolist()
            unzipped = sum(i.file_size for i in infos)
            check = None
            if options.check:
                step("checking the layer", 0, None)
                check = check_layer(staged, runtime=target.runtime, arch=target.arch, python=options.python,
                                    model=options.model, extracted=root)
                check = _renamed(check, out)
                require_ok(check)
            try:
                os.replace(staged, out)
            except OSError as exc:
                raise LayerError(f"cannot write {out}: {exc.strerror or exc}",
                                 hint="check the output directory's permissions and free space") from None

    return LayerReport(
        path=out, sha256=digest, runtime=target.runtime, arch=target.arch, python_version=target.python_version,
        abi=target.abi, glibc=target.glibc_version, platforms=target.platforms, resolver=resolver,
        packages=packages, zip_bytes=zip_bytes, unzipped_bytes=unzipped, file_count=len(infos),
        fits_direct_upload=zip_bytes <= DIRECT_UPLOAD_LIMIT, fits_unzipped_limit=unzipped <= UNZIPPED_LIMIT,
        compiled_with=compiled_with, slimmed_bytes=slimmed, stripped_files=stripped_files,
        dropped_files=installed.dropped, warnings=tuple(warnings), notes=tuple(notes),
        seconds=round(time.monotonic() - started, 2), check=check)


def _renamed(report: CheckReport, out: Path) -> CheckReport:
    from dataclasses import replace
    return replace(report, path=out)
