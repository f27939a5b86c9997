"""Hash-pinned requirement files for one Lambda target: ``lambdapack lock`` and ``--require-hashes``.

``lock_requirements`` resolves and fetches the wheels for a runtime/architecture exactly as
``build-layer`` does (same resolver, same cache, same tag choice) and writes a requirements
file pip understands, one ``name==version --hash=sha256:…`` per wheel, the wheel's file
name in a comment, and the target in the header:

    # lambdapack-lock: runtime=python3.12 arch=x86_64 python=3.12 glibc=2.34
    joblib==1.5.2 \\
        --hash=sha256:4e1f0bdbb987e6d843c70cf43714cb276623def372df3c22fe5266b2670bc6ee
        # joblib-1.5.2-py3-none-any.whl

``build-layer --require-hashes -r requirements.lock`` then calls :func:`verify_locked` on
what the resolver returned: every wheel must be in the lock with one of its hashes, and
every locked package must be there. A rebuild gets byte-identical inputs, or fails.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from lambdapack.archive import atomic_write_bytes, sha256_file
from lambdapack.errors import ResolveError
from lambdapack.targets import Target
from lambdapack.wheels import FetchedWheel, Inputs, ProgressFn, default_cache_dir, fetch_wheels

HEADER_KEY = "lambdapack-lock:"
_HASH_OPTION = re.compile(r"--hash[= ](?P<algo>[a-z0-9]+):(?P<digest>[0-9a-fA-F]+)")


@dataclass(frozen=True)
class HashPin:
    """One package of a lock: ``name==version``, pinned to exactly one wheel by its sha256."""

    name: str  # canonical
    version: str
    wheel: str
    sha256: str


@dataclass(frozen=True)
class LockResult:
    path: Path
    runtime: str | None
    arch: str | None
    python_version: str
    glibc: str
    packages: tuple[HashPin, ...]
    sha256: str  # of the lock file itself


@dataclass(frozen=True)
class LockFile:
    """A parsed hash-pinned requirements file: name -> (version, allowed sha256s)."""

    path: Path
    target: Mapping[str, str]  # from the header; empty for a hand-written file
    pins: Mapping[str, tuple[str, frozenset[str]]]


def _target_fields(target: Target) -> dict[str, str]:
    fields = {"python": target.python_version, "glibc": target.glibc_version}
    if target.runtime:
        fields = {"runtime": target.runtime, "arch": target.arch, **fields}
    return fields


def render_lock(wheels: Sequence[FetchedWheel], target: Target, command: str) -> str:
    header = " ".join(f"{k}={v}" for k, v in _target_fields(target).items())
    lines = [
        f"# {HEADER_KEY} {header}",
        "# Hash-pinned wheels for this Lambda target, written by lambdapack; rebuild with",
        "#   lambdapack build-layer --require-hashes -r THIS_FILE"
        + (f" --runtime {target.runtime} --arch {target.arch}" if target.runtime else ""),
        f"# {command}" if command else "#",
        "",
    ]
    for wheel in sorted(wheels, key=lambda w: w.name):
        lines += [f"{wheel.name}=={wheel.version} \\", f"    --hash=sha256:{wheel.sha256}", f"    # {wheel.filename}"]
    return "\n".join(lines) + "\n"


def lock_requirements(inputs: Inputs, target: Target, out: Path, *, resolver: str = "uv",
                      cache_dir: Path | None = None, progress: ProgressFn | None = None,
                      command: str = "") -> LockResult:
    """Resolve ``inputs`` for ``target`` and write the hash-pinned lock to ``out`` (atomically)."""
    if inputs.wheel_paths:
        raise ResolveError("a lock pins index releases, not local wheel files",
                           hint="publish the wheel to an index (or --find-links DIR) and name it as a requirement")
    wheels = fetch_wheels(inputs, target, resolver=resolver, cache_dir=cache_dir or default_cache_dir(),
                          progress=progress)
    text = render_lock(wheels, target, command)
    try:
        atomic_write_bytes(Path(out), text.encode("utf-8"))
    except OSError as exc:
        raise ResolveError(f"cannot write {out}: {exc.strerror or exc}",
                           hint="check the directory exists and is writable") from None
    packages = tuple(HashPin(w.name, w.version, w.filename, w.sha256)
                     for w in sorted(wheels, key=lambda w: w.name))
    return LockResult(Path(out), target.runtime, target.arch if target.runtime else None, target.python_version,
                      target.glibc_version, packages, sha256_file(Path(out)))


def _logical_lines(text: str) -> list[str]:
    """Join backslash continuations and drop comments, as pip does."""
    out: list[str] = []
    pending = ""
    for raw in text.splitlines():
        line = raw.split(" #", 1)[0].rstrip() if not raw.lstrip().startswith("#") else ""
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        line = (pending + line).strip()
        pending = ""
        if line:
            out.append(line)
    if pending.strip():
        out.append(pending.strip())
    return out


def read_lock(path: Path) -> LockFile:
    """Parse a hash-pinned requirements file; every requirement must be ``==``-pinned with hashes."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ResolveError(f"cannot read {path}: {exc.strerror or exc}",
                           hint="check the path of the lock file") from None
    target: dict[str, str] = {}
    for raw in text.splitlines():
        stripped = raw.lstrip("# ").strip()
        if raw.startswith("#") and stripped.startswith(HEADER_KEY):
            for item in shlex.split(stripped[len(HEADER_KEY):]):
                key, _, value = item.partition("=")
                target[key] = value
    pins: dict[str, tuple[str, frozenset[str]]] = {}
    for line in _logical_lines(text):
        if line.startswith("-"):
            raise ResolveError(f"{path}: option lines are not allowed with --require-hashes ({line.split()[0]})",
                               hint="keep index and link options on the command line; the lock holds pins only")
        hashes = {m["digest"].lower() for m in _HASH_OPTION.finditer(line) if m["algo"] == "sha256"}
        spec = _HASH_OPTION.sub("", line).strip()
        try:
            req = Requirement(spec)
        except InvalidRequirement as exc:
            raise ResolveError(f"{path}: invalid requirement {spec!r} ({exc})",
                               hint="regenerate the file with lambdapack lock") from None
        pinned = [s.version for s in req.specifier if s.operator in ("==", "===") and "*" not in s.version]
        if len(pinned) != 1 or not hashes:
            raise ResolveError(f"{path}: {spec} is not pinned with ==VERSION and --hash=sha256:…",
                               hint="with --require-hashes every requirement needs an exact version and a hash; "
                                    "regenerate the file with lambdapack lock")
        name = canonicalize_name(req.name)
        if name in pins:
            raise ResolveError(f"{path}: {name} is listed twice", hint="regenerate the file with lambdapack lock")
        pins[name] = (pinned[0], frozenset(hashes))
    if not pins:
        raise ResolveError(f"{path}: no pinned requirements", hint="create it with lambdapack lock")
    return LockFile(Path(path), target, pins)


def check_lock_target(lock: LockFile, target: Target) -> None:
    """Refuse a lock written for another runtime, architecture or Python."""
    wanted = _target_fields(target)
    clashes = [f"{k} {lock.target[k]} (building {v})" for k, v in wanted.items()
               if k in lock.target and lock.target[k] != v]
    if clashes:
        raise ResolveError(f"{lock.path} was locked for another target: {', '.join(clashes)}",
                           hint="build for the lock's target, or run lambdapack lock again for this one")


def verify_locked(wheels: Sequence[FetchedWheel], lock: LockFile) -> None:
    """Every fetched wheel is locked with its exact hash; every locked package was fetched."""
    fetched = {w.name: w for w in wheels}
    for wheel in wheels:
        if wheel.name not in lock.pins:
            raise ResolveError(f"{wheel.filename} is not in {lock.path.name}",
                               hint="the requirements changed since the lock was written; run lambdapack lock again")
        version, hashes = lock.pins[wheel.name]
        if wheel.version != version:
            raise ResolveError(f"{wheel.name} resolved to {wheel.version}, {lock.path.name} pins {version}",
                               hint="run lambdapack lock again if the change is intended")
        if wheel.sha256.lower() not in hashes:
            raise ResolveError(
                f"{wheel.filename}: sha256 {wheel.sha256[:16]}… is not a hash {lock.path.name} allows",
                hint="the index now serves different bytes for this release; investigate before re-locking")
    missing = sorted(set(lock.pins) - set(fetched))
    if missing:
        raise ResolveError(f"{lock.path.name} pins {', '.join(missing)}, which the build did not resolve",
                           hint="build with exactly the lock (-r FILE, no other requirements)")


def require_hashes_inputs(inputs: Inputs, target: Target) -> LockFile:
    """The lock that ``--require-hashes`` builds from, after refusing anything unhashed."""
    if inputs.requirements or inputs.wheel_paths:
        raise ResolveError("--require-hashes takes its requirements from -r FILE only",
                           hint="put every requirement in the lock (lambdapack lock … --out requirements.lock)")
    if len(inputs.requirement_files) != 1:
        raise ResolveError("--require-hashes needs exactly one -r FILE written by lambdapack lock",
                           hint="lambdapack lock --runtime R --arch A REQS… --out requirements.lock")
    lock = read_lock(inputs.requirement_files[0])
    check_lock_target(lock, target)
    return lock
