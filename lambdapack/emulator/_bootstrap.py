"""The runtime bootstrap, run by the function's own interpreter (``python -I -S -B _bootstrap.py``).

This file is executed in the child process, never imported by lambdapack: it must run on
every Python Lambda supports (3.10+) and import nothing but the standard library before it
has put Lambda's search path in place. ``-I`` drops PYTHONPATH, the user site and the
script's directory; ``-S`` keeps the interpreter's own site-packages (and its ``.pth``
hooks) out. What remains is the standard library, to which this adds, in Lambda's order:
the task root, the layer's ``python/lib/python3.X/site-packages`` and ``python/``, and
last the runtime directory holding awslambdaric.

argv: ``_bootstrap.py OPT_DIR EXPECTED_PYTHON`` (e.g. ``/tmp/x/opt 3.12``).
"""

import os
import sys


def _fail(message: str) -> None:
    sys.stderr.write(f"lambdapack bootstrap: {message}\n")
    sys.stderr.flush()
    # 127: the emulator reads it as "the runtime could not start"
    os._exit(127)


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
    sys.argv = [os.path.join(runtime_dir, "bootstrap.py")]
    handler = os.environ.get("_HANDLER", "")
    from awslambdaric.__main__ import main as ric_main

    ric_main(["awslambdaric", handler])


if __name__ == "__main__":
    main()
