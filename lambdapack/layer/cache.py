"""What build-layer remembers between runs: resolutions, and finished layers with their check verdicts.

Two caches, each keyed by exactly what decides its content:

- :class:`ResolutionCache`: what a set of inputs resolved to (one pinned wheel per package,
  with its sha256 and URL), keyed by :func:`resolution_key` — the requirement strings, the
  bytes of requirement files and local wheels, the ``--find-links`` listings, the target,
  the resolver, the index settings in the environment and lambdapack's version. A rebuild
  of unchanged inputs installs that pin set from the wheel cache without asking the index
  anything; ``--upgrade`` / ``--upgrade-package`` resolve again.
- :class:`LayerCache`: finished layer zips keyed by :func:`layer_key` — the pinned wheels'
  sha256s, the target, the options, the compiling CPython's version, the strip tool,
  ``SOURCE_DATE_EPOCH``, lambdapack's version and :data:`LAYER_FORMAT`. The check-layer verdict
  is kept beside each zip, per interpreter. A zip is verified by sha256 while it is copied out.

The layer key holds lambdapack's *version*, not a digest of its source files: a digest
made every edit to any hashed module — check-layer's or the archive reader's, which never
change a layer's bytes — a cache miss, and in a working tree where those files are edited
while builds run, that was the intermittent 40-60 s warm rebuild. :data:`LAYER_FORMAT` is
bumped by hand when a change to the builder changes what a layer holds.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from filelock import FileLock

from lambdapack import __version__
from lambdapack.archive import atomic_path, atomic_write_bytes, sha256_file
from lambdapack.targets import Target
from lambdapack.wheels.fetch import Inputs, PinnedWheel

# bump when a builder change (slim rules, install layout, pyc options, record fields…) changes
# the bytes of a layer built from the same wheels; lambdapack's version is in the key as well
LAYER_FORMAT = 4  # 4: unchanged wheel files keep their wheel's deflate stream (3: fixed pyc file lists)
KEEP = 8  # finished layers kept (each ~50-65 MB for the scikit-learn stack)
KEEP_RESOLUTIONS = 256  # a few kB each

# environment settings that change what an index offers (not how it is reached: proxies,
# certificates and UV_OFFLINE are left out, so they do not invalidate a resolution)
INDEX_ENV = ("UV_INDEX_URL", "UV_EXTRA_INDEX_URL", "UV_DEFAULT_INDEX", "UV_INDEX", "UV_FIND_LINKS", "UV_NO_INDEX",
             "UV_CONSTRAINT", "UV_OVERRIDE", "UV_PRERELEASE", "UV_RESOLUTION", "UV_EXCLUDE_NEWER",
             "UV_INDEX_STRATEGY", "PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL", "PIP_FIND_LINKS", "PIP_NO_INDEX",
             "PIP_CONSTRAINT", "PIP_PRE", "PIP_CONFIG_FILE")


def _digest(parts: Mapping[str, object]) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()


def _requirement_file_fingerprint(path: Path, seen: set[Path]) -> list:
    """The bytes of a requirements file and of every file it includes (``-r``/``-c``), recursively."""
    path = Path(path).resolve()
    if path in seen:
        return []
    seen.add(path)
    try:
        data = path.read_bytes()
    except OSError:
        return [str(path), None]  # the resolver reports it; an unreadable file never matches a stored key
    out: list = [hashlib.sha256(data).hexdigest()]
    for line in data.decode("utf-8", "replace").splitlines():
        words = line.strip().split()
        if len(words) >= 2 and words[0] in ("-r", "--requirement", "-c", "--constraint"):
            out.append(_requirement_file_fingerprint(path.parent / words[1], seen))
        elif words and words[0].startswith(("--requirement=", "--constraint=")):
            out.append(_requirement_file_fingerprint(path.parent / words[0].split("=", 1)[1], seen))
    return out


def _links_fingerprint(directory: Path) -> list:
    """A ``--find-links`` directory's listing: a new, removed or rewritten wheel changes it."""
    try:
        entries = sorted(os.scandir(directory), key=lambda e: e.name)
    except OSError:
        return [str(directory), None]
    return [(e.name, e.stat().st_size, e.stat().st_mtime_ns) for e in entries if e.is_file()]


def _target_parts(target: Target) -> list:
    return [target.runtime, target.arch, list(target.python), list(target.glibc), list(target.platforms),
            list(target.abis)]


def resolution_key(inputs: Inputs, target: Target, resolver: str, extra: Mapping[str, object] | None = None) -> str:
    """Everything that decides what a resolve returns, short of the index's own contents."""
    seen: set[Path] = set()
    return _digest({
        "requirements": sorted(inputs.requirements),
        "requirement_files": [_requirement_file_fingerprint(f, seen) for f in inputs.requirement_files],
        "wheels": sorted((p.name, sha256_file(p)) for p in inputs.wheel_paths),
        "find_links": [_links_fingerprint(d) for d in inputs.find_links],
        "target": _target_parts(target),
        "resolver": resolver,
        "index": {k: os.environ[k] for k in INDEX_ENV if k in os.environ},
        "lambdapack": __version__,
        **(extra or {}),
    })


def layer_key(target: Target, wheels: Iterable[tuple[str, str, str, str]], options: Mapping[str, object]) -> str:
    """Everything that decides a layer zip's bytes: ``wheels`` are (name, version, filename, sha256)."""
    return _digest({"target": _target_parts(target), "wheels": sorted(list(w) for w in wheels), **options,
                    "lambdapack": __version__, "format": LAYER_FORMAT})


def _prune(root: Path, keep: int) -> None:
    """Keep the ``keep`` most recently used entries (``KEY.json``) and every file of theirs."""
    metas = [m for m in root.glob("*.json") if m.name.count(".") == 1]
    metas.sort(key=lambda p: p.stat().st_mtime, reverse=True)
    for stale in metas[keep:]:
        for path in root.glob(f"{stale.stem}.*"):
            with contextlib.suppress(FileNotFoundError):
                path.unlink()


@dataclass(frozen=True)
class CachedLayer:
    zip_path: Path
    meta: dict


class LayerCache:
    def __init__(self, cache_dir: Path) -> None:
        self.root = Path(cache_dir) / "layers"

    def _lock(self) -> FileLock:
        self.root.mkdir(parents=True, exist_ok=True)
        return FileLock(str(self.root / ".lock"), timeout=600)

    def get(self, key: str) -> CachedLayer | None:
        """The cached layer for ``key`` (not yet verified: :meth:`copy_out` checks its sha256)."""
        zip_path = self.root / f"{key}.zip"
        meta_path = self.root / f"{key}.json"
        try:
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        if not zip_path.is_file() or zip_path.stat().st_size != meta.get("zip_bytes"):
            return None
        with contextlib.suppress(OSError):
            os.utime(meta_path)  # most recently used survives pruning
        return CachedLayer(zip_path, meta)

    def copy_out(self, hit: CachedLayer, dest: Path) -> bool:
        """Copy the cached zip to ``dest`` and verify the copy's sha256; False (and the entry
        dropped) when the bytes are not what was stored."""
        shutil.copyfile(hit.zip_path, dest)  # in the kernel (sendfile/copy_file_range)
        if sha256_file(dest) == hit.meta.get("sha256"):
            return True
        with contextlib.suppress(FileNotFoundError):
            hit.zip_path.unlink()
        return False

    def _placed(self, key: str, out: Path) -> Path:
        where = hashlib.sha256(str(Path(out).resolve()).encode()).hexdigest()[:16]
        return self.root / f"{key}.out-{where}.json"

    @staticmethod
    def _signature(out: Path) -> list[int] | None:
        try:
            st = Path(out).stat()
        except OSError:
            return None
        return [st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns]

    def in_place(self, key: str, out: Path) -> bool:
        """True when ``out`` is still the file this cache entry was last written to (same inode,
        size and mtime as then): the build can leave it as it is, make-style."""
        signature = self._signature(out)
        try:
            recorded = json.loads(self._placed(key, out).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return False
        return signature is not None and recorded == signature

    def mark_in_place(self, key: str, out: Path) -> None:
        signature = self._signature(out)
        if signature is not None:
            with contextlib.suppress(OSError):
                atomic_write_bytes(self._placed(key, out), json.dumps(signature).encode())

    def put(self, key: str, zip_path: Path, meta: dict) -> None:
        with self._lock():
            with atomic_path(self.root / f"{key}.zip") as tmp:
                shutil.copyfile(zip_path, tmp)
            atomic_write_bytes(self.root / f"{key}.json", json.dumps(meta, indent=1).encode())
            _prune(self.root, KEEP)

    def get_check(self, key: str, checker: str) -> dict | None:
        try:
            return json.loads((self.root / f"{key}.check-{checker}.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None

    def put_check(self, key: str, checker: str, report: dict) -> None:
        with self._lock():
            atomic_write_bytes(self.root / f"{key}.check-{checker}.json", json.dumps(report, indent=1).encode())


class ResolutionCache:
    """Resolutions by :func:`resolution_key`: one small JSON file each, written atomically."""

    def __init__(self, cache_dir: Path) -> None:
        self.root = Path(cache_dir) / "resolutions"

    def get(self, key: str) -> tuple[PinnedWheel, ...] | None:
        path = self.root / f"{key}.json"
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
            pins = tuple(PinnedWheel(**w) for w in doc["wheels"])
        except (OSError, ValueError, KeyError, TypeError):
            return None
        with contextlib.suppress(OSError):
            os.utime(path)
        return pins or None

    def put(self, key: str, pins: Sequence[PinnedWheel], about: Mapping[str, object]) -> None:
        doc = {"about": dict(about), "wheels": [asdict(p) for p in sorted(pins, key=lambda p: p.name)]}
        self.root.mkdir(parents=True, exist_ok=True)
        with FileLock(str(self.root / ".lock"), timeout=600):
            atomic_write_bytes(self.root / f"{key}.json", json.dumps(doc, indent=1).encode())
            _prune(self.root, KEEP_RESOLUTIONS)
