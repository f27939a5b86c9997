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
markdown tables go to stdout, progress to stderr. The fresh runtime and its figures are
``bench/fresh_runtime.py`` (shared with the zoo and boosters benches), the variants, ratios and
goals ``bench/coldstart_figures.py``, the init profile ``bench/coldstart_profile.py``, the tables
and the plot ``bench/coldstart_render.py``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
for _path in (BENCH_DIR.parent, BENCH_DIR):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

from bench_emulator import EVENT  # noqa: E402  - the guide's test event, as every bench sends it
from coldstart_figures import VARIANTS, figures, goals, paired, ratios  # noqa: E402
from coldstart_profile import PROFILED, profile_init  # noqa: E402
from coldstart_render import plot, render_markdown  # noqa: E402
from fresh_runtime import (  # noqa: E402
    ARCH,
    EMPTY_HANDLER,
    RUNTIME,
    Sample,
    cold_start,
    git_commit,
    lambdapack_command,
    load_text,
    machine,
    positive,
)
from handler_child import GUIDE_HANDLER  # noqa: E402
from measure import versions_in  # noqa: E402

from lambdapack import __version__ as LAMBDAPACK_VERSION  # noqa: E402
from lambdapack.archive import ZipEntry, sha256_file, write_zip  # noqa: E402
from lambdapack.emulator.session import LocalFunctionSpec  # noqa: E402

GUIDE_ANSWER = {"statusCode": 200, "body": "virginica"}
DEFAULT_RUNS = 20
DEFAULT_WARM_CALLS = 10
DEFAULT_OUT = BENCH_DIR.parent / "docs" / "bench"
SCHEMA = "lambdapack.bench.coldstart/1"

def log(message: str) -> None:
    print(f"[coldstart {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------- the inputs


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


# ---------------------------------------------------------------------------- running


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


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=positive, default=DEFAULT_RUNS,
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
