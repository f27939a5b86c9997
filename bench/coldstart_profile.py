"""Where a function's init goes: the emulator's bootstrap repeated phase by phase in fresh processes.

``profile_init`` times, per phase, what happens before the runtime's first ``/next`` (Lambda's
``sys.path`` and ``site``, awslambdaric's imports, the handler's support modules, the handler
module itself) in fresh processes of the function's interpreter with the emulator's flags, path,
environment and working directory, and lists the handler's costliest imports from one
``-X importtime`` run.
"""

from __future__ import annotations

import statistics
import subprocess
import time
from typing import Any

# What the emulator's bootstrap does before the runtime's first /next, phase by phase, in a fresh
# process of the function's interpreter with the emulator's flags, path, environment and working
# directory: Lambda's sys.path and ``site``, awslambdaric's imports, the handler's support module
# (when it has one), then the handler module itself (for lambdapack: the model load).
_PROFILE = r"""
import sys, time
t0 = time.perf_counter()
task, layer_site, layer_python, runtime_dir = sys.argv[1:5]
stdlib = [p for p in sys.path if p and "site-packages" not in p]
sys.path[:] = [p for p in (task, layer_site, layer_python) if p] + stdlib + [runtime_dir]
import site
t1 = time.perf_counter()
import awslambdaric.__main__
t2 = time.perf_counter()
import os
if os.path.isdir(os.path.join(task, "lambdapack_runtime")):
    import lambdapack_runtime.model, lambdapack_runtime.service
t3 = time.perf_counter()
import lambda_function
t4 = time.perf_counter()
sys.stderr.write("PHASES %f %f %f %f\n" % (t1 - t0, t2 - t1, t3 - t2, t4 - t3))
"""
PHASES = ("path_and_site_ms", "awslambdaric_ms", "support_modules_ms", "handler_module_ms")
PROFILED = ("empty", "predictor", "predictor_no_layer", "joblib")


def _importtime(stderr: str) -> list[dict[str, Any]]:
    """The imports made after awslambdaric's (the handler's), cumulative ≥ 1 ms, largest first."""
    lines = stderr.splitlines()
    start = next((i for i, line in enumerate(lines) if line.rstrip().endswith("| awslambdaric.__main__")), None)
    out = []
    for line in lines[(start or 0) + 1:]:
        parts = line.removeprefix("import time:").split("|")
        if len(parts) != 3 or not parts[0].strip().isdigit():
            continue
        name = parts[2].rstrip()
        out.append({"module": name.strip(), "depth": (len(name) - len(name.lstrip())) // 2,
                    "self_ms": round(int(parts[0]) / 1000, 2), "cumulative_ms": round(int(parts[1]) / 1000, 2)})
    return sorted((m for m in out if m["cumulative_ms"] >= 1.0), key=lambda m: -m["cumulative_ms"])[:12]


def profile_init(spec: Any, runs: int) -> dict[str, Any]:
    """Median milliseconds per init phase over ``runs`` fresh processes, and one ``-X importtime`` run."""
    from lambdapack.emulator.process import lambda_environment
    from lambdapack.emulator.session import prepare

    with prepare(spec) as prepared:
        config = prepared.config
        env = lambda_environment(config, "127.0.0.1:9", "profile")
        site_dir = config.opt_dir / "python" / "lib" / f"python{config.python_version}" / "site-packages"
        argv = [str(config.task_root), str(site_dir) if spec.layers else "",
                str(config.opt_dir / "python") if spec.layers else "", str(config.runtime_dir)]
        python = [str(config.python), "-I", "-S", "-B"]
        phases: list[list[float]] = []
        interpreter: list[float] = []
        for _ in range(runs):
            started = time.perf_counter()
            subprocess.run([*python, "-c", "pass"], env=env, cwd=config.task_root, check=True)
            interpreter.append((time.perf_counter() - started) * 1000)
            done = subprocess.run([*python, "-c", _PROFILE, *argv], env=env, cwd=config.task_root,
                                  capture_output=True, text=True, check=True)
            line = next(x for x in done.stderr.splitlines() if x.startswith("PHASES "))
            phases.append([float(v) * 1000 for v in line.split()[1:]])
        traced = subprocess.run([*python, "-X", "importtime", "-c", _PROFILE, *argv], env=env,
                                cwd=config.task_root, capture_output=True, text=True, check=True)
    medians = {name: round(statistics.median(p[i] for p in phases), 2) for i, name in enumerate(PHASES)}
    # the least-disturbed run is the best estimate of fixed work on a shared machine
    minima = {name: round(min(p[i] for p in phases), 2) for i, name in enumerate(PHASES)}
    return {"runs": runs, "interpreter_start_and_exit_ms": round(statistics.median(interpreter), 2), **medians,
            "min": {"interpreter_start_and_exit_ms": round(min(interpreter), 2), **minima},
            "handler_imports": _importtime(traced.stderr)}
