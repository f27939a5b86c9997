"""check-layer: will this zip work as a Lambda layer for that runtime and architecture?

Each check returns a :class:`Check` (``pass``, ``warn``, ``fail`` or ``skip``) naming every
offender; :func:`check_layer_zip` runs them all and returns a :class:`CheckReport`:

- ``archive``: every member name safe (:func:`lambdapack.archive.validate_members`);
- ``layout``: importable code under ``python/`` or ``python/lib/python3.X/site-packages``
  for the runtime's Python, and no site-packages for another Python;
- ``size``: unzipped within Lambda's 262,144,000 bytes (fail), zipped within the 50 MB
  direct upload (warn: larger layers go through S3);
- ``elf``: every ELF file built for the arch, and every symbol version it needs of a system
  library (``GLIBC_``, ``GLIBCXX_``, ``CXXABI_``, ``GCC_`` ...) within the manylinux policy of
  the runtime's glibc (:mod:`lambdapack.layer.policy`: manylinux_2_26 on Amazon Linux 2,
  manylinux_2_34 on Amazon Linux 2023), or defined by the library the layer ships;
- ``libs``: every ``DT_NEEDED`` library either one that policy lets a wheel assume, or found
  in the layer the way Lambda's loader searches (:mod:`lambdapack.layer.loader`);
- ``abi``: every extension module named for the runtime's CPython (or abi3);
- ``import``: the runtime's CPython minor version, isolated (``-I -S``) with only the layer
  on ``sys.path`` and its ``lib/`` on ``LD_LIBRARY_PATH``, imports every top-level package
  (``skip`` when no such interpreter);
- ``model`` (with ``--model DIR``): the model's library versions are the layer's.

A failed check carries the hint for its own kind of failure (:mod:`lambdapack.layer.check_hints`).
The checks that read the zip itself (archive, layout, size) and the model check are here;
``elf``, ``libs`` and ``abi``, which share one scan and one linkage of the unpacked layer, are
:mod:`lambdapack.layer.check_binaries`; ``import`` is :mod:`lambdapack.layer.check_imports`; the
:class:`Check` they all return is :mod:`lambdapack.layer.check_verdict`'s.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from lambdapack.archive import open_zip, safe_extract, scratch_dir, unzipped_size, validate_members
from lambdapack.errors import ArchiveError, LayerError, ModelError
from lambdapack.layer import check_hints as hints
from lambdapack.layer.check_binaries import check_binaries, scan_elf
from lambdapack.layer.check_imports import check_imports, top_level_modules
from lambdapack.layer.check_verdict import FAIL, MAX_OFFENDERS, PASS, SKIP, WARN, Check, counted
from lambdapack.layer.loader import LAYER_LIBRARY_DIR, LAYER_MOUNT
from lambdapack.layer.record import RECORD_NAME, read_record_lenient
from lambdapack.model import version_rule
from lambdapack.model.manifest import load_versions
from lambdapack.targets import (
    DEFAULT_ARCH,
    DIRECT_UPLOAD_LIMIT,
    RUNTIMES,
    SITE_PACKAGES_RE,
    UNZIPPED_LIMIT,
    Target,
    arch_for_machine,
    machine_for,
    site_packages_pythons,
)

# what callers take from here: the checks' verdicts and statuses, and the layer's importable names
__all__ = ["FAIL", "PASS", "SKIP", "WARN", "Check", "CheckReport", "check_layer_zip", "check_model", "check_sizes",
           "check_tree", "require_ok", "resolve_target", "top_level_modules"]


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
        arch = (arch_for_machine(common[0][0]) if common else None) or DEFAULT_ARCH
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
        return Check("archive", FAIL, exc.message, (exc.hint,), hints.archive_hint())
    return Check("archive", PASS, f"{len(zf.infolist())} members, all paths safe")


def check_layout(names: list[str], target: Target) -> Check:
    files = [n for n in names if not n.endswith("/")]
    wanted = target.site_packages + "/"
    in_site = [n for n in files if n.startswith(wanted)]
    other_site = sorted({m[0] for n in files if (m := SITE_PACKAGES_RE.match(n)) and not n.startswith(wanted)})
    flat = [n for n in files if n.startswith("python/") and not SITE_PACKAGES_RE.match(n)]
    libraries = [n for n in files if n.startswith(f"{LAYER_LIBRARY_DIR}/")]  # /opt/lib: on LD_LIBRARY_PATH
    outside = sorted(n for n in files if not n.startswith(("python/", f"{LAYER_LIBRARY_DIR}/")) and n != RECORD_NAME)
    if other_site:
        return Check("layout", FAIL, f"site-packages for another Python (this runtime is {target.python_version})",
                     tuple(other_site), hints.layout_other_python_hint(target))
    if not in_site and not flat:
        return Check("layout", FAIL, "nothing under python/: Lambda will not put any of it on sys.path",
                     tuple(outside[:MAX_OFFENDERS]), hints.layout_empty_hint())
    where = wanted.rstrip("/") if in_site else "python/"
    if libraries:
        where += f"; {counted(len(libraries), 'library', 'libraries')} in {LAYER_LIBRARY_DIR}/ " \
                 f"({LAYER_MOUNT}/{LAYER_LIBRARY_DIR}, on the runtime's LD_LIBRARY_PATH)"
    if outside:
        return Check("layout", WARN, f"importable code in {where}; {len(outside)} files outside python/ "
                     f"and {LAYER_LIBRARY_DIR}/ are neither importable nor loadable", tuple(outside[:MAX_OFFENDERS]))
    return Check("layout", PASS, f"importable code in {where}")


def check_sizes(zip_bytes: int, unzipped: int) -> Check:
    if unzipped > UNZIPPED_LIMIT:
        return Check("size", FAIL, f"{unzipped:,} bytes unzipped, over Lambda's {UNZIPPED_LIMIT:,}-byte limit "
                     "for function + layers", hint=hints.size_hint())
    if zip_bytes > DIRECT_UPLOAD_LIMIT:
        return Check("size", WARN, f"{zip_bytes:,} bytes zipped: over the {DIRECT_UPLOAD_LIMIT:,}-byte direct "
                     f"upload limit (deploy goes through S3); {unzipped:,} bytes unzipped")
    return Check("size", PASS, f"{zip_bytes:,} bytes zipped, {unzipped:,} unzipped: within both limits")


def check_model(record: dict | None, model_dir: Path, layer: Path | None = None) -> Check:
    """Do the model's library versions match the layer's? (The rule of docs/formats.md.)"""
    try:
        versions = load_versions(Path(model_dir))
    except ModelError as exc:
        return Check("model", FAIL, exc.message, (exc.hint,), exc.hint)
    if record is None:
        return Check("model", FAIL, f"the layer has no {RECORD_NAME}, so its versions are unknown",
                     hint=f"rebuild it with `lambdapack build-layer --model {model_dir}`")
    mismatches = version_rule.version_mismatches(versions, version_rule.layer_versions(record))
    if mismatches:
        return Check("model", FAIL, "the model was made with other library versions than the layer has",
                     tuple(m.describe() for m in mismatches), hints.model_hint(model_dir, layer))
    return Check("model", PASS, "the model's " + ", ".join(f"{k} {v}" for k, v in versions.items()
                                                          if k in version_rule.PINNED_PACKAGES) + " match the layer")


# The name layer/build.py imports; not a hook: check_layer_zip calls check_model itself.


def check_tree(root: Path, target: Target, python: str | None) -> list[Check]:
    """The checks that read the unpacked layer: elf, libs, abi and import (nothing is written to ``root``)."""
    infos = scan_elf(root)
    return [*check_binaries(root, target, infos), check_imports(root, target, python)]


def check_layer_zip(path: Path, *, runtime: str | None = None, arch: str | None = None, python: str | None = None,
                model: Path | None = None, extracted: Path | None = None,
                tree_checks: Sequence[Check] | None = None) -> CheckReport:
    """Run every check on the layer zip ``path``. ``extracted``: an already unpacked copy to reuse;
    ``tree_checks``: :func:`check_tree` already run on it (build-layer runs it while the zip is written)."""
    path = Path(path)
    zip_bytes = path.stat().st_size if path.is_file() else 0
    with open_zip(path) as zf:
        infos = zf.infolist()
        names = [i.filename for i in infos]
        unzipped = unzipped_size(zf)
        file_count = sum(1 for i in infos if not i.is_dir())
        archive = check_archive(zf)
        record = read_record_lenient(zf)
    with scratch_dir("check") as tmp:
        root = extracted
        if root is None and archive.status == PASS:
            root = Path(tmp)
            try:
                safe_extract(path, root)
            except ArchiveError as exc:
                archive = Check("archive", FAIL, exc.message, (exc.hint,), hints.archive_hint())
                root = None
        elf_infos = scan_elf(root) if root is not None and tree_checks is None else {}
        machines: Counter[str] = Counter(info.machine for info in elf_infos.values())
        target, source = resolve_target(names, record, runtime, arch, machines)
        checks = [archive, check_layout(names, target), check_sizes(zip_bytes, unzipped)]
        if tree_checks is not None:
            checks.extend(tree_checks)
        elif root is not None:
            checks.extend(check_binaries(root, target, elf_infos))
            checks.append(check_imports(root, target, python))
        else:
            for name in ("elf", "libs", "abi", "import"):
                checks.append(Check(name, SKIP, "not run: the archive is unsafe to unpack"))
        if model is not None:
            checks.append(check_model(record, Path(model), path))
    return CheckReport(path=path, runtime=target.runtime, target_from=source, arch=target.arch,
                       python_version=target.python_version,
                       glibc=target.glibc_version, zip_bytes=zip_bytes, unzipped_bytes=unzipped,
                       file_count=file_count, checks=tuple(checks), ok=all(c.status != FAIL for c in checks))


def require_ok(report: CheckReport) -> None:
    """Raise LayerError naming the first failed check, with that check's hint (for build-layer's final check)."""
    failures = report.failures()
    if failures:
        first = failures[0]
        more = f" (and {len(failures) - 1} more failed checks)" if len(failures) > 1 else ""
        offender = f": {first.offenders[0]}" if first.offenders else ""
        also = ("; `lambdapack check-layer` on the zip lists every offender and each failed check's hint"
                if len(failures) > 1 or len(first.offenders) > 1 else "")
        raise LayerError(f"the layer fails check-layer: {first.name}: {first.detail}{offender}{more}",
                         hint=(first.hint or "fix the offender") + also + "; --no-check keeps the layer anyway")


