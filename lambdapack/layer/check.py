"""check-layer: will this zip work as a Lambda layer for that runtime and architecture?

Each check returns a :class:`Check` (``pass``, ``warn``, ``fail`` or ``skip``) naming every
offender; :func:`check_layer` runs them all and returns a :class:`CheckReport`:

- ``archive``: every member name safe (:func:`lambdapack.archive.validate_members`);
- ``layout``: importable code under ``python/`` or ``python/lib/python3.X/site-packages``
  for the runtime's Python, and no site-packages for another Python;
- ``size``: unzipped within Lambda's 262,144,000 bytes (fail), zipped within the 50 MB
  direct upload (warn: larger layers go through S3);
- ``elf``: every ELF file built for the arch and needing no newer ``GLIBC_x.y`` than the
  runtime has;
- ``import``: the runtime's CPython minor version, isolated (``-I -S``) with only the layer
  on ``sys.path``, imports every top-level package (``skip`` when no such interpreter);
- ``model`` (with ``--model DIR``): the model's library versions are the layer's.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import tempfile
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from lambdapack import compat
from lambdapack.archive import open_zip, safe_extract, unzipped_size, validate_members
from lambdapack.errors import ArchiveError, LayerError
from lambdapack.interpreters import find_python, interpreter_version
from lambdapack.layer.elf import read_elf
from lambdapack.layer.record import RECORD_NAME, read_record_lenient
from lambdapack.targets import (
    DIRECT_UPLOAD_LIMIT,
    RUNTIMES,
    SITE_PACKAGES_RE,
    UNZIPPED_LIMIT,
    Target,
    machine_for,
    site_packages_pythons,
)

PASS, WARN, FAIL, SKIP = "pass", "warn", "fail", "skip"
_MAX_OFFENDERS = 50


@dataclass(frozen=True)
class Check:
    name: str
    status: str
    detail: str
    offenders: tuple[str, ...] = ()


@dataclass(frozen=True)
class CheckReport:
    path: Path
    runtime: str | None
    target_from: str  # where runtime/arch came from: options, the build record, the layout
    arch: str
    python_version: str
    glibc: str
    zip_bytes: int
    unzipped_bytes: int
    file_count: int
    checks: tuple[Check, ...]
    ok: bool

    def failures(self) -> list[Check]:
        return [c for c in self.checks if c.status == FAIL]


def resolve_target(names: list[str], record: dict | None, runtime: str | None, arch: str | None,
                   elf_machines: Counter[str]) -> tuple[Target, str]:
    """The target to check against: explicit options, then the build record, then the layout."""
    if arch is not None:
        machine_for(arch)  # validates
    origin = "--runtime"
    if runtime is None and record and record.get("runtime"):
        runtime = str(record["runtime"])
        origin = f"the build record ({RECORD_NAME})"
    if arch is None and record and record.get("arch"):
        arch = str(record["arch"])
    if arch is None:
        common = elf_machines.most_common(1)
        arch = {"aarch64": "arm64"}.get(common[0][0], "x86_64") if common else "x86_64"
    if runtime is not None:
        return Target.for_runtime(runtime, arch), origin
    if record and record.get("python_version") and record.get("platforms"):
        target = Target.from_tags(str(record["python_version"]), list(record["platforms"]),
                                  [str(record["abi"])] if record.get("abi") else [])
        return target, "the build record's tags"
    versions = {f"python{major}.{minor}" for major, minor in site_packages_pythons(names)}
    if len(versions) == 1 and (only := versions.pop()) in RUNTIMES:
        return Target.for_runtime(only, arch), "the layout"
    return Target.for_runtime("python3.12", arch), "the default runtime (no record, no versioned layout)"


def check_archive(zf) -> Check:  # type: ignore[no-untyped-def]
    try:
        validate_members(zf)
    except ArchiveError as exc:
        return Check("archive", FAIL, exc.message, (exc.hint,))
    return Check("archive", PASS, f"{len(zf.infolist())} members, all paths safe")


def check_layout(names: list[str], target: Target) -> Check:
    files = [n for n in names if not n.endswith("/")]
    wanted = target.site_packages + "/"
    in_site = [n for n in files if n.startswith(wanted)]
    other_site = sorted({m[0] for n in files if (m := SITE_PACKAGES_RE.match(n)) and not n.startswith(wanted)})
    flat = [n for n in files if n.startswith("python/") and not SITE_PACKAGES_RE.match(n)]
    outside = sorted(n for n in files if not n.startswith("python/") and n != RECORD_NAME)
    if other_site:
        return Check("layout", FAIL, f"site-packages for another Python (this runtime is {target.python_version})",
                     tuple(other_site))
    if not in_site and not flat:
        return Check("layout", FAIL, "nothing under python/: Lambda will not put any of it on sys.path",
                     tuple(outside[:_MAX_OFFENDERS]))
    where = wanted.rstrip("/") if in_site else "python/"
    if outside:
        return Check("layout", WARN, f"importable code in {where}; {len(outside)} files outside python/ "
                     "are not importable", tuple(outside[:_MAX_OFFENDERS]))
    return Check("layout", PASS, f"importable code in {where}")


def check_sizes(zip_bytes: int, unzipped: int) -> Check:
    if unzipped > UNZIPPED_LIMIT:
        return Check("size", FAIL, f"{unzipped:,} bytes unzipped, over Lambda's {UNZIPPED_LIMIT:,}-byte limit "
                     "for function + layers")
    if zip_bytes > DIRECT_UPLOAD_LIMIT:
        return Check("size", WARN, f"{zip_bytes:,} bytes zipped: over the {DIRECT_UPLOAD_LIMIT:,}-byte direct "
                     f"upload limit (deploy goes through S3); {unzipped:,} bytes unzipped")
    return Check("size", PASS, f"{zip_bytes:,} bytes zipped, {unzipped:,} unzipped: within both limits")


def check_elf(root: Path, target: Target) -> tuple[Check, Counter[str]]:
    wrong_machine: list[str] = []
    too_new: list[str] = []
    machines: Counter[str] = Counter()
    count = 0
    newest: tuple[int, int] | None = None
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in sorted(filenames):
            path = Path(dirpath) / name
            if path.is_symlink():
                continue
            info = read_elf(path)
            if info is None:
                continue
            count += 1
            rel = path.relative_to(root).as_posix()
            machines[info.machine] += 1
            if info.machine != target.machine:
                wrong_machine.append(f"{rel} ({info.machine})")
            if info.glibc and info.glibc > target.glibc:
                too_new.append(f"{rel} (needs GLIBC_{info.glibc_text})")
            if info.glibc and (newest is None or info.glibc > newest):
                newest = info.glibc
    offenders = tuple((wrong_machine + too_new)[:_MAX_OFFENDERS])
    if wrong_machine or too_new:
        parts = []
        if wrong_machine:
            parts.append(f"{len(wrong_machine)} not built for {target.machine}")
        if too_new:
            parts.append(f"{len(too_new)} need a newer glibc than {target.glibc_version}")
        return Check("elf", FAIL, f"{count} ELF files: " + ", ".join(parts), offenders), machines
    need = f"{newest[0]}.{newest[1]}" if newest else "none"
    return Check("elf", PASS, f"{count} ELF files, all {target.machine}, newest glibc needed {need} "
                 f"≤ {target.glibc_version}"), machines


def top_level_modules(root: Path, target: Target) -> list[str]:
    """Every importable top-level name in the layer's import roots (what Lambda puts on sys.path)."""
    names: set[str] = set()
    for base in (root / target.site_packages, root / "python"):
        if not base.is_dir():
            continue
        for entry in base.iterdir():
            name = entry.name
            if entry.is_dir():
                if name.isidentifier() and name != "__pycache__" and (
                        (entry / "__init__.py").exists() or (entry / "__init__.pyc").exists()):
                    names.add(name)
            elif name.endswith(".py") and name[:-3].isidentifier():
                names.add(name[:-3])
            elif name.endswith(".so") and name.split(".")[0].isidentifier():
                names.add(name.split(".")[0])
    return sorted(names)


_IMPORT_SCRIPT = r"""
import importlib, json, sys
sys.path[:0] = json.loads(sys.argv[1])
results = {}
for name in json.loads(sys.argv[2]):
    try:
        importlib.import_module(name)
        results[name] = None
    except BaseException as exc:
        results[name] = (type(exc).__name__ + ": " + str(exc)).splitlines()[0][:300]
sys.stdout.write("\n" + json.dumps(results) + "\n")
"""


def check_imports(root: Path, target: Target, python: str | None) -> Check:
    if platform.machine() != target.machine:
        return Check("import", SKIP, f"not run: {target.machine} code cannot run on this {platform.machine()} "
                     "machine (the elf check still verified every binary)")
    interpreter = find_python(target.python, python)
    if interpreter is None:
        wanted = f"python{target.python_version}"
        why = f"--python {python} is not CPython {target.python_version}" if python else f"no {wanted} found"
        return Check("import", SKIP, f"not run: {why} (pass --python PATH)")
    root = root.resolve()  # the test runs in an empty temporary directory
    modules = top_level_modules(root, target)
    if not modules:
        return Check("import", SKIP, "not run: the layer has no top-level packages")
    roots = [str(root / target.site_packages), str(root / "python")]
    version = interpreter_version(str(interpreter))
    label = f"CPython {'.'.join(map(str, version[0]))}" if version else str(interpreter)
    with tempfile.TemporaryDirectory(prefix="lambdapack-import-") as cwd:
        try:
            done = subprocess.run([str(interpreter), "-I", "-S", "-c", _IMPORT_SCRIPT, json.dumps(roots),
                                   json.dumps(modules)], capture_output=True, text=True, cwd=cwd, timeout=600,
                                  env={"PATH": os.environ.get("PATH", ""), "LANG": "C.UTF-8", "HOME": cwd},
                                  check=False)
        except subprocess.TimeoutExpired:
            return Check("import", FAIL, f"importing the layer's packages with {label} took over 600 s",
                         tuple(modules))
    lines = done.stdout.strip().splitlines()
    try:
        results = json.loads(lines[-1]) if lines else None
    except ValueError:
        results = None
    if done.returncode != 0 or not isinstance(results, dict):
        tail = (done.stderr.strip().splitlines() or ["no output"])[-1]
        return Check("import", FAIL, f"the import test crashed under {label} (exit {done.returncode}): {tail}",
                     tuple(modules))
    failed = tuple(f"{name}: {err}" for name, err in sorted(results.items()) if err)
    if failed:
        return Check("import", FAIL, f"{len(failed)} of {len(modules)} top-level packages fail to import "
                     f"under {label}", failed)
    return Check("import", PASS, f"{label} imports all {len(modules)} top-level packages: {', '.join(modules)}")


def check_model(record: dict | None, model_dir: Path) -> Check:
    """Do the model's library versions match the layer's? (The rule of docs/formats.md.)"""
    manifest = Path(model_dir) / "model.json"
    try:
        versions = json.loads(manifest.read_text(encoding="utf-8")).get("versions") or {}
    except (OSError, ValueError, AttributeError) as exc:
        return Check("model", FAIL, f"cannot read {manifest}: {exc}", ("run `lambdapack train` first",))
    if record is None:
        return Check("model", FAIL, f"the layer has no {RECORD_NAME}, so its versions are unknown",
                     ("rebuild it with `lambdapack build-layer --model " + str(model_dir) + "`",))
    mismatches = compat.version_mismatches(versions, compat.layer_versions(record))
    if mismatches:
        return Check("model", FAIL, "the model was made with other library versions than the layer has",
                     tuple(m.describe() for m in mismatches))
    return Check("model", PASS, "the model's " + ", ".join(f"{k} {v}" for k, v in versions.items()
                                                          if k in compat.PINNED_PACKAGES) + " match the layer")


# H2 (model) may replace this hook with the manifest module's own reader
MODEL_CHECK: Callable[[dict | None, Path], Check] = check_model


def check_layer(path: Path, *, runtime: str | None = None, arch: str | None = None, python: str | None = None,
                model: Path | None = None, extracted: Path | None = None) -> CheckReport:
    """Run every check on the layer zip ``path``. ``extracted``: an already unpacked copy to reuse."""
    path = Path(path)
    zip_bytes = path.stat().st_size if path.is_file() else 0
    with open_zip(path) as zf:
        infos = zf.infolist()
        names = [i.filename for i in infos]
        unzipped = unzipped_size(zf)
        file_count = sum(1 for i in infos if not i.is_dir())
        archive = check_archive(zf)
        record = read_record_lenient(zf)
    with tempfile.TemporaryDirectory(prefix="lambdapack-check-") as tmp:
        root = extracted
        if root is None and archive.status == PASS:
            root = Path(tmp)
            try:
                safe_extract(path, root)
            except ArchiveError as exc:
                archive = Check("archive", FAIL, exc.message, (exc.hint,))
                root = None
        elf_check: Check | None = None
        machines: Counter[str] = Counter()
        provisional, _ = resolve_target(names, record, runtime, arch, machines)
        if root is not None:
            elf_check, machines = check_elf(root, provisional)
        target, source = resolve_target(names, record, runtime, arch, machines)
        if root is not None and target != provisional:
            elf_check, _ = check_elf(root, target)
        checks = [archive, check_layout(names, target), check_sizes(zip_bytes, unzipped)]
        if elf_check is not None:
            checks.append(elf_check)
            checks.append(check_imports(root, target, python))  # type: ignore[arg-type]
        else:
            checks.append(Check("elf", SKIP, "not run: the archive is unsafe to unpack"))
            checks.append(Check("import", SKIP, "not run: the archive is unsafe to unpack"))
        if model is not None:
            checks.append(MODEL_CHECK(record, Path(model)))
    return CheckReport(path=path, runtime=target.runtime, target_from=source, arch=target.arch,
                       python_version=target.python_version,
                       glibc=target.glibc_version, zip_bytes=zip_bytes, unzipped_bytes=unzipped,
                       file_count=file_count, checks=tuple(checks), ok=all(c.status != FAIL for c in checks))


def require_ok(report: CheckReport) -> None:
    """Raise LayerError naming every failed check (for build-layer's final check)."""
    failures = report.failures()
    if failures:
        first = failures[0]
        more = f" (and {len(failures) - 1} more failed checks)" if len(failures) > 1 else ""
        offender = f": {first.offenders[0]}" if first.offenders else ""
        raise LayerError(f"the layer fails check-layer: {first.name}: {first.detail}{offender}{more}",
                         hint="run `lambdapack check-layer` on it for every offender, or rebuild with --no-check "
                              "to keep it anyway")


