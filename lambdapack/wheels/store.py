"""The content-addressed wheel store, and fetching pinned wheels into it.

Every wheel file lambdapack installs sits at ``CACHE/wheels/<sha256[:2]>/<sha256>/<filename>``
(:func:`default_cache_dir` is the cache's root). :func:`download_pinned` turns pins into
:class:`~lambdapack.wheels.pins.FetchedWheel` files on disk: from the store, else downloaded
and verified against the pin's sha256, else a local wheel the user named. A pin whose bytes
the store already holds costs no network request at all; that is what makes a rebuild from a
stored resolution work offline.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from filelock import FileLock
from platformdirs import user_cache_dir

from lambdapack.archive import atomic_path, sha256_file
from lambdapack.errors import ResolveError, WheelError
from lambdapack.targets import Target
from lambdapack.wheels.check import require_compatible
from lambdapack.wheels.pins import FetchedWheel, PinnedWheel, ProgressFn

_CHUNK = 1024 * 1024


def default_cache_dir() -> Path:
    """``$LAMBDAPACK_CACHE_DIR`` or the platform's user cache directory for lambdapack."""
    env = os.environ.get("LAMBDAPACK_CACHE_DIR")
    return Path(env) if env else Path(user_cache_dir("lambdapack", appauthor=False))


def store_path(cache_dir: Path, sha256: str, filename: str) -> Path:
    return cache_dir / "wheels" / sha256[:2] / sha256 / filename


@contextlib.contextmanager
def _locked(cache_dir: Path, key: str) -> Iterator[None]:
    locks = cache_dir / "locks"
    locks.mkdir(parents=True, exist_ok=True)
    with FileLock(str(locks / f"{key}.lock"), timeout=600):
        yield


def store_file(cache_dir: Path, path: Path) -> tuple[Path, str]:
    """Move a downloaded wheel file into the store (where it stays); its stored path and sha256."""
    digest = sha256_file(path)
    dest = store_path(cache_dir, digest, path.name)
    with _locked(cache_dir, digest):
        if not dest.is_file():
            dest.parent.mkdir(parents=True, exist_ok=True)
            os.replace(path, dest)
    return dest, digest


class HashMismatch(WheelError):
    """A downloaded file's sha256 is not the one its resolution (or lock) recorded."""

    def __init__(self, filename: str, expected: str, got: str) -> None:
        super().__init__(f"{filename}: sha256 mismatch (expected {expected[:12]}…, got {got[:12]}…)",
                         hint="the download was corrupted or tampered with; retry the build")
        self.filename, self.expected, self.got = filename, expected, got


class MissingWheel(ResolveError):
    """A pinned wheel is neither in the cache, nor at a URL, nor at its local path any more."""


def download(url: str, sha256: str, filename: str, cache_dir: Path, progress: ProgressFn | None,
             size: int | None) -> Path:
    """Fetch ``url`` into the store unless a verified copy is already there."""
    dest = store_path(cache_dir, sha256, filename)
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


def _local_wheel(path: Path, expected: str | None) -> tuple[Path, str]:
    try:
        digest = sha256_file(path)
    except OSError as exc:
        raise WheelError(f"cannot read {path}: {exc.strerror or exc}", hint="check the path") from None
    if expected and digest != expected:
        raise WheelError(f"{path.name}: sha256 mismatch with the resolver's record",
                         hint="the file changed during the build; retry")
    return path, digest


def download_pinned(pins: Sequence[PinnedWheel], target: Target, cache_dir: Path,
                    progress: ProgressFn | None = None) -> list[FetchedWheel]:
    """The wheel files of ``pins``: from the content-addressed store, else downloaded and verified."""
    def fetch(pin: PinnedWheel) -> FetchedWheel:
        require_compatible(pin.filename, target)
        stored = store_path(cache_dir, pin.sha256, pin.filename) if pin.sha256 else None
        if stored is not None and stored.is_file():
            if progress:
                progress(pin.filename, pin.size or stored.stat().st_size, pin.size)
            path, digest, verified = stored, pin.sha256, pin.index_verified
        elif pin.url:
            if not pin.sha256:
                raise WheelError(f"{pin.filename}: no sha256 to verify the download against",
                                 hint="use an index that publishes hashes (PyPI does), or --resolver pip")
            path = download(pin.url, pin.sha256, pin.filename, cache_dir, progress, pin.size)
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
