"""A cache of finished layer zips, keyed by everything that decides their bytes.

A layer zip is a pure function of its inputs (wheel sha256s, target, options, the
compiling interpreter, the strip tool, ``SOURCE_DATE_EPOCH`` and lambdapack's own layer
code), so a rebuild with the same inputs can reuse the zip instead of unpacking,
slimming, compiling and compressing ~200 MB again. The check-layer verdict is cached with
it, per interpreter. Entries are verified by sha256 on use; the oldest beyond
:data:`KEEP` are pruned.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from filelock import FileLock

from lambdapack.archive import atomic_path, atomic_write_bytes, sha256_file

KEEP = 8  # finished layers kept (each ~50-65 MB for the scikit-learn stack)
_CODE = ("archive.py", "layer/build.py", "layer/slim.py", "layer/compile.py", "layer/check.py", "layer/elf.py",
         "wheels/install.py", "targets.py")


@functools.lru_cache(maxsize=1)
def code_identity() -> str:
    """A digest of the lambdapack code that shapes a layer's bytes (so a code change misses the cache)."""
    root = Path(__file__).resolve().parents[1]
    digest = hashlib.sha256()
    for rel in _CODE:
        with contextlib.suppress(OSError):
            digest.update((root / rel).read_bytes())
    return digest.hexdigest()


def cache_key(parts: dict) -> str:
    return hashlib.sha256(json.dumps({**parts, "code": code_identity()}, sort_keys=True).encode()).hexdigest()


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
        zip_path = self.root / f"{key}.zip"
        meta_path = self.root / f"{key}.json"
        try:
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        if not zip_path.is_file() or sha256_file(zip_path) != meta.get("sha256"):
            return None
        os.utime(meta_path)  # most recently used survives pruning
        return CachedLayer(zip_path, meta)

    def put(self, key: str, zip_path: Path, meta: dict) -> None:
        with self._lock():
            with atomic_path(self.root / f"{key}.zip") as tmp:
                shutil.copyfile(zip_path, tmp)
            atomic_write_bytes(self.root / f"{key}.json", json.dumps(meta, indent=1).encode())
            self._prune()

    def get_check(self, key: str, checker: str) -> dict | None:
        try:
            return json.loads((self.root / f"{key}.check-{checker}.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None

    def put_check(self, key: str, checker: str, report: dict) -> None:
        with self._lock():
            atomic_write_bytes(self.root / f"{key}.check-{checker}.json", json.dumps(report, indent=1).encode())

    def _prune(self) -> None:
        metas = sorted(self.root.glob("*.json"), key=lambda p: p.stat().st_mtime, reverse=True)
        layers = [m for m in metas if ".check-" not in m.name]
        for stale in layers[KEEP:]:
            key = stale.stem
            for path in self.root.glob(f"{key}*"):
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()
