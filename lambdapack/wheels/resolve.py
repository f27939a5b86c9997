"""Resolve requirements for a target: one pinned wheel per package, with uv or with pip.

:func:`resolve_pins` gives one :class:`~lambdapack.wheels.pins.PinnedWheel` per package (file,
sha256, URL); :mod:`lambdapack.wheels.store` fetches them. Keeping the two apart lets a stored
resolution be installed again without resolving. Before either resolver runs, GPU builds in
the inputs become their CPU-only builds (:mod:`lambdapack.wheels.cpu_only`), and a resolution
that still holds a CUDA/NCCL wheel is refused.

- ``uv``: ``uv pip compile --format pylock.toml --python-platform <arch>-manylinux_<glibc>``
  (uv expands the tags itself); the lock names each wheel's URL and sha256, and nothing is
  downloaded here.
- ``pip``: ``pip download --only-binary=:all:`` with every platform tag of the target spelled
  out; pip downloads as it resolves, so its wheels go straight into the store. The only
  backend for hand-written tag sets.
"""

from __future__ import annotations

import sys
import tempfile
import urllib.parse
from collections.abc import Sequence
from pathlib import Path

from lambdapack.errors import ResolveError, WheelError
from lambdapack.targets import Target
from lambdapack.wheels.check import best_tag_rank, require_compatible
from lambdapack.wheels.cpu_only import CPU_ONLY_BUILDS, cpu_only_inputs, refuse_gpu_wheels
from lambdapack.wheels.diagnose import resolve_failure
from lambdapack.wheels.pins import Inputs, PinnedWheel, ProgressFn
from lambdapack.wheels.store import store_file
from lambdapack.wheels.tools import pip_target_args, run_tool, uv_compile_command

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib

RESOLVERS = ("uv", "pip")


# ---------------------------------------------------------------- uv backend

def _requirements_file(workdir: Path, inputs: Inputs) -> Path:
    lines = [*inputs.requirements, *(str(p) for p in inputs.wheel_paths)]
    path = workdir / "requirements.in"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _wheel_filename(wheel: dict) -> str:
    return Path(urllib.parse.urlparse(wheel["url"]).path).name if "url" in wheel else Path(wheel["path"]).name


def _pick_wheel(entry: dict, target: Target) -> dict:
    wheels = list(entry.get("wheels") or [])
    archive = entry.get("archive")
    if archive:
        wheels.append(archive)
    if not wheels:
        raise WheelError(f"{entry.get('name')} {entry.get('version')} has no wheel for {target.label}",
                         hint="Lambda layers need prebuilt wheels; pin a release that publishes them")
    ranked = []
    for w in wheels:
        try:
            rank = best_tag_rank(require_compatible(_wheel_filename(w), target).tags, target)
        except WheelError:
            continue
        ranked.append((rank, _wheel_filename(w), w))
    if not ranked:
        require_compatible(_wheel_filename(wheels[0]), target)  # raises with the precise reason
    ranked.sort(key=lambda r: (r[0], r[1]))
    return {**ranked[0][2], "filename": ranked[0][1]}


def _uv_lock_text(pins: Sequence[PinnedWheel]) -> str:
    """A minimal pylock.toml naming ``pins``: uv reads an existing output file as its preferences."""
    lines = ['lock-version = "1.0"', 'created-by = "lambdapack"', ""]
    for pin in sorted(pins, key=lambda p: p.name):
        lines += ["[[packages]]", f'name = "{pin.name}"', f'version = "{pin.version}"', ""]
    return "\n".join(lines)


def _uv_compile(inputs: Inputs, target: Target, cache_dir: Path, workdir: Path, *, preferences: Sequence[PinnedWheel],
                upgrade: Sequence[str] = (), no_deps: bool = False) -> list[dict]:
    """Run uv's resolver on ``inputs`` in ``workdir``; the ``packages`` of the lock it wrote."""
    lock = workdir / "pylock.toml"
    if preferences:
        lock.write_text(_uv_lock_text(preferences), encoding="utf-8")
    sources = [_requirements_file(workdir, inputs), *inputs.requirement_files]
    code, output = run_tool(uv_compile_command(target, cache_dir, lock, sources, find_links=inputs.find_links,
                                               upgrade=upgrade, no_deps=no_deps))
    if code != 0:
        raise resolve_failure(output, target, "uv", inputs)
    try:
        return list(tomllib.loads(lock.read_text(encoding="utf-8")).get("packages", []))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ResolveError(f"uv wrote an unreadable lock file ({exc})",
                           hint="retry with --resolver pip and report this") from None


def resolve_with_uv(inputs: Inputs, target: Target, cache_dir: Path, progress: ProgressFn | None = None, *,
                    preferences: Sequence[PinnedWheel] = (), upgrade: Sequence[str] = ()) -> list[PinnedWheel]:
    """uv's choice of one wheel per package for ``target``; nothing is downloaded here.

    ``preferences`` (an earlier resolution) are kept unless ``upgrade`` names the package:
    uv treats an existing output file as the versions to prefer (``--upgrade-package``).
    """
    if progress:
        progress("resolving with uv", 0, None)
    with tempfile.TemporaryDirectory(prefix="lambdapack-uv-") as tmp:
        packages = _uv_compile(inputs, target, cache_dir, Path(tmp), preferences=preferences, upgrade=upgrade)
    return [_pin_from_lock_entry(_pick_wheel(entry, target), target) for entry in packages]


def _pin_from_lock_entry(wheel: dict, target: Target) -> PinnedWheel:
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


def _served_by_sha256(packages: list[dict]) -> dict[str, dict]:
    served: dict[str, dict] = {}
    for entry in packages:
        for wheel in entry.get("wheels") or []:
            digest = (wheel.get("hashes") or {}).get("sha256")
            if digest:
                served[digest.lower()] = wheel
    return served


def locate_wheels(pins: Sequence[PinnedWheel], target: Target, cache_dir: Path, *,
                  lock_name: str = "the lock") -> list[PinnedWheel]:
    """Fill in where the index serves each pin's exact file (matched by sha256).

    For locks that record names and hashes but no URLs (poetry.lock): uv lists the files
    of each ``name==version`` without resolving dependencies. A hash the index does not
    serve means the lock is stale, or the index changed under it.
    """
    missing = [p for p in pins if p.url is None and p.path is None]
    pinned = Inputs(tuple(f"{p.name}=={p.version}" for p in missing))
    with tempfile.TemporaryDirectory(prefix="lambdapack-uv-") as tmp:
        served = _served_by_sha256(_uv_compile(pinned, target, cache_dir, Path(tmp), preferences=(), no_deps=True))
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


# ---------------------------------------------------------------- pip backend

def _pip_download_command(inputs: Inputs, target: Target, cache_dir: Path, download_dir: Path,
                          constraints: Path | None) -> list[str]:
    cmd = [sys.executable, "-m", "pip", "download", "--no-input", "--progress-bar", "off",
           "--disable-pip-version-check", "-d", str(download_dir), "--cache-dir", str(cache_dir / "pip"),
           *pip_target_args(target)]
    if constraints is not None:
        cmd += ["-c", str(constraints)]
    for link in inputs.find_links:
        cmd += ["--find-links", str(link)]
    for req_file in inputs.requirement_files:
        cmd += ["-r", str(req_file)]
    return [*cmd, *inputs.requirements, *(str(p) for p in inputs.wheel_paths)]


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
        constraints = None
        kept = [p for p in preferences if p.name not in set(upgrade)]
        if kept:
            constraints = Path(tmp) / "constraints.txt"
            constraints.write_text("".join(f"{p.name}=={p.version}\n" for p in kept), encoding="utf-8")

        def on_line(line: str) -> None:
            if progress and line.startswith("Collecting "):
                progress(f"pip: collecting {line.split()[1]}", 0, None)

        if progress:
            progress("resolving with pip", 0, None)
        code, output = run_tool(_pip_download_command(inputs, target, cache_dir, download_dir, constraints),
                                on_line=on_line)
        if code != 0:
            raise resolve_failure(output, target, "pip", inputs)
        pins: list[PinnedWheel] = []
        for path in sorted(download_dir.iterdir()):
            name = require_compatible(path.name, target)  # refuses sdists and foreign wheels
            dest, digest = store_file(cache_dir, path)
            pins.append(PinnedWheel(name.name, name.version, path.name, digest, dest.stat().st_size))
    return sorted(pins, key=lambda p: p.name)


def resolve_pins(inputs: Inputs, target: Target, *, resolver: str = "uv", cache_dir: Path,
                 progress: ProgressFn | None = None, preferences: Sequence[PinnedWheel] = (),
                 upgrade: Sequence[str] = ()) -> list[PinnedWheel]:
    """Resolve ``inputs`` for ``target`` with ``resolver``: one pinned wheel per package, no CUDA/NCCL wheel."""
    if resolver not in RESOLVERS:
        raise ResolveError(f"unknown resolver {resolver!r}", hint="choose uv or pip")
    for path in inputs.wheel_paths:
        require_compatible(path.name, target)  # fail before any network traffic
    if resolver == "uv" and target.runtime is None:
        raise ResolveError("uv cannot resolve for a hand-written tag set (--platform/--abi)",
                           hint="use --resolver pip with --platform, or --runtime/--arch with uv")
    cache_dir.mkdir(parents=True, exist_ok=True)
    backend = resolve_with_uv if resolver == "uv" else resolve_with_pip
    # --upgrade-package xgboost upgrades what the layer holds of it: xgboost-cpu
    upgrade = [CPU_ONLY_BUILDS.get(name, name) for name in upgrade]
    with tempfile.TemporaryDirectory(prefix="lambdapack-inputs-") as tmp:
        cpu_inputs, _ = cpu_only_inputs(inputs, Path(tmp))
        pins = backend(cpu_inputs, target, cache_dir, progress, preferences=preferences, upgrade=upgrade)
    if not pins:
        raise ResolveError("nothing to install", hint="name at least one requirement or wheel")
    refuse_gpu_wheels((p.name for p in pins), "the resolution of these requirements")
    return pins
