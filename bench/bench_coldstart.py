"""Cold start of a prediction function in the local emulator: five functions, fresh runtimes, one run.

Every sample is a new runtime process started by the emulator (``open_function``): a real
cold start, with the layer unpacked and the files in the page cache, as on a Lambda host that
has the layer locally. The five functions:

a. ``empty``: ``def lambda_handler(e, c): return e``, no layer: the floor (interpreter +
   awslambdaric + the Runtime API round trips);
b. ``guide``: the guide's handler and ``model.joblib``, with the scikit-learn layer: it imports
   joblib at init and unpickles the model (importing scikit-learn) inside every call;
c. ``joblib``: ``lambdapack package --no-predictor``, with the layer: the estimator, loaded at init;
d. ``predictor``: the default ``lambdapack package`` (stdlib predictor) with the layer attached,
   as users deploy it;
e. ``predictor_no_layer``: the same zip with no layer (``invoke --local --no-layer``).

They run interleaved (a b c d e a b c d e …) so drift in the machine's load hits all alike.
Per function: ``Init Duration`` (spawn to the runtime's first ``/next``, the REPORT line's
figure), the first response (round trip of the first invoke: spawn, init and the call), the
REPORT's ``Max Memory Used`` after the warm calls, and the median warm round trip.

The layer is a real python3.12 x86_64 ``lambdapack build-layer scikit-learn joblib`` and the
model is trained inside it (``lambdapack train --layer``), so versions agree.

    python bench/bench_coldstart.py [--runs 20] [--out docs/bench] [--layer LAYER.zip]
    python bench/bench_coldstart.py --from-json docs/bench/coldstart.json   # re-render the tables only
    python bench/bench_coldstart.py --from-json docs/bench/coldstart.json --plot docs/bench/coldstart.png

A run writes ``coldstart.json`` and ``coldstart.png`` into ``--out``; re-rendering a saved run
writes nothing unless ``--plot`` names the image (the tables need no plotting library). The
markdown tables go to stdout, progress to stderr.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
for _path in (BENCH_DIR.parent, BENCH_DIR):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

from bench_emulator import EVENT  # noqa: E402  - the guide's test event, as every bench sends it
from bench_handler import GUIDE_HANDLER  # noqa: E402
from measure import versions_in  # noqa: E402

from lambdapack import __version__ as LAMBDAPACK_VERSION  # noqa: E402
from lambdapack.archive import ZipEntry, sha256_file, write_zip  # noqa: E402
from lambdapack.emulator.session import LocalFunctionSpec, open_function  # noqa: E402

RUNTIME = "python3.12"
ARCH = "x86_64"
EMPTY_HANDLER = "def lambda_handler(e, c):\n    return e\n"
GUIDE_ANSWER = {"statusCode": 200, "body": "virginica"}
DEFAULT_RUNS = 20
DEFAULT_WARM_CALLS = 10
DEFAULT_OUT = BENCH_DIR.parent / "docs" / "bench"
SCHEMA = "lambdapack.bench.coldstart/1"
# the goals the predictor was built for (all from the same run)
GOAL_INIT_OVER_EMPTY_MS = 30.0
GOAL_INIT_VS_JOBLIB = 0.2
GOAL_MEMORY_VS_JOBLIB = 0.3


@dataclass(frozen=True)
class Variant:
    key: str
    label: str
    layer: bool


VARIANTS = (
    Variant("empty", "empty handler, no layer", False),
    Variant("guide", "the guide's handler + layer", True),
    Variant("joblib", "package --no-predictor + layer", True),
    Variant("predictor", "package (predictor) + layer", True),
    Variant("predictor_no_layer", "package (predictor), --no-layer", False),
)
LABELS = {v.key: v.label for v in VARIANTS}


def log(message: str) -> None:
    print(f"[coldstart {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------- the inputs


def lambdapack_command(*args: str, cwd: Path) -> str:
    """One lambdapack command as a user types it; its stdout (``--json``'s document), kept out of the bench's."""
    done = subprocess.run([sys.executable, "-m", "lambdapack", *args], cwd=cwd, capture_output=True, text=True,
                          check=False)
    if done.returncode != 0:
        tail = "\n".join((done.stderr or done.stdout).strip().splitlines()[-5:])
        raise RuntimeError(f"lambdapack {' '.join(args)} failed:\n{tail}")
    return done.stdout


def build_inputs(work: Path, layer: Path | None) -> dict[str, LocalFunctionSpec]:
    """The layer, the model trained in it, and the five function zips; a spec per variant."""
    if layer is None:
        layer = work / f"layer-{RUNTIME}-{ARCH}.zip"
        log(f"building the layer ({RUNTIME} {ARCH}, scikit-learn joblib)")
        lambdapack_command("build-layer", "--runtime", RUNTIME, "--arch", ARCH, "scikit-learn", "joblib",
                    "-o", str(layer), cwd=work)
    layer = layer.resolve()
    model = work / "model"
    log("training the guide's model inside the layer")
    lambdapack_command("train", "--layer", str(layer), "--out", str(model), cwd=work)
    log("packaging: default (predictor) and --no-predictor")
    lambdapack_command("package", "--model", str(model), "--layer", str(layer), "--out", str(work / "predictor.zip"),
                cwd=work)
    lambdapack_command("package", "--model", str(model), "--layer", str(layer), "--no-predictor",
                "--out", str(work / "joblib.zip"), cwd=work)
    # the guide zips its handler and model.joblib, nothing else (no pycs)
    write_zip(work / "guide.zip", [ZipEntry("lambda_function.py", GUIDE_HANDLER.encode()),
                                   ZipEntry("model.joblib", (model / "model.joblib").read_bytes())])
    write_zip(work / "empty.zip", [ZipEntry("lambda_function.py", EMPTY_HANDLER.encode())])
    zips = {"empty": "empty.zip", "guide": "guide.zip", "joblib": "joblib.zip", "predictor": "predictor.zip",
            "predictor_no_layer": "predictor.zip"}
    return {v.key: LocalFunctionSpec(work / zips[v.key], (layer,) if v.layer else (), runtime=RUNTIME,
                                function_name=f"coldstart-{v.key}") for v in VARIANTS}


# ---------------------------------------------------------------------------- measuring


@dataclass(frozen=True)
class Sample:
    """One fresh runtime: its first invoke and the warm calls after it."""

    init_ms: float
    first_response_ms: float
    first_duration_ms: float
    max_memory_mb: int
    warm_ms: float
    warm_duration_ms: float = 0.0  # the warm calls' median REPORT Duration: the handler's time, as Lambda bills it


def _discard(_: bytes) -> None:
    pass


def cold_start(spec: LocalFunctionSpec, event: bytes, expected: object, warm_calls: int) -> Sample:
    with open_function(spec, log_sink=_discard) as function:
        first = function.invoke(event)
        warm = [function.invoke(event) for _ in range(warm_calls)]
    for result in (first, *warm):
        if not result.ok or result.payload != expected:
            raise RuntimeError(f"{spec.function_name} answered {result.payload!r} ({result.status})")
    if first.init_ms is None:
        raise RuntimeError(f"{spec.function_name}: the first invoke reported no Init Duration")
    return Sample(
        init_ms=first.init_ms, first_response_ms=first.round_trip_ms, first_duration_ms=first.duration_ms,
        # each REPORT states the runtime's peak so far: the last one covers init, first and warm calls
        max_memory_mb=(warm[-1] if warm else first).max_memory_mb,
        warm_ms=statistics.median(r.round_trip_ms for r in warm) if warm else first.round_trip_ms,
        warm_duration_ms=statistics.median(r.duration_ms for r in warm) if warm else first.duration_ms)


def _function_python_and_layer(spec: LocalFunctionSpec) -> tuple[str, dict[str, str]]:
    """The full version of the interpreter the emulator runs the function with; the layer's key versions."""
    from lambdapack.emulator.session import prepare

    with prepare(spec) as prepared:
        found = versions_in(prepared.config.opt_dir)
        python = prepared.python_full_version
    return python, {k: v for k, v in sorted(found.items()) if k in ("scikit-learn", "numpy", "scipy", "joblib")}


def measure(specs: Mapping[str, LocalFunctionSpec], runs: int, warm_calls: int,
            on_round: Callable[[int], None] | None = None) -> tuple[dict[str, list[Sample]], list[float]]:
    """``runs`` rounds of a fresh runtime per variant, in VARIANTS order; the 1-min load per round."""
    event = json.dumps(EVENT).encode()
    samples: dict[str, list[Sample]] = {v.key: [] for v in VARIANTS}
    load: list[float] = []
    for round_no in range(runs):
        for variant in VARIANTS:
            expected = EVENT if variant.key == "empty" else GUIDE_ANSWER
            samples[variant.key].append(cold_start(specs[variant.key], event, expected, warm_calls))
        load.append(os.getloadavg()[0])
        if on_round:
            on_round(round_no)
    return samples, load


# ---------------------------------------------------------------------------- where init goes

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
if os.path.exists(os.path.join(task, "lambdapack_serving.py")):
    import lambdapack_serving
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


def profile_init(spec: LocalFunctionSpec, runs: int) -> dict[str, Any]:
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


# ---------------------------------------------------------------------------- figures


def _p90(values: Sequence[float]) -> float:
    if len(values) < 2:
        return values[0]
    return statistics.quantiles(values, n=10, method="inclusive")[-1]


def summary(values: Sequence[float]) -> dict[str, float]:
    return {"p50": round(statistics.median(values), 2), "p90": round(_p90(values), 2),
            "min": round(min(values), 2), "max": round(max(values), 2)}


def figures(samples: Mapping[str, Sequence[Sample]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, runs in samples.items():
        out[key] = {
            "label": LABELS.get(key, key),
            "n": len(runs),
            "init_ms": summary([s.init_ms for s in runs]),
            "first_response_ms": summary([s.first_response_ms for s in runs]),
            "first_duration_ms": summary([s.first_duration_ms for s in runs]),
            "max_memory_mb": summary([s.max_memory_mb for s in runs]),
            "warm_ms": summary([s.warm_ms for s in runs]),
            "samples": {field: [getattr(s, field) for s in runs] for field in Sample.__dataclass_fields__},
        }
    return out


def ratios(variants: Mapping[str, Any]) -> dict[str, float]:
    """Medians of one run against each other: the figures docs/benchmarks.md quotes."""
    def p50(key: str, what: str) -> float:
        return float(variants[key][what]["p50"])

    out: dict[str, float] = {}
    for ours in ("predictor", "predictor_no_layer"):
        out[f"{ours}_init_minus_empty_ms"] = round(p50(ours, "init_ms") - p50("empty", "init_ms"), 1)
        out[f"{ours}_init_vs_joblib"] = round(p50(ours, "init_ms") / p50("joblib", "init_ms"), 3)
        out[f"{ours}_init_vs_guide"] = round(p50(ours, "init_ms") / p50("guide", "init_ms"), 3)
        out[f"{ours}_first_response_vs_joblib"] = round(
            p50(ours, "first_response_ms") / p50("joblib", "first_response_ms"), 3)
        out[f"{ours}_first_response_vs_guide"] = round(
            p50(ours, "first_response_ms") / p50("guide", "first_response_ms"), 3)
        out[f"{ours}_memory_vs_joblib"] = round(p50(ours, "max_memory_mb") / p50("joblib", "max_memory_mb"), 3)
        out[f"{ours}_warm_vs_guide"] = round(p50(ours, "warm_ms") / p50("guide", "warm_ms"), 4)
    return out


def paired_difference(ours: Sequence[float], floor: Sequence[float]) -> dict[str, float]:
    """Median and quartiles of ``ours[i] - floor[i]``, samples taken in the same round."""
    diffs = [a - b for a, b in zip(ours, floor, strict=True)]
    quartiles = statistics.quantiles(diffs, n=4, method="inclusive") if len(diffs) > 1 else [diffs[0]] * 3
    return {"median_ms": round(statistics.median(diffs), 1), "q1_ms": round(quartiles[0], 1),
            "q3_ms": round(quartiles[2], 1)}


def paired(variants: Mapping[str, Any]) -> dict[str, dict[str, float]]:
    """Init Duration minus the empty handler's in the same round: the drift both saw cancels out."""
    empty = variants["empty"]["samples"]["init_ms"]
    return {key: paired_difference(variants[key]["samples"]["init_ms"], empty)
            for key in ("predictor", "predictor_no_layer")}


def goals(variants: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The predictor's three cold-start goals, judged on the default package with the layer attached."""
    r = ratios(variants)

    def verdict(measured: float, target: float) -> str:
        return "met" if measured <= target else "missed"

    return [
        {"goal": "Init Duration p50, default package − empty handler", "target": f"≤ {GOAL_INIT_OVER_EMPTY_MS:.0f} ms",
         "measured": f"{r['predictor_init_minus_empty_ms']:+.1f} ms",
         "verdict": verdict(r["predictor_init_minus_empty_ms"], GOAL_INIT_OVER_EMPTY_MS)},
        {"goal": "the same, paired: median over rounds of (default package − empty handler)",
         "target": f"≤ {GOAL_INIT_OVER_EMPTY_MS:.0f} ms",
         "measured": f"{paired(variants)['predictor']['median_ms']:+.1f} ms",
         "verdict": verdict(paired(variants)["predictor"]["median_ms"], GOAL_INIT_OVER_EMPTY_MS)},
        {"goal": "Init Duration p50, default package ÷ --no-predictor", "target": f"≤ {GOAL_INIT_VS_JOBLIB}×",
         "measured": f"{r['predictor_init_vs_joblib']:.3f}×",
         "verdict": verdict(r["predictor_init_vs_joblib"], GOAL_INIT_VS_JOBLIB)},
        {"goal": "Max Memory Used p50, default package ÷ --no-predictor", "target": f"≤ {GOAL_MEMORY_VS_JOBLIB}×",
         "measured": f"{r['predictor_memory_vs_joblib']:.3f}×",
         "verdict": verdict(r["predictor_memory_vs_joblib"], GOAL_MEMORY_VS_JOBLIB)},
    ]


# ---------------------------------------------------------------------------- rendering


def _ms(value: float) -> str:
    return f"{value:,.0f} ms" if value >= 100 else f"{value:.1f} ms"


def load_text(values: Sequence[float]) -> str:
    return " / ".join(f"{v:.2f}" for v in values)


def conditions(result: Mapping[str, Any]) -> str:
    machine = result.get("machine", {})
    during = result.get("load_during") or []
    lines = [
        f"Run {result.get('date', '?')} ({result.get('seconds', '?')} s), `{result.get('command', '?')}`.",
        f"Machine: {machine.get('cores', '?')} × {machine.get('cpu', '?')}, {machine.get('memory_gb', '?')} GB RAM, "
        f"{machine.get('os', '?')}; shared with other work.",
        f"Load average (1/5/15 min) before {load_text(result.get('load_before', []))}, after "
        f"{load_text(result.get('load_after', []))}"
        + (f"; 1-min load while the runtimes ran {min(during):.2f}–{max(during):.2f}." if during else "."),
        f"Function Python {result.get('python', {}).get('function', '?')}; bench Python "
        f"{result.get('python', {}).get('host', '?')}; layer {result.get('layer', {}).get('versions', {})}; "
        f"lambdapack {result.get('lambdapack', '?')} ({result.get('git', '?')}).",
        f"{result.get('runs', '?')} fresh runtimes per function, interleaved; {result.get('warm_calls', '?')} warm "
        f"calls after each first invoke; memory size {result.get('memory_mb', '?')} MB.",
    ]
    return "\n".join(lines)


def figures_table(result: Mapping[str, Any]) -> str:
    rows = ["| function | Init Duration p50 | p90 | first response p50 | p90 | Max Memory Used p50 | warm call p50 |",
            "|---|---|---|---|---|---|---|"]
    for v in result["variants"].values():
        rows.append(f"| {v['label']} | {_ms(v['init_ms']['p50'])} | {_ms(v['init_ms']['p90'])} | "
                    f"{_ms(v['first_response_ms']['p50'])} | {_ms(v['first_response_ms']['p90'])} | "
                    f"{v['max_memory_mb']['p50']:.0f} MB | {v['warm_ms']['p50']:.2f} ms |")
    return "\n".join(rows)


def ratios_table(result: Mapping[str, Any]) -> str:
    r = result["ratios"]
    rows = ["| medians, same run | default package + layer | default package, --no-layer |", "|---|---|---|"]
    lines = (
        ("Init Duration − empty handler's", "init_minus_empty_ms", "{:+.1f} ms"),
        ("Init Duration ÷ --no-predictor's", "init_vs_joblib", "{:.3f}×"),
        ("Init Duration ÷ the guide's", "init_vs_guide", "{:.3f}×"),
        ("first response ÷ --no-predictor's", "first_response_vs_joblib", "{:.3f}×"),
        ("first response ÷ the guide's", "first_response_vs_guide", "{:.3f}×"),
        ("Max Memory Used ÷ --no-predictor's", "memory_vs_joblib", "{:.3f}×"),
        ("warm call ÷ the guide's", "warm_vs_guide", "{:.4f}×"),
    )
    for title, suffix, fmt in lines:
        rows.append(f"| {title} | {fmt.format(r[f'predictor_{suffix}'])} | "
                    f"{fmt.format(r[f'predictor_no_layer_{suffix}'])} |")
    pairs = result.get("paired")
    if pairs:
        rows.insert(3, "| Init Duration − empty handler's, paired by round: median (quartiles) | " + " | ".join(
            f"{pairs[k]['median_ms']:+.1f} ms ({pairs[k]['q1_ms']:+.1f} … {pairs[k]['q3_ms']:+.1f})"
            for k in ("predictor", "predictor_no_layer")) + " |")
    return "\n".join(rows)


def goals_table(result: Mapping[str, Any]) -> str:
    rows = ["| goal | target | measured | verdict |", "|---|---|---|---|"]
    for g in result["goals"]:
        verdict = g["verdict"] if g["verdict"] == "met" else f"**{g['verdict']}**"
        rows.append(f"| {g['goal']} | {g['target']} | {g['measured']} | {verdict} |")
    return "\n".join(rows)


def profile_table(result: Mapping[str, Any]) -> str:
    """Init phases per function (medians of fresh processes), and the handler's costliest imports."""
    profile = result.get("profile") or {}
    if not profile:
        return ""
    keys = [k for k in PROFILED if k in profile]
    rows = ["| init phase, ms: median (min) | " + " | ".join(LABELS[k] for k in keys) + " |",
            "|---" * (len(keys) + 1) + "|"]
    titles = (("interpreter_start_and_exit_ms", "interpreter start and exit (`-c pass`)"),
              ("path_and_site_ms", "Lambda's sys.path and `site`"),
              ("awslambdaric_ms", "awslambdaric's imports"),
              ("support_modules_ms", "`import lambdapack_serving` (+ the predictor module)"),
              ("handler_module_ms", "`import lambda_function` (model load)"))
    for field, title in titles:
        rows.append(f"| {title} | " + " | ".join(
            f"{profile[k][field]:.1f}" + (f" ({profile[k]['min'][field]:.1f})" if "min" in profile[k] else "")
            for k in keys) + " |")
    parts = ["\n".join(rows)]
    for key in ("predictor", "joblib"):
        imports = (profile.get(key) or {}).get("handler_imports") or []
        if imports:
            listed = ", ".join(f"`{m['module']}` {m['cumulative_ms']:.1f}" for m in imports[:8])
            parts.append(f"Costliest imports after awslambdaric's, {LABELS[key]} (one `-X importtime` run, "
                         f"cumulative ms): {listed}.")
    return "\n\n".join(parts)


def render_markdown(result: Mapping[str, Any]) -> str:
    parts = (conditions(result), figures_table(result), ratios_table(result), goals_table(result),
             profile_table(result))
    return "\n\n".join(p for p in parts if p) + "\n"


def plot(result: Mapping[str, Any], dest: Path) -> Path:
    """Per fresh runtime: Init Duration and first response of all five (log axes), the fast three's init zoomed."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import NullFormatter

    variants = result["variants"]
    keys = list(variants)
    fast = [k for k in keys if k in ("empty", "predictor", "predictor_no_layer")]
    fig, axes = plt.subplots(1, 3, figsize=(17, 4.4), gridspec_kw={"width_ratios": [3, 3, 2]})
    panels = ((axes[0], keys, "init_ms", "Init Duration (ms), log scale", "Init Duration, every function"),
              (axes[1], keys, "first_response_ms", "first response (ms), log scale",
               "first response (spawn + init + first call)"),
              (axes[2], fast, "init_ms", "Init Duration (ms)", "Init Duration, the fast ones"))
    for ax, shown, field, xlabel, title in panels:
        data = [variants[k]["samples"][field] for k in shown]
        ax.boxplot(data, orientation="horizontal", whis=(0, 100), widths=0.5, showfliers=False,
                   medianprops={"color": "#d9480f", "linewidth": 2})
        for y, values in enumerate(data, start=1):
            jitter = [y + ((i % 7) - 3) * 0.04 for i in range(len(values))]
            ax.scatter(values, jitter, s=10, alpha=0.6, color="#364fc7", zorder=3)
        ax.set_yticks(range(1, len(shown) + 1), [variants[k]["label"] for k in shown], fontsize=8)
        ax.invert_yaxis()
        if "log" in xlabel:
            ax.set_xscale("log")
            # labelled minor ticks overlap when the data spans little more than one decade
            ax.xaxis.set_minor_formatter(NullFormatter())
        ax.set_xlabel(xlabel, fontsize=9)
        ax.set_title(title, fontsize=10)
        ax.grid(axis="x", alpha=0.3, which="both")
    empty = variants.get("empty", {}).get("init_ms", {}).get("p50")
    if empty is not None:
        goal = empty + GOAL_INIT_OVER_EMPTY_MS
        axes[2].axvline(goal, color="#868e96", linestyle="--", linewidth=1)
        axes[2].text(goal, len(fast) + 0.45, "goal: empty p50 + 30 ms ", fontsize=7, color="#495057", ha="right")
    fig.suptitle(f"Fresh runtimes in the local emulator, {result.get('runs')} per function, interleaved "
                 f"({str(result.get('date', ''))[:16].replace('T', ' ')} UTC, {RUNTIME} {ARCH}; "
                 "box: min, quartiles, max; red: median)", fontsize=10)
    fig.tight_layout()
    dest.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(dest, dpi=110)
    plt.close(fig)
    return dest


# ---------------------------------------------------------------------------- running


def machine() -> dict[str, Any]:
    import platform

    cpu = "unknown CPU"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    mem_gb = None
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal"):
            mem_gb = round(int(line.split()[1]) / 1024 / 1024, 1)
    return {"cpu": cpu, "cores": os.cpu_count(), "memory_gb": mem_gb,
            "os": f"{platform.system()} {platform.release()} ({platform.machine()})"}


def git_commit() -> str:
    done = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=BENCH_DIR, capture_output=True, text=True,
                          check=False)
    return done.stdout.strip() or "?"


def collect(runs: int, warm_calls: int, layer: Path | None, command: str, profile_runs: int = 30) -> dict[str, Any]:
    started = time.time()
    with tempfile.TemporaryDirectory(prefix="bench-coldstart-") as tmp:
        work = Path(tmp)
        specs = build_inputs(work, layer)
        python, versions = _function_python_and_layer(specs["predictor"])
        layer_zip = specs["predictor"].layers[0]
        # a layer built here lives in the temporary directory: read its facts now
        layer_facts = {"zip_bytes": layer_zip.stat().st_size, "sha256": sha256_file(layer_zip)}
        log("one untimed round: the layer's files into the page cache, awslambdaric fetched")
        measure(specs, 1, 1)
        load_before = list(os.getloadavg())
        date = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        log(f"{runs} rounds of {len(VARIANTS)} fresh runtimes; load {load_text(load_before)}")
        samples, load_during = measure(specs, runs, warm_calls,
                                       on_round=lambda i: log(f"round {i + 1}/{runs} done"))
        load_after = list(os.getloadavg())
        profile = {}
        if profile_runs:
            log(f"profiling init phases ({profile_runs} fresh processes per function)")
            profile = {key: profile_init(specs[key], profile_runs) for key in PROFILED}
    variants = figures(samples)
    return {
        "schema": SCHEMA, "date": date, "seconds": round(time.time() - started), "command": command,
        "machine": machine(), "load_before": [round(x, 2) for x in load_before],
        "load_after": [round(x, 2) for x in load_after], "load_during": [round(x, 2) for x in load_during],
        "python": {"host": ".".join(map(str, sys.version_info[:3])), "function": python},
        "layer": {"runtime": RUNTIME, "arch": ARCH, "zip_bytes": layer_facts["zip_bytes"],
                  "built_by": (f"given with --layer ({layer.name})" if layer else
                               f"lambdapack build-layer --runtime {RUNTIME} --arch {ARCH} scikit-learn joblib"),
                  "sha256": layer_facts["sha256"], "versions": versions},
        "lambdapack": LAMBDAPACK_VERSION, "git": git_commit(),
        "runs": runs, "warm_calls": warm_calls, "memory_mb": specs["predictor"].memory_mb,
        "variants": variants, "ratios": ratios(variants), "paired": paired(variants), "goals": goals(variants),
        "profile": profile,
    }


def run(quick: bool) -> dict[str, Any]:
    """bench/run.py's entry point: the figures without the per-run samples."""
    result = collect(3 if quick else DEFAULT_RUNS, 3 if quick else DEFAULT_WARM_CALLS, None,
                     f"bench_coldstart.run(quick={quick})", profile_runs=0)
    return {"runs": result["runs"], "load_before": result["load_before"], "load_after": result["load_after"],
            "init_ms_p50": {k: v["init_ms"]["p50"] for k, v in result["variants"].items()},
            "init_ms_p90": {k: v["init_ms"]["p90"] for k, v in result["variants"].items()},
            "first_response_ms_p50": {k: v["first_response_ms"]["p50"] for k, v in result["variants"].items()},
            "max_memory_mb_p50": {k: v["max_memory_mb"]["p50"] for k, v in result["variants"].items()},
            "warm_ms_p50": {k: v["warm_ms"]["p50"] for k, v in result["variants"].items()},
            "ratios": result["ratios"], "goals": {g["goal"]: f"{g['measured']} ({g['verdict']})"
                                                  for g in result["goals"]}}


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=_positive, default=DEFAULT_RUNS,
                        help=f"fresh runtimes per function (default {DEFAULT_RUNS})")
    parser.add_argument("--warm-calls", type=int, default=DEFAULT_WARM_CALLS,
                        help=f"warm invokes after each first one (default {DEFAULT_WARM_CALLS})")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT,
                        help="directory for coldstart.json and coldstart.png (default docs/bench)")
    parser.add_argument("--layer", type=Path, help="an existing python3.12 x86_64 scikit-learn layer zip "
                        "(default: build one with lambdapack build-layer)")
    parser.add_argument("--profile-runs", type=int, default=30,
                        help="fresh processes per function for the init phase profile (0: none; default 30)")
    parser.add_argument("--from-json", type=Path, help="re-render a saved result; nothing is run or written")
    parser.add_argument("--plot", type=Path, metavar="PNG",
                        help="draw the plot there (a run draws OUT/coldstart.png anyway)")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None,
         collector: Callable[[int, int, Path | None, str, int], dict[str, Any]] = collect) -> int:
    args = parse_args(argv)
    if args.from_json:
        result = json.loads(args.from_json.read_text())
    else:
        command = "python bench/bench_coldstart.py " + " ".join(
            re.sub(r"^/tmp/\S+/", "", a) for a in (sys.argv[1:] if argv is None else argv))
        result = collector(args.runs, args.warm_calls, args.layer, command.strip(), args.profile_runs)
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "coldstart.json").write_text(json.dumps(result, indent=1) + "\n")
        plot(result, args.out / "coldstart.png")
    if args.plot:
        plot(result, args.plot)
    sys.stdout.write(render_markdown(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
