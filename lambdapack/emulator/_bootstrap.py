"""The runtime bootstrap, run by the function's own interpreter (``python -I -S -B _bootstrap.py``).

This file is executed in the child process, never imported by lambdapack: it must run on
every Python Lambda supports (3.10+) and import nothing but the standard library before it
has put Lambda's search path in place. ``-I`` drops PYTHONPATH, the user site and the
script's directory; ``-S`` keeps the interpreter's own site-packages (and its ``.pth``
hooks) out. What remains is the standard library, to which this adds, in Lambda's order:
the task root, the layer's ``python/lib/python3.X/site-packages`` and ``python/``, and
last the runtime directory holding awslambdaric.

It also keeps the runtime's memory flat across invocations (:class:`_TraceIdInPlace`).

argv: ``_bootstrap.py OPT_DIR EXPECTED_PYTHON`` (e.g. ``/tmp/x/opt 3.12``).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable

TRACE_VARIABLE = b"_X_AMZN_TRACE_ID"
_TRACE_BUFFER_BYTES = 1024  # an X-Ray trace header is ~100 bytes; a longer one goes through setenv


def _fail(message: str) -> None:
    sys.stderr.write(f"lambdapack bootstrap: {message}\n")
    sys.stderr.flush()
    # 127: the emulator reads it as "the runtime could not start"
    os._exit(127)


class _TraceIdInPlace:
    """``os.putenv`` for the runtime: ``_X_AMZN_TRACE_ID`` rewritten in place, anything else as usual.

    awslambdaric writes each invocation's trace id with ``os.environ[...] = ...``. CPython (3.9+)
    does that with C ``setenv``, and glibc's ``setenv`` never frees a value it replaced (a pointer
    ``getenv`` handed out may still be in use): about 160 bytes kept per invocation, for as long as
    the runtime lives, since every trace id is new. Here the variable's C string lives in one of two
    buffers of our own: each update is written into the one not in use and swapped in with C
    ``putenv``, which stores the pointer without copying. The handler, its C extensions and its
    subprocesses still see this invocation's id; nothing accumulates. ctypes is imported on the
    first update, so the runtime's init does not pay for it.
    """

    def __init__(self, real_putenv: Callable[[str | bytes, str | bytes], None]) -> None:
        self._real = real_putenv
        self._libc_putenv: Callable[[object], int] | None = None
        self._buffers: list = []
        self._turn = 0

    def __call__(self, key: str | bytes, value: str | bytes) -> None:
        name, data = os.fsencode(key), os.fsencode(value)
        if name != TRACE_VARIABLE or len(name) + len(data) + 2 > _TRACE_BUFFER_BYTES or b"\0" in data:
            self._real(key, value)
            return
        if self._libc_putenv is None:
            import ctypes

            self._libc_putenv = ctypes.CDLL(None, use_errno=True).putenv
            self._buffers = [ctypes.create_string_buffer(_TRACE_BUFFER_BYTES) for _ in range(2)]
        turn = 1 - self._turn
        self._buffers[turn].value = name + b"=" + data
        if self._libc_putenv(self._buffers[turn]) != 0:
            self._real(key, value)
            return
        self._turn = turn


def main() -> None:
    if len(sys.argv) != 3:
        _fail("usage: _bootstrap.py OPT_DIR EXPECTED_PYTHON")
    opt_dir, expected = sys.argv[1], sys.argv[2]
    actual = "{}.{}".format(*sys.version_info[:2])
    # a layer built for another minor version fails later with a misleading numpy error
    if actual != expected:
        _fail(f"this layer needs Python {expected}, the interpreter is {actual}")
    task_root = os.environ["LAMBDA_TASK_ROOT"]
    runtime_dir = os.environ["LAMBDA_RUNTIME_DIR"]
    layer_python = os.path.join(opt_dir, "python")
    layer_site = os.path.join(layer_python, "lib", "python" + actual, "site-packages")
    stdlib = [p for p in sys.path if p and "site-packages" not in p and "dist-packages" not in p]
    sys.path[:] = [task_root, layer_site, layer_python, *stdlib, runtime_dir]
    import site

    # the builtins ``site`` would have installed (exit, quit, help) without its path hooks
    for name in ("setquit", "setcopyright", "sethelper"):
        hook = getattr(site, name, None)
        if hook is not None:
            hook()
    os.putenv = _TraceIdInPlace(os.putenv)  # os.environ[...] = ... calls os.putenv
    sys.argv = [os.path.join(runtime_dir, "bootstrap.py")]
    handler = os.environ.get("_HANDLER", "")
    from awslambdaric.__main__ import main as ric_main

    ric_main(["awslambdaric", handler])


if __name__ == "__main__":
    main()
