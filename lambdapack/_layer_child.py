"""The child side of :meth:`lambdapack.layer_python.LayerPython.call`: standard library only.

Run by path (``python -I [-S] -B _layer_child.py``) in an interpreter whose ``sys.path`` holds
the standard library and, for a layer, only the layer's directories. One JSON document on stdin:
``sys_path`` (put first), ``modules`` ({top-level name: module file or package directory}, loaded
by file so nothing else of lambdapack comes along), ``entry`` ("module:function") and
``request``. The function's reply (a JSON object) is the last line of stdout; anything a library
prints meanwhile goes to stderr.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import json
import os
import sys
import traceback


def load(name: str, path: str) -> None:
    """Register the module file or package directory ``path`` as the top-level module ``name``."""
    package = os.path.isdir(path)
    location = os.path.join(path, "__init__.py") if package else path
    spec = importlib.util.spec_from_file_location(name, location,
                                                  submodule_search_locations=[path] if package else None)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)


def answer(message: dict) -> dict:
    sys.path[:0] = message.get("sys_path") or []
    try:
        for name, path in (message.get("modules") or {}).items():
            load(name, path)
        module_name, _, function = str(message["entry"]).partition(":")
        reply = getattr(importlib.import_module(module_name), function)(message.get("request") or {})
    except ImportError as exc:
        return {"ok": False, "kind": "import", "message": f"{type(exc).__name__}: {exc}"}
    except Exception as exc:  # noqa: BLE001 -- reported to the parent, which decides what it means
        return {"ok": False, "kind": "crash", "message": f"{type(exc).__name__}: {exc}",
                "traceback": traceback.format_exc()}
    return reply if isinstance(reply, dict) else {"ok": False, "kind": "crash", "message": f"reply {reply!r}"}


def main() -> int:
    message = json.load(sys.stdin)
    with contextlib.redirect_stdout(sys.stderr):  # a chatty library must not corrupt the reply
        reply = answer(message)
    if reply.get("traceback"):
        sys.stderr.write(str(reply["traceback"]))
    sys.stdout.write(json.dumps(reply) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
