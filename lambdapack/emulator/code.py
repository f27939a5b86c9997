"""The function's code on disk, laid out like Lambda: task root and ``/opt``.

Layers are unpacked once per content hash into the user cache (Lambda extracts them into
``/opt`` in order, later layers overwriting earlier files) and never written to again: the
runtime runs with ``-B`` so no ``.pyc`` lands there, as on Lambda's read-only ``/opt``.
The function zip is small and unpacked into a fresh temporary task root per session.

Before anything runs, the layers say which Python and architecture they were built for
(:func:`lambdapack.layer.inspect.inspect_layer`, the reader every command shares), and
:func:`check_runnable` refuses what this machine cannot run.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import time
from collections.abc import Sequence
from pathlib import Path

from lambdapack import archive
from lambdapack.emulator.ric import cache_root
from lambdapack.errors import EmulatorError, LambdapackError
from lambdapack.layer.inspect import LayerInfo, cannot_run_here, inspect_layer, one_python
from lambdapack.targets import RUNTIMES, host_arch

# unpacked layers kept in the cache, and how long one must sit unused before it may go
KEEP_OPT_DIRS = 3
PRUNE_IDLE_S = 24 * 3600


def inspect_layers(paths: Sequence[Path]) -> list[LayerInfo]:
    """Each layer as the shared reader sees it, refused as the emulator's own error."""
    return [inspect_layer(Path(p), error=EmulatorError) for p in paths]


def check_runnable(layers: Sequence[LayerInfo], runtime: str | None = None) -> tuple[str | None, str | None]:
    """The (python_version, runtime) all ``layers`` agree on, refusing what this host cannot run.

    ``runtime``: the one the user asked for; refused when the layers say another.
    """
    here = host_arch()
    for info in layers:
        reason = cannot_run_here(info)
        if reason is None:
            continue
        if info.arch and info.arch != here:
            hint = (f"for local runs build a layer with `lambdapack build-layer --arch {here}` "
                    f"(deploy the {info.arch} one as it is)")
        else:
            hint = "run it on a Linux machine at least as new as the layer's runtime, or rebuild the layer"
        raise EmulatorError(reason, hint=hint)
    python = one_python(layers, error=EmulatorError)
    version = "{}.{}".format(*python) if python else None
    runtimes = {info.runtime for info in layers if info.runtime}
    found = runtimes.pop() if len(runtimes) == 1 else (f"python{version}" if version else None)
    if found is not None and found not in RUNTIMES:
        raise EmulatorError(f"the layer targets {found}, which Lambda does not offer",
                            hint="choose one of: " + ", ".join(RUNTIMES))
    if found is not None and runtime and runtime != found:
        raise EmulatorError(f"--runtime {runtime} does not match the layer ({found})",
                            hint="drop --runtime: the layer decides")
    return version, found


def opt_dir_for(layers: Sequence[LayerInfo]) -> Path:
    """The layers unpacked in order into one cached directory (Lambda's ``/opt``)."""
    key = hashlib.sha256("\n".join(info.sha256 for info in layers).encode()).hexdigest()[:20]
    root = cache_root() / "emulator"
    final = root / f"opt-{key}"
    if (final / ".complete").is_file():
        os.utime(final / ".complete")  # last use, for pruning
        return final
    try:
        with archive.atomic_dir(final, ".complete") as tmp:
            for info in layers:
                archive.safe_extract(info.path, tmp)
            (tmp / ".complete").write_text("\n".join(str(info.path) for info in layers) + "\n")
    except OSError as exc:
        raise EmulatorError(f"cannot unpack the layers into {root}: {exc.strerror or exc}",
                            hint="free some disk space or set LAMBDAPACK_CACHE_DIR to a writable place") from None
    prune_opt_dirs(root, keep=final)
    return final


def prune_opt_dirs(root: Path, keep: Path, newest: int = KEEP_OPT_DIRS, idle_s: float = PRUNE_IDLE_S) -> list[Path]:
    """Remove unpacked layers beyond the ``newest`` most recently used, if idle for ``idle_s``.

    Each is a full unpacked layer (~200 MB for scikit-learn); a rebuilt layer has a new hash,
    so without this the cache grows with every build. One in use by a running emulator was
    used recently and is kept.
    """
    now = time.time()
    dirs = []
    for path in root.glob("opt-*"):
        marker = path / ".complete"
        if path != keep and marker.is_file():
            dirs.append((marker.stat().st_mtime, path))
    dirs.sort(reverse=True)
    removed = []
    for last_used, path in dirs[max(newest - 1, 0):]:
        if now - last_used > idle_s:
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
    return removed


def unpack_function(function_zip: Path, dest: Path) -> Path:
    """Unpack the function package into ``dest`` (the task root)."""
    try:
        archive.safe_extract(function_zip, dest)
    except LambdapackError:
        raise
    except OSError as exc:
        raise EmulatorError(f"cannot unpack {function_zip}: {exc.strerror or exc}",
                            hint="free some disk space in the temporary directory") from None
    return dest
