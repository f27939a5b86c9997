"""Resolve requirements for a target and fetch the wheel files: the uv and pip backends.

Resolving and fetching are two steps, so that a stored resolution can be fetched again
without resolving: :func:`resolve_pins` gives one :class:`PinnedWheel` per package (file,
sha256, URL), :func:`download_pinned` turns pins into :class:`FetchedWheel` files on disk
(from the content-addressed cache, else downloaded and verified), every one checked against
the target's tags.

- ``uv``: ``uv pip compile --format pylock.toml --python-platform <arch>-manylinux_<glibc>``
  resolves (uv expands the tags itself); the lock names each wheel's URL and sha256, and
  the files are downloaded into the content-addressed cache and verified.
- ``pip``: ``pip download --only-binary=:all:`` with every platform tag of the target as a
  repeated ``--platform`` (pip never expands ``manylinux_2_N`` itself), ``--python-version``,
  ``--implementation cp`` and ``--abi``. The only backend for hand-written tag sets.

The user's pip/uv configuration (indexes, certificates, proxies) is passed through: no
``--isolated`` and no ``--no-config``.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import urllib.parse
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from filelock import FileLock

from lambdapack.archive import atomic_path, sha256_file
from lambdapack.errors import ResolveError, WheelError
from lambdapack.targets import Target
from lambdapack.wheels.check import best_tag_rank, require_compatible

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib

RESOLVERS = ("uv", "pip")
_CHUNK = 1024 * 1024

# progress callback: (description, advance_bytes, total_bytes or None)
ProgressFn = Callable[[str, int, "int | None"], None]


@dataclass(frozen=True)
class FetchedWheel:
    """A verified wheel file ready to install."""

    name: str  # canonical
    version: str
    filename: str
    sha256: str
    size: int
    path: Path
    # True when the bytes matched a sha256 the index published: RECORD need not be re-hashed
    index_verified: bool = False
    url: str | None = None  # where the index serves it (None: a local file or a pip download)

    def pin(self) -> PinnedWheel:
        """What a stored resolution keeps of this wheel to fetch it again without resolving."""
        return PinnedWheel(self.name, self.version, self.filename, self.sha256, self.size, self.url,
                           None if self.url else str(self.path), self.index_verified)


@dataclass(frozen=True)
class PinnedWheel:
    """One wheel a resolution chose: enough to fetch it again without asking the resolver.

    ``url`` is where the index serves it (None for a local file or a pip download, which the
    content-addressed store holds); ``path`` is a local wheel file named by the user.
    """

    name: str  # canonical
    version: str
    filename: str
    sha256: str | None
    size: int | None = None
    url: str | None = None
    path: str | None = None
    index_verified: bool = False  # the sha256 is the index's own (uv's lock), not one we computed


@dataclass(frozen=True)
class Inputs:
    """What the user asked for: requirement strings, requirement files, local wheels, link dirs."""

    requirements: tuple[str, ...] = ()
    requirement_files: tuple[Path, ...] = ()
    wheel_paths: tuple[Path, ...] = ()
    find_links: tuple[Path, ...] = ()


def split_inputs(items: Sequence[str]) -> tuple[list[str], list[Path]]:
    """Separate requirement strings from local wheel paths (``./x.whl``, ``/abs/y.whl``)."""
    requirements: list[str] = []
    paths: list[Path] = []
    for item in items:
        looks_like_path = item.endswith((".whl", ".tar.gz", ".zip")) or os.sep in item
        if looks_like_path and "://" not in item and " @ " not in item:
            path = Path(item).expanduser()
            if path.is_dir():
                raise WheelError(f"{item} is a source directory, not a wheel",
                                 hint=f"build a wheel first (`pip wheel --no-deps -w wheels {item}`) and pass it")
            if not path.is_file():
                raise WheelError(f"{item}: no such file", hint="check the path of the wheel")
            paths.append(path.resolve())
        else:
            requirements.append(item)
    return requirements, paths


def run_tool(cmd: list[str], *, on_line: Callable[[str], None] | None = None) -> tuple[int, str]:
    """Run a resolver subprocess; return (exit code, combined output)."""
    try:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                stdin=subprocess.DEVNULL, env={**os.environ, "PYTHONIOENCODING": "utf-8"})
    except OSError as exc:
        raise ResolveError(f"cannot run {cmd[0]}: {exc.strerror or exc}",
                           hint="reinstall lambdapack so its resolver is present") from None
    lines: list[str] = []
    assert proc.stdout is not None
    for line in proc.stdout:
        lines.append(line)
        if on_line:
            on_line(line.rstrip())
    return proc.wait(), "".join(lines)


# ---------------------------------------------------------------- content-addressed store

def _store_path(cache_dir: Path, sha256: str, filename: str) -> Path:
    return cache_dir / "wheels" / sha256[:2] / sha256 / filename


@contextlib.contextmanager
def _locked(cache_dir: Path, key: str) -> Iterator[None]:
    locks = cache_dir / "locks"
    locks.mkdir(parents=True, exist_ok=True)
    with FileLock(str(locks / f"{key}.lock"), timeout=600):
        yield


def _download(url: str, sha256: str, filename: str, cache_dir: Path, progress: ProgressFn | None,
              size: int | None) -> Path:
    """Fetch ``url`` into the store unless a verified copy is already there."""
    dest = _store_path(cache_dir, sha256, filename)
    if dest.is_file():
        if progress:
            progress(filename, size or dest.stat().st_size, size)
        return dest
    import urllib.error  # http.client and friends: only a download needs them
    import urllib.request

    with _locked(cache_dir, sha256):
        if dest.is_file():  # another build fetched it while we waited
            return dest
        digest = hashlib.sha256()
        try:
            # the file appears under its final name only once complete and verified
            with atomic_path(dest) as tmp:
                with open(tmp, "wb") as out, urllib.request.urlopen(url, timeout=120) as resp:
                    for chunk in iter(lambda: resp.read(_CHUNK), b""):
                        digest.update(chunk)
                        out.write(chunk)
                        if progress:
                            progress(filename, len(chunk), size)
                if digest.hexdigest() != sha256:
                    raise HashMismatch(filename, sha256, digest.hexdigest())
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", None) or getattr(exc, "strerror", None) or exc
            raise ResolveError(f"cannot download {filename}: {reason}",
                               hint="check your network connection, proxy and index settings") from None
    return dest


class HashMismatch(WheelError):
    """A downloaded file's sha256 is not the one its resolution (or lock) recorded."""

    def __init__(self, filename: str, expected: str, got: str) -> None:
        super().__init__(f"{filename}: sha256 mismatch (expected {expected[:12]}…, got {got[:12]}…)",
                         hint="the download was corrupted or tampered with; retry the build")
        self.filename, self.expected, self.got = filename, expected, got


def _local_wheel(path: Path, expected: str | None) -> tuple[Path, str]:
    try:
        digest = sha256_file(path)
    except OSError as exc:
        raise WheelError(f"cannot read {path}: {exc.strerror or exc}", hint="check the path") from None
    if expected and digest != expected:
        raise WheelError(f"{path.name}: sha256 mismatch with the resolver's record",
                         hint="the file changed during the build; retry")
    return path, digest


# ---------------------------------------------------------------- uv backend

def uv_binary() -> str:
    try:
        from uv import find_uv_bin
        return find_uv_bin()
    except (ImportError, FileNotFoundError):
        found = shutil.which("uv")
        if found:
            return found
        raise ResolveError("the uv resolver is not installed",
                           hint="pip install uv, or use --resolver pip") from None


def _requirements_file(workdir: Path, inputs: Inputs) -> Path:
    lines = [*inputs.requirements, *(str(p) for p in inputs.wheel_paths)]
    path = workdir / "requirements.in"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _pick_wheel(entry: dict, target: Target) -> dict:
    wheels = list(entry.get("wheels") or [])
    archive = entry.get("archive")
    if archive:
        wheels.append(archive)
    if not wheels:
        raise WheelError(f"{entry.get('name')} {entry.get('version')} has no wheel for {target.label}",
                         hint="Lambda layers need prebuilt wheels; pin a release that publishes them")

    def filename(w: dict) -> str:
        return Path(urllib.parse.urlparse(w["url"]).path).name if "url" in w else Path(w["path"]).name

    ranked = []
    for w in wheels:
        try:
            rank = best_tag_rank(require_compatible(filename(w), target).tags, target)
        except WheelError:
            continue
        ranked.append((rank, filename(w), w))
    if not ranked:
        require_compatible(filename(wheels[0]), target)  # raises with the precise reason
    ranked.sort(key=lambda r: (r[0], r[1]))
    return {**ranked[0][2], "filename": ranked[0][1]}


def _uv_lock_text(pins: Sequence[PinnedWheel]) -> str:
    """A minimal pylock.toml naming ``pins``: uv reads an existing output file as its preferences."""
    lines = ['lock-version = "1.0"', 'created-by = "lambdapack"', ""]
    for pin in sorted(pins, key=lambda p: p.name):
        lines += ["[[packages]]", f'name = "{pin.name}"', f'version = "{pin.version}"', ""]
    return "\n".join(lines)


def resolve_with_uv(inputs: Inputs, target: Target, cache_dir: Path, progress: ProgressFn | None = None, *,
                    preferences: Sequence[PinnedWheel] = (), upgrade: Sequence[str] = ()) -> list[PinnedWheel]:
    """uv's choice of one wheel per package for ``target``; nothing is downloaded here.

    ``preferences`` (an earlier resolution) are kept unless ``upgrade`` names the package:
    uv treats an existing output file as the versions to prefer (``--upgrade-package``).
    """
    with tempfile.TemporaryDirectory(prefix="lambdapack-uv-") as tmp:
        workdir = Path(tmp)
        lock = workdir / "pylock.toml"
        if preferences:
            lock.write_text(_uv_lock_text(preferences), encoding="utf-8")
        cmd = [uv_binary(), "pip", "compile", "--format", "pylock.toml", "--no-header",
               "--python-platform", target.uv_platform, "--python-version", target.python_version,
               "--only-binary", ":all:", "--no-python-downloads", "--cache-dir", str(cache_dir / "uv"),
               "-o", str(lock), str(_requirements_file(workdir, inputs)),
               *(str(f) for f in inputs.requirement_files)]
        for link in inputs.find_links:
            cmd += ["--find-links", str(link)]
        for name in upgrade:
            cmd += ["--upgrade-package", name]
        if progress:
            progress("resolving with uv", 0, None)
        code, output = run_tool(cmd)
        if code != 0:
            from lambdapack.wheels.diagnose import resolve_failure
            raise resolve_failure(output, target, "uv", inputs)
        try:
            packages = tomllib.loads(lock.read_text(encoding="utf-8")).get("packages", [])
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise ResolveError(f"uv wrote an unreadable lock file ({exc})",
                               hint="retry with --resolver pip and report this") from None
    return [_pin_from_lock_entry(entry, _pick_wheel(entry, target), target) for entry in packages]


def _pin_from_lock_entry(entry: dict, wheel: dict, target: Target) -> PinnedWheel:
    name = require_compatible(wheel["filename"], target)
    expected = (wheel.get("hashes") or {}).get("sha256")
    url = wheel.get("url")
    if url and not url.startswith("file:"):
        if not expected:
            raise WheelError(f"{wheel['filename']}: the index gives no sha256",
                             hint="use an index that publishes hashes (PyPI does), or --resolver pip")
        return PinnedWheel(name.name, name.version, wheel["filename"], expected, wheel.get("size"), url,
                           index_verified=True)
    from urllib.request import url2pathname

    local = Path(url2pathname(urllib.parse.urlparse(url).path)) if url else Path(wheel["path"])
    return PinnedWheel(name.name, name.version, wheel["filename"], expected, wheel.get("size"), path=str(local))


def locate_wheels(pins: Sequence[PinnedWheel], target: Target, cache_dir: Path, *,
                  lock_name: str = "the lock") -> list[PinnedWheel]:
    """Fill in where the index serves each pin's exact file (matched by sha256).

    For locks that record names and hashes but no URLs (poetry.lock): uv lists the files
    of each ``name==version`` without resolving dependencies. A hash the index does not
    serve means the lock is stale, or the index changed under it.
    """
    missing = [p for p in pins if p.url is None and p.path is None]
    with tempfile.TemporaryDirectory(prefix="lambdapack-uv-") as tmp:
        workdir = Path(tmp)
        lock = workdir / "pylock.toml"
        pinned = Inputs(tuple(f"{p.name}=={p.version}" for p in missing))
        cmd = [uv_binary(), "pip", "compile", "--format", "pylock.toml", "--no-header", "--no-deps",
               "--python-platform", target.uv_platform, "--python-version", target.python_version,
               "--only-binary", ":all:", "--no-python-downloads", "--cache-dir", str(cache_dir / "uv"),
               "-o", str(lock), str(_requirements_file(workdir, pinned))]
        code, output = run_tool(cmd)
        if code != 0:
            from lambdapack.wheels.diagnose import resolve_failure
            raise resolve_failure(output, target, "uv", pinned)
        packages = tomllib.loads(lock.read_text(encoding="utf-8")).get("packages", [])
    served: dict[str, dict] = {}
    for entry in packages:
        for wheel in entry.get("wheels") or []:
            digest = (wheel.get("hashes") or {}).get("sha256")
            if digest:
                served[digest.lower()] = wheel
    out: list[PinnedWheel] = []
    for pin in pins:
        if pin in missing:
            wheel = served.get((pin.sha256 or "").lower())
            if wheel is None or not wheel.get("url"):
                raise ResolveError(f"{lock_name} pins {pin.filename} with sha256 {(pin.sha256 or '')[:16]}…, "
                                   "which the index does not serve",
                                   hint="the lock is stale or the index changed: lock the project again, and "
                                        "only build from it once you trust the new files")
            pin = PinnedWheel(pin.name, pin.version, pin.filename, pin.sha256, wheel.get("size"), wheel["url"],
                              index_verified=True)
        out.append(pin)
    return out


class MissingWheel(ResolveError):
    """A pinned wheel is neither in the cache, nor at a URL, nor at its local path any more."""


def download_pinned(pins: Sequence[PinnedWheel], target: Target, cache_dir: Path,
                    progress: ProgressFn | None = None) -> list[FetchedWheel]:
    """The wheel files of ``pins``: from the content-addressed cache, else downloaded and verified.

    A pin whose bytes the cache already holds costs no network request at all; that is what
    makes a rebuild from a stored resolution work offline.
    """
    def fetch(pin: PinnedWheel) -> FetchedWheel:
        require_compatible(pin.filename, target)
        stored = _store_path(cache_dir, pin.sha256, pin.filename) if pin.sha256 else None
        if stored is not None and stored.is_file():
            if progress:
                progress(pin.filename, pin.size or stored.stat().st_size, pin.size)
            path, digest, verified = stored, pin.sha256, pin.index_verified
        elif pin.url:
            if not pin.sha256:
                raise WheelError(f"{pin.filename}: no sha256 to verify the download against",
                                 hint="use an index that publishes hashes (PyPI does), or --resolver pip")
            path = _download(pin.url, pin.sha256, pin.filename, cache_dir, progress, pin.size)
            digest, verified = pin.sha256, pin.index_verified
        elif pin.path and Path(pin.path).is_file():
            path, digest = _local_wheel(Path(pin.path), pin.sha256)
            verified = False
            if progress:
                progress(pin.filename, path.stat().st_size, None)
        else:
            raise MissingWheel(f"{pin.filename} is no longer in the wheel cache",
                               hint="resolve again (--upgrade), or restore the cache directory")
        assert digest is not None
        return FetchedWheel(pin.name, pin.version, pin.filename, digest, path.stat().st_size, path, verified,
                            url=pin.url)

    # downloads are network-bound: a few at once hides each one's latency
    with ThreadPoolExecutor(max_workers=8) as pool:
        return sorted(pool.map(fetch, pins), key=lambda w: w.name)


# ---------------------------------------------------------------- pip backend

def pip_target_args(target: Target) -> list[str]:
    """pip's target-interpreter options for ``target`` (every platform tag, spelled out)."""
    args = ["--only-binary=:all:", "--python-version", target.python_version, "--implementation", "cp"]
    for platform in target.platforms:
        args += ["--platform", platform]
    for abi in target.abis:
        args += ["--abi", abi]
    return args


_COLLECTING = re.compile(r"^Collecting (\S+)")


def resolve_with_pip(inputs: Inputs, target: Target, cache_dir: Path, progress: ProgressFn | None = None, *,
                     preferences: Sequence[PinnedWheel] = (), upgrade: Sequence[str] = ()) -> list[PinnedWheel]:
    """pip's choice for ``target``; pip downloads as it resolves, so the wheels land in the store here.

    pip has no notion of preferred versions: an earlier resolution's versions become
    constraints, except for the packages in ``upgrade``.
    """
    staging_root = cache_dir / "tmp"
    staging_root.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="pip-", dir=staging_root) as tmp:
        download_dir = Path(tmp) / "wheels"
        cmd = [sys.executable, "-m", "pip", "download", "--no-input", "--progress-bar", "off",
               "--disable-pip-version-check", "-d", str(download_dir), "--cache-dir", str(cache_dir / "pip"),
               *pip_target_args(target)]
        kept = [p for p in preferences if p.name not in set(upgrade)]
        if kept:
            constraints = Path(tmp) / "constraints.txt"
            constraints.write_text("".join(f"{p.name}=={p.version}\n" for p in kept), encoding="utf-8")
            cmd += ["-c", str(constraints)]
        for link in inputs.find_links:
            cmd += ["--find-links", str(link)]
        for req_file in inputs.requirement_files:
            cmd += ["-r", str(req_file)]
        cmd += [*inputs.requirements, *(str(p) for p in inputs.wheel_paths)]

        def on_line(line: str) -> None:
            match = _COLLECTING.match(line)
            if match and progress:
                progress(f"pip: collecting {match[1]}", 0, None)

        if progress:
            progress("resolving with pip", 0, None)
        code, output = run_tool(cmd, on_line=on_line)
        if code != 0:
            from lambdapack.wheels.diagnose import resolve_failure
            raise resolve_failure(output, target, "pip", inputs)
        pins: list[PinnedWheel] = []
        for path in sorted(download_dir.iterdir()):
            name = require_compatible(path.name, target)  # refuses sdists and foreign wheels
            digest = sha256_file(path)
            dest = _store_path(cache_dir, digest, path.name)
            with _locked(cache_dir, digest):
                if not dest.is_file():
                    dest.parent.mkdir(parents=True, exist_ok=True)
                    os.replace(path, dest)
            pins.append(PinnedWheel(name.name, name.version, path.name, digest, dest.stat().st_size))
    return sorted(pins, key=lambda p: p.name)


def resolve_pins(inputs: Inputs, target: Target, *, resolver: str = "uv", cache_dir: Path,
                 progress: ProgressFn | None = None, preferences: Sequence[PinnedWheel] = (),
                 upgrade: Sequence[str] = ()) -> list[PinnedWheel]:
    """Resolve ``inputs`` for ``target`` with ``resolver``: one pinned wheel per package."""
    if resolver not in RESOLVERS:
        raise ResolveError(f"unknown resolver {resolver!r}", hint="choose uv or pip")
    for path in inputs.wheel_paths:
        require_compatible(path.name, target)  # fail before any network traffic
    if resolver == "uv" and target.runtime is None:
        raise ResolveError("uv cannot resolve for a hand-written tag set (--platform/--abi)",
                           hint="use --resolver pip with --platform, or --runtime/--arch with uv")
    cache_dir.mkdir(parents=True, exist_ok=True)
    backend = resolve_with_uv if resolver == "uv" else resolve_with_pip
    pins = backend(inputs, target, cache_dir, progress, preferences=preferences, upgrade=upgrade)
    if not pins:
        raise ResolveError("nothing to install", hint="name at least one requirement or wheel")
    return pins


def fetch_wheels(inputs: Inputs, target: Target, *, resolver: str = "uv", cache_dir: Path,
                 progress: ProgressFn | None = None) -> list[FetchedWheel]:
    """Resolve ``inputs`` for ``target`` with ``resolver`` and return verified wheel files."""
    pins = resolve_pins(inputs, target, resolver=resolver, cache_dir=cache_dir, progress=progress)
    return download_pinned(pins, target, cache_dir, progress)
