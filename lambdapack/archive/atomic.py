"""Files and directories written beside their destination and moved into place only when complete.

An interrupted write leaves the previous artifact or nothing: the temporary file or directory
(``.NAME.*.tmp``, or ``.building`` for a layer) is created under :func:`hold_signals`, so it and
its cleanup exist together, and a killed run's leftovers are swept by the next writer of the
same destination once they are old enough not to be a concurrent writer's.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from glob import escape as glob_escape
from pathlib import Path

from lambdapack.interrupts import hold_signals

STALE_PARTIAL_AGE = 3600  # seconds; no build writes one artifact for that long


def sweep_stale_partials(dest: Path, suffixes: tuple[str, ...] = (".tmp", ".building"),
                         older_than: float = STALE_PARTIAL_AGE) -> list[Path]:
    """Remove staging files/dirs of ``dest`` that a killed run left behind (``.NAME.*.tmp``).

    Only entries untouched for ``older_than`` seconds go: a concurrent writer's fresh
    staging file is left alone. Returns what was removed.
    """
    dest = Path(dest)
    removed: list[Path] = []
    cutoff = time.time() - older_than
    with contextlib.suppress(OSError):
        for entry in dest.parent.glob(f".{glob_escape(dest.name)}.*"):
            if not entry.name.endswith(suffixes):
                continue
            try:
                if entry.lstat().st_mtime > cutoff:
                    continue
                if entry.is_dir() and not entry.is_symlink():
                    shutil.rmtree(entry)
                else:
                    entry.unlink()
            except OSError:
                continue  # another process got there first, or it is not ours to remove
            removed.append(entry)
    return removed


@contextlib.contextmanager
def staging_file(dest: Path, suffix: str = ".tmp") -> Iterator[Path]:
    """A new empty file beside ``dest`` (same filesystem, so publishing it is a rename).

    It is removed afterwards unless the block moved it onto ``dest``: the caller decides when
    (build-layer publishes its zip only once the layer passed its checks).
    """
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    sweep_stale_partials(dest)
    tmp_path: Path | None = None
    try:
        with hold_signals():  # the file and this cleanup exist together, or neither does
            fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=suffix, dir=dest.parent)
            os.close(fd)
            tmp_path = Path(tmp)
        yield tmp_path
    finally:
        if tmp_path is not None:
            with contextlib.suppress(FileNotFoundError):
                tmp_path.unlink()


@contextlib.contextmanager
def atomic_path(dest: Path) -> Iterator[Path]:
    """Yield a temporary path beside ``dest``; move it onto ``dest`` only if the block succeeds."""
    with staging_file(dest) as tmp_path:
        yield tmp_path
        os.replace(tmp_path, dest)


@contextlib.contextmanager
def staging_dir(dest: Path) -> Iterator[Path]:
    """A fresh directory beside ``dest`` (same filesystem, so publishing it is a rename); removed afterwards."""
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    sweep_stale_partials(dest)
    tmp: Path | None = None
    try:
        with hold_signals():
            tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", suffix=".tmp", dir=dest.parent))
        yield tmp
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)


@contextlib.contextmanager
def atomic_dir(dest: Path, marker: str) -> Iterator[Path]:
    """Yield a directory beside ``dest``; move it onto ``dest`` only if the block succeeds.

    The block writes ``marker`` into the directory last: a ``dest`` holding it is complete. When
    another process published a complete ``dest`` first, theirs is kept (the work is the same);
    a ``dest`` without the marker is a crash's leftover and is replaced.
    """
    dest = Path(dest)
    with staging_dir(dest) as tmp:
        yield tmp
        if dest.exists() and not (dest / marker).is_file():
            shutil.rmtree(dest)
        try:
            os.replace(tmp, dest)
        except OSError:
            if not (dest / marker).is_file():
                raise


def atomic_write_bytes(dest: Path, data: bytes, mode: int = 0o644) -> None:
    with atomic_path(dest) as tmp:
        tmp.write_bytes(data)
        os.chmod(tmp, mode)
