"""Scratch directories in the temp dir, named for their purpose and the process that owns them.

A run that ends normally, by an exception or by a signal removes its own; one killed outright
(SIGKILL) leaves it behind, and the next scratch directory made on this machine sweeps it once
its process is gone.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from lambdapack.interrupts import hold_signals

# lambdapack-<purpose>-<pid>-<mkdtemp's suffix>: scratch directories name the process that owns them
_SCRATCH = re.compile(r"lambdapack-[a-z][a-z0-9-]*?-(?P<pid>\d+)-[a-z0-9_]{8}")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process
    return True


def sweep_dead_scratch(root: Path | None = None) -> list[Path]:
    """Remove scratch directories whose process is gone: what a SIGKILLed run left in the temp dir.

    A run that ends normally, by an exception or by a signal removes its own; only a process
    killed outright leaves one, and its pid then names no live process.
    """
    root = Path(root or tempfile.gettempdir())
    removed: list[Path] = []
    with contextlib.suppress(OSError):
        for entry in root.iterdir():
            match = _SCRATCH.fullmatch(entry.name)
            if match is None or _alive(int(match["pid"])) or not entry.is_dir() or entry.is_symlink():
                continue
            with contextlib.suppress(OSError):
                if entry.stat().st_uid == os.getuid():
                    shutil.rmtree(entry)
                    removed.append(entry)
    return removed


@contextlib.contextmanager
def scratch_dir(purpose: str) -> Iterator[Path]:
    """A temporary directory named for ``purpose`` and this process, removed afterwards.

    Creating one first sweeps the scratch directories of processes that no longer exist.
    """
    sweep_dead_scratch()
    path: Path | None = None
    try:
        with hold_signals():
            path = Path(tempfile.mkdtemp(prefix=f"lambdapack-{purpose}-{os.getpid()}-"))
        yield path
    finally:
        if path is not None:
            shutil.rmtree(path, ignore_errors=True)
