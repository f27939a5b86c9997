"""check-layer's ``import`` check: the runtime's CPython minor version, isolated (``-I -S``) with
only the layer on ``sys.path`` and its ``lib/`` on ``LD_LIBRARY_PATH``, imports every top-level
package the layer offers (:func:`top_level_modules`); ``skip`` when no such interpreter is here
or the layer's code cannot run on this machine.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from lambdapack.archive import scratch_dir
from lambdapack.interpreters import find_python, install_hint, interpreter_version
from lambdapack.layer import check_hints as hints
from lambdapack.layer.check_verdict import FAIL, PASS, SKIP, Check
from lambdapack.layer.loader import LAYER_LIBRARY_DIR
from lambdapack.targets import Target, host_machine


def top_level_modules(root: Path, target: Target) -> list[str]:
    """Every importable top-level name in the layer's import roots (what Lambda puts on sys.path)."""
    names: set[str] = set()
    for base in (root / target.site_packages, root / "python"):
        if not base.is_dir():
            continue
        for entry in base.iterdir():
            name = entry.name
            if entry.is_dir():
                if name.isidentifier() and name != "__pycache__" and (
                        (entry / "__init__.py").exists() or (entry / "__init__.pyc").exists()):
                    names.add(name)
            elif name.endswith(".py") and name[:-3].isidentifier():
                names.add(name[:-3])
            elif name.endswith(".so") and name.split(".")[0].isidentifier():
                names.add(name.split(".")[0])
    return sorted(names)


_IMPORT_SCRIPT = r"""
import importlib, json, sys
sys.path[:0] = json.loads(sys.argv[1])
results = {}
for name in json.loads(sys.argv[2]):
    try:
        importlib.import_module(name)
        results[name] = None
    except BaseException as exc:
        results[name] = (type(exc).__name__ + ": " + str(exc)).splitlines()[0][:300]
sys.stdout.write("\n" + json.dumps(results) + "\n")
"""


def check_imports(root: Path, target: Target, python: str | None) -> Check:
    if host_machine() != target.machine:
        return Check("import", SKIP, f"not run: {target.machine} code cannot run on this {host_machine()} "
                     "machine (the elf check still verified every binary)")
    interpreter = find_python(target.python, python)
    if interpreter is None:
        wanted = f"python{target.python_version}"
        if python:
            return Check("import", SKIP, f"not run: --python {python} is not CPython {target.python_version} "
                         "(pass the path of one)")
        return Check("import", SKIP, f"not run: no {wanted} found; {install_hint(target.python)}")
    root = root.resolve()  # the test runs in an empty temporary directory
    modules = top_level_modules(root, target)
    if not modules:
        return Check("import", SKIP, "not run: the layer has no top-level packages")
    roots = [str(root / target.site_packages), str(root / "python")]
    env = {"PATH": os.environ.get("PATH", ""), "LANG": "C.UTF-8"}
    if (root / LAYER_LIBRARY_DIR).is_dir():
        # /opt/lib is on Lambda's LD_LIBRARY_PATH after the system's directories, which lack what the layer
        # ships there; first here, so a library this machine happens to have cannot stand in for the layer's
        env["LD_LIBRARY_PATH"] = str(root / LAYER_LIBRARY_DIR)
    version = interpreter_version(str(interpreter))
    label = f"CPython {'.'.join(map(str, version[0]))}" if version else str(interpreter)
    with scratch_dir("import") as cwd:
        try:
            # -B: the tree may be the one build-layer is zipping at the same time; nothing may appear in it
            done = subprocess.run([str(interpreter), "-I", "-S", "-B", "-c", _IMPORT_SCRIPT, json.dumps(roots),
                                   json.dumps(modules)], capture_output=True, text=True, cwd=cwd, timeout=600,
                                  env={**env, "HOME": cwd},
                                  check=False)
        except subprocess.TimeoutExpired:
            return Check("import", FAIL, f"importing the layer's packages with {label} took over 600 s",
                         tuple(modules), hints.import_hint(target, crashed=False))
    lines = done.stdout.strip().splitlines()
    try:
        results = json.loads(lines[-1]) if lines else None
    except ValueError:
        results = None
    if done.returncode != 0 or not isinstance(results, dict):
        tail = (done.stderr.strip().splitlines() or ["no output"])[-1]
        return Check("import", FAIL, f"the import test crashed under {label} (exit {done.returncode}): {tail}",
                     tuple(modules), hints.import_hint(target, crashed=True))
    failed = tuple(f"{name}: {err}" for name, err in sorted(results.items()) if err)
    if failed:
        return Check("import", FAIL, f"{len(failed)} of {len(modules)} top-level packages fail to import "
                     f"under {label}", failed, hints.import_hint(target, crashed=False))
    return Check("import", PASS, f"{label} imports all {len(modules)} top-level packages: {', '.join(modules)}")

