"""Running lambdapack's code inside a model's own libraries: this Python's, or a layer's.

Three steps need scikit-learn at exactly the model's versions without lambdapack's own
dependencies in the way: ``train --layer`` fits the model, ``package`` proves the predictor,
and the emulator runs the function. They all start from a :class:`LayerPython`: an interpreter
of the layer's minor version and the layer unpacked once per content hash into the user cache
(Lambda's ``/opt``, never written to again), after the checks that this machine can execute
the layer's compiled code at all.

:meth:`LayerPython.call` is the one protocol: ``_layer_child.py`` runs by path with ``-I -B``
(and ``-S`` for a layer, so only the layer's directories and the standard library are on
``sys.path``), loads the named lambdapack modules by file (they import nothing else of
lambdapack), calls one function with the request read from stdin, and writes its reply as the
last line of stdout. A failure of any kind comes back as :class:`ChildFailure`, which each
caller turns into its own error or fallback.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lambdapack import archive, interpreters
from lambdapack.errors import LambdapackError, LayerError
from lambdapack.layer.inspect import LayerInfo, cannot_run_here, one_python
from lambdapack.targets import RUNTIMES, host_arch

CHILD = Path(__file__).resolve().with_name("_layer_child.py")
# unpacked layers kept in the cache, and how long one must sit unused before it may go
KEEP_UNPACKED = 3
PRUNE_IDLE_S = 24 * 3600


class ChildFailure(Exception):
    """The called function failed or could not run; ``kind`` says how (its own kinds, or
    ``import``, ``crash``, ``timeout``, ``start``)."""

    def __init__(self, kind: str, message: str, reply: Mapping[str, Any] | None = None) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.reply = dict(reply or {})  # the whole reply, when the function sent one


@dataclass(frozen=True)
class LayerPython:
    """An interpreter and the only libraries it may import."""

    interpreter: Path
    python_version: str  # "3.12"
    site_paths: tuple[Path, ...]  # the layer's directories, first on sys.path; () = the interpreter's own
    description: str  # "the layer's Python 3.12" / "this Python 3.11"
    runtime: str | None = None
    opt_dir: Path | None = None  # the unpacked layers, when there are any

    @classmethod
    def here(cls) -> LayerPython:
        """This interpreter with its own site-packages."""
        version = f"{sys.version_info[0]}.{sys.version_info[1]}"
        return cls(Path(sys.executable), version, (), f"this Python {version}")

    @classmethod
    def for_layers(cls, layers: Sequence[LayerInfo], python: Path | str | None = None, runtime: str | None = None,
                   error: type[LambdapackError] = LayerError) -> LayerPython:
        """The layers' Python with the layers unpacked; refused (as ``error``) when this machine cannot run them."""
        version, runtime = check_runnable(layers, runtime, error)
        if version is None:
            raise error("the layer does not say which Python it is for",
                        hint="build it with `lambdapack build-layer`, which records its runtime")
        interpreter = interpreters.require_python(tuple(int(p) for p in version.split(".")), python)
        opt = unpacked_layers(layers, error)
        site = opt / "python" / "lib" / f"python{version}" / "site-packages"
        return cls(interpreter, version, (site, opt / "python"), f"the layer's Python {version}", runtime, opt)

    def command(self) -> list[str]:
        isolation = ["-I", "-S", "-B"] if self.site_paths else ["-I", "-B"]
        return [str(self.interpreter), *isolation, str(CHILD)]

    def call(self, entry: str, request: Mapping[str, Any], modules: Mapping[str, Path], *,
             timeout: float | None = None, cwd: Path | None = None) -> dict[str, Any]:
        """``entry`` ("module:function", a module of ``modules``) called with ``request``; its reply.

        ``modules`` maps the top-level names the child registers to module files or package
        directories of lambdapack's that import only the standard library and each other.
        Raises :class:`ChildFailure` for a reply with ``ok`` false and for every way the child can fail.
        """
        message = {"sys_path": [str(p) for p in self.site_paths if p.is_dir()],
                   "modules": {name: str(path) for name, path in modules.items()},
                   "entry": entry, "request": dict(request)}
        try:
            done = subprocess.run(self.command(), input=json.dumps(message), capture_output=True, text=True,
                                  cwd=cwd, timeout=timeout, check=False)
        except subprocess.TimeoutExpired:
            raise ChildFailure("timeout", f"it took over {timeout:g} s") from None
        except OSError as exc:
            raise ChildFailure("start", f"cannot run {self.interpreter} ({exc.strerror or exc})") from None
        reply = _last_json_line(done.stdout)
        if done.returncode != 0 or reply is None:
            tail = " | ".join(done.stderr.strip().splitlines()[-3:]) or f"exit status {done.returncode}"
            raise ChildFailure("crash", tail)
        if not reply.get("ok"):
            kind, message = str(reply.get("kind") or "failed"), str(reply.get("message") or "no reason given")
            raise ChildFailure(kind, message, reply)
        return reply


def _last_json_line(stdout: str) -> dict[str, Any] | None:
    lines = stdout.strip().splitlines()
    try:
        reply = json.loads(lines[-1]) if lines else None
    except json.JSONDecodeError:
        return None
    return reply if isinstance(reply, dict) else None


def check_runnable(layers: Sequence[LayerInfo], runtime: str | None = None,
                   error: type[LambdapackError] = LayerError) -> tuple[str | None, str | None]:
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
        raise error(reason, hint=hint)
    python = one_python(layers, error=error)
    version = "{}.{}".format(*python) if python else None
    runtimes = {info.runtime for info in layers if info.runtime}
    found = runtimes.pop() if len(runtimes) == 1 else (f"python{version}" if version else None)
    if found is not None and found not in RUNTIMES:
        raise error(f"the layer targets {found}, which Lambda does not offer",
                    hint="choose one of: " + ", ".join(RUNTIMES))
    if found is not None and runtime and runtime != found:
        raise error(f"--runtime {runtime} does not match the layer ({found})", hint="drop --runtime: the layer decides")
    return version, found


def unpacked_root() -> Path:
    from lambdapack.wheels import default_cache_dir

    return default_cache_dir() / "emulator"


def unpacked_layers(layers: Sequence[LayerInfo], error: type[LambdapackError] = LayerError) -> Path:
    """The layers unpacked in order into one cached directory (Lambda's ``/opt``)."""
    key = hashlib.sha256("\n".join(info.sha256 for info in layers).encode()).hexdigest()[:20]
    root = unpacked_root()
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
        raise error(f"cannot unpack the layers into {root}: {exc.strerror or exc}",
                    hint="free some disk space or set LAMBDAPACK_CACHE_DIR to a writable place") from None
    prune_unpacked(root, keep=final)
    return final


def prune_unpacked(root: Path, keep: Path, newest: int = KEEP_UNPACKED, idle_s: float = PRUNE_IDLE_S) -> list[Path]:
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
