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
  on ``sys.path``, imports every top-level package (``skip`` when no such interpreter);
- ``model`` (with ``--model DIR``): the model's library versions are the layer's.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from lambdapack.archive import open_zip, safe_extract, scratch_dir, unzipped_size, validate_members
from lambdapack.errors import ArchiveError, LayerError, ModelError
from lambdapack.interpreters import find_python, install_hint, interpreter_version
from lambdapack.layer.elf import ElfInfo, demangle, read_elf, symbols_by_version, undefined_symbols
from lambdapack.layer.loader import SYSTEM, Linkage, link_layer
from lambdapack.layer.policy import ManylinuxPolicy, is_loader, policy_for
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
    host_machine,
    machine_for,
    site_packages_pythons,
)

PASS, WARN, FAIL, SKIP = "pass", "warn", "fail", "skip"
_MAX_OFFENDERS = 50
_NUMBERED_VERSION = re.compile(r"^\d+(?:\.\d+)*$")


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


def scan_elf(root: Path) -> dict[Path, ElfInfo]:
    """Every regular ELF file under ``root`` (links are followed where the loader follows them)."""
    infos: dict[Path, ElfInfo] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in sorted(filenames):
            path = Path(dirpath) / name
            if path.is_symlink():
                continue
            info = read_elf(path)
            if info is not None:
                infos[path] = info
    return infos


def _runtime_label(target: Target, policy: ManylinuxPolicy) -> str:
    return f"{target.runtime or 'python' + target.python_version} ({policy.name})"


def _is_system(policy: ManylinuxPolicy) -> Callable[[str], bool]:
    return lambda name: is_loader(name) or name in policy.lib_whitelist


def _version_offenders(obj: Path, info: ElfInfo, root: Path, linkage: Linkage, infos: dict[Path, ElfInfo],
                       policy: ManylinuxPolicy, label: str) -> list[str]:
    rel = obj.relative_to(root).as_posix()
    out = []
    users: dict[str, tuple[str, ...]] | None = None  # read only for a file that offends
    for need in info.version_needs:
        where = linkage.resolved.get((obj, need.library))
        if where is not None and where != SYSTEM:  # a library the layer ships answers for its versions
            defs = infos[where].version_defs if where in infos else (read_elf(where) or info).version_defs
            if defs and need.version not in defs:
                out.append(f"{rel}: needs {need.version} of {need.library}, which the layer's "
                           f"{where.relative_to(root).as_posix()} does not define")
            continue
        if where is None and not is_loader(need.library) and need.library not in policy.lib_whitelist:
            continue  # a missing library: the libs check names it
        if policy.allows(need.version):
            continue
        newest = policy.newest(need.family)
        has = f"has up to {newest}" if newest else f"has no versioned {need.family} symbols"
        if newest and not _NUMBERED_VERSION.match(need.version.partition("_")[2]):
            has = f"offers no {need.version} (up to {newest})"
        if users is None:
            users = symbols_by_version(obj, {n.version for n in info.version_needs if not policy.allows(n.version)})
        out.append(f"{rel}: needs {need.version} ({need.library}{_used_by(users.get(need.version, ()))}); "
                   f"{label} {has}")
    return out


def _used_by(symbols: tuple[str, ...], shown: int = 3) -> str:
    if not symbols:
        return ""
    names = demangle(list(symbols[:shown]))
    more = f" and {len(symbols) - shown} more" if len(symbols) > shown else ""
    return " for " + ", ".join(names) + more


def _blacklist_offenders(obj: Path, info: ElfInfo, root: Path, linkage: Linkage,
                         policy: ManylinuxPolicy) -> list[str]:
    out = []
    for library, forbidden in policy.blacklist.items():
        if library in info.needed and linkage.resolved.get((obj, library)) == SYSTEM:
            for symbol in sorted(undefined_symbols(obj) & forbidden):
                out.append(f"{obj.relative_to(root).as_posix()}: uses {symbol} of the system {library}, an internal "
                           f"symbol no manylinux wheel may rely on")
    return out


def _newest_needed(infos: dict[Path, ElfInfo], policy: ManylinuxPolicy) -> str:
    newest: dict[str, str] = {}
    for info in infos.values():
        for need in info.version_needs:
            if not policy.limits(need.family) or not _NUMBERED_VERSION.match(need.version.partition("_")[2]):
                continue
            current = newest.get(need.family)
            if current is None or _version_tuple(need.version) > _version_tuple(current):
                newest[need.family] = need.version
    return ", ".join(newest[f] for f in sorted(newest)) or "none"


def _count(n: int, singular: str, plural: str | None = None) -> str:
    return f"{n} {singular if n == 1 else plural or singular + 's'}"


def _version_tuple(version: str) -> tuple[int, ...]:
    return tuple(int(p) for p in version.partition("_")[2].split("."))


def check_elf(root: Path, target: Target, infos: dict[Path, ElfInfo], linkage: Linkage) -> Check:
    """Machine, and every symbol version each binary needs of the system, against the runtime's policy."""
    policy = policy_for(target.glibc, target.machine)
    label = _runtime_label(target, policy)
    wrong_machine = [f"{p.relative_to(root).as_posix()} ({i.machine})" for p, i in infos.items()
                     if i.machine != target.machine]
    too_new: list[str] = []
    forbidden: list[str] = []
    for obj, info in infos.items():
        if info.machine != target.machine:
            continue
        too_new.extend(_version_offenders(obj, info, root, linkage, infos, policy, label))
        forbidden.extend(_blacklist_offenders(obj, info, root, linkage, policy))
    if wrong_machine or too_new or forbidden:
        parts = []
        if wrong_machine:
            parts.append(f"{len(wrong_machine)} not built for {target.machine}")
        if too_new:
            parts.append(f"{_count(len(too_new), 'symbol version')} newer than {label} has")
        if forbidden:
            parts.append(f"{_count(len(forbidden), 'use')} of symbols {policy.name} forbids")
        return Check("elf", FAIL, f"{len(infos)} ELF files: " + ", ".join(parts),
                     tuple((wrong_machine + too_new + forbidden)[:_MAX_OFFENDERS]))
    return Check("elf", PASS, f"{len(infos)} ELF files, all {target.machine}; every symbol version within "
                 f"{policy.name} (newest needed: {_newest_needed(infos, policy)})")


def check_libraries(root: Path, target: Target, infos: dict[Path, ElfInfo], linkage: Linkage) -> Check:
    """Every DT_NEEDED library: one the runtime has (the policy's whitelist) or one the layer ships."""
    policy = policy_for(target.glibc, target.machine)
    if infos and not any(info.machine == target.machine for info in infos.values()):
        return Check("libs", SKIP, f"not run: no ELF file here is built for {target.machine} (the elf check "
                     "names them)")
    missing = []
    for (obj, name), gap in sorted(linkage.missing.items(), key=lambda item: (item[0][0].as_posix(), item[0][1])):
        if infos.get(obj) is not None and infos[obj].machine != target.machine:
            continue  # the elf check already failed it
        searched = ", ".join(gap.searched) if gap.searched else "nowhere in the layer"
        missing.append(f"{obj.relative_to(root).as_posix()}: links {name}, which is neither a system library "
                       f"{policy.name} allows nor found in the layer (searched: {searched})")
    shipped = sum(1 for where in linkage.resolved.values() if where != SYSTEM)
    if missing:
        return Check("libs", FAIL, f"{_count(len(missing), 'needed library', 'needed libraries')} the runtime "
                     "lacks and the layer does not ship",
                     tuple(missing[:_MAX_OFFENDERS]))
    return Check("libs", PASS, f"every needed library found: {shipped} links into the layer, the rest in "
                 f"{policy.name}'s system libraries")


_EXTENSION_SUFFIX = re.compile(r"\.cpython-(?P<version>\d)(?P<minor>\d+)(?P<flags>[a-z]*)-(?P<platform>[^.]+)\.so$")


def check_abi(root: Path, target: Target, infos: dict[Path, ElfInfo]) -> Check:
    """Extension modules named for the runtime's CPython (``.cpython-312-x86_64-linux-gnu.so``, abi3 or bare)."""
    wanted = f".cpython-{target.python[0]}{target.python[1]}-{target.machine}-linux-gnu.so"
    label = target.runtime or f"python{target.python_version}"
    offenders = []
    count = 0
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in sorted(filenames):
            path = Path(dirpath) / name
            match = _EXTENSION_SUFFIX.search(name)
            if match is None and not name.endswith(".abi3.so"):
                continue
            count += 1
            rel = path.relative_to(root).as_posix()
            if match is not None and not name.endswith(wanted):
                built = f"CPython {match['version']}.{match['minor']}{match['flags']} on {match['platform']}"
                offenders.append(f"{rel}: built for {built}; {label} imports only *{wanted}, *.abi3.so or *.so")
            elif path not in infos and not path.is_symlink():
                offenders.append(f"{rel}: not an ELF shared object, so {label} cannot load it")
    if offenders:
        return Check("abi", FAIL, f"{len(offenders)} of {count} extension modules cannot load under {label}",
                     tuple(offenders[:_MAX_OFFENDERS]))
    return Check("abi", PASS, f"{count} extension modules, all for CPython {target.python_version} "
                 f"({wanted.lstrip('.')} or abi3)")


def check_binaries(root: Path, target: Target, infos: dict[Path, ElfInfo]) -> list[Check]:
    """The elf, libs and abi checks, sharing one scan and one linkage of the layer."""
    policy = policy_for(target.glibc, target.machine)
    linkage = link_layer(root, {p: i for p, i in infos.items() if i.machine == target.machine}, target.machine,
                         _is_system(policy))
    return [check_elf(root, target, infos, linkage), check_libraries(root, target, infos, linkage),
            check_abi(root, target, infos)]


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
    if host_machine() != target.machine:
        return Check("import", SKIP, f"not run: {target.machine} code cannot run on this {host_machine()} "
                     "machine (the elf check still verified every binary)")
    interpreter = find_python(target.python, python)
    if interpreter is None:
        wanted = f"python{target.python_version}"
        if python:
            return Check("import", SKIP, f"not run: --python {python} is not CPython {target.python_version} "
                         "(pass the path of one)")
        return Check("import", SKIP, f"not run: no {wanted} found; {install_hint(target.python)}")
    root = root.resolve()  # the test runs in an empty temporary directory
    modules = top_level_modules(root, target)
    if not modules:
        return Check("import", SKIP, "not run: the layer has no top-level packages")
    roots = [str(root / target.site_packages), str(root / "python")]
    version = interpreter_version(str(interpreter))
    label = f"CPython {'.'.join(map(str, version[0]))}" if version else str(interpreter)
    with scratch_dir("import") as cwd:
        try:
            # -B: the tree may be the one build-layer is zipping at the same time; nothing may appear in it
            done = subprocess.run([str(interpreter), "-I", "-S", "-B", "-c", _IMPORT_SCRIPT, json.dumps(roots),
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
    try:
        versions = load_versions(Path(model_dir))
    except ModelError as exc:
        return Check("model", FAIL, exc.message, (exc.hint,))
    if record is None:
        return Check("model", FAIL, f"the layer has no {RECORD_NAME}, so its versions are unknown",
                     ("rebuild it with `lambdapack build-layer --model " + str(model_dir) + "`",))
    mismatches = version_rule.version_mismatches(versions, version_rule.layer_versions(record))
    if mismatches:
        return Check("model", FAIL, "the model was made with other library versions than the layer has",
                     tuple(m.describe() for m in mismatches))
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
                archive = Check("archive", FAIL, exc.message, (exc.hint,))
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
            checks.append(check_model(record, Path(model)))
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


