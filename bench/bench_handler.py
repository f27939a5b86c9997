"""Warm calls of the handler, and the batch size where the estimator overtakes the stdlib predictor.

1. **Warm single-row call**: the guide's handler (it unpickles ``model.joblib`` on every call and
   asks the forest), lambdapack's handler as ``lambdapack package`` ships it (the stdlib
   predictor, proven identical to the estimator), and the same handler with
   ``LAMBDAPACK_PREDICTOR=0`` (the estimator, loaded once at init). Same model, calls interleaved
   round by round so load on the machine hits all three alike; medians and ratios.
2. **Predictor/estimator crossover**: for each model, per batch size, the predictor
   (``MODEL.predictor.predict``) against the handler's estimator path (``MODEL.estimator().predict``:
   numpy array, ``predict`` and ``predict_proba``), both answering the same rows, interleaved. The
   crossover is the smallest batch from which the estimator is faster at every larger size; the
   handler's ``LAMBDAPACK_PREDICTOR_MAX_ROWS`` decides where it switches. Also measured: what the
   first batch sent to the estimator costs once (importing scikit-learn and unpickling the model,
   in a fresh process), which a switch to the estimator pays on each new runtime.

Every model is trained and packaged with lambdapack (``train``, ``package_function``) and the zip
is unpacked into a task directory, as Lambda lays it out. With ``--layer`` (a python3.12
scikit-learn layer) the models are trained inside the layer and every timing runs in a child of
the layer's Python with only the task directory and the layer on ``sys.path``, as on Lambda;
without it, in a child of this Python with its own scikit-learn (``bench/run.py``'s way).

    python bench/bench_handler.py [--quick] [--layer LAYER.zip] [--json OUT] [--markdown] [--plot PNG]
    python bench/bench_handler.py --from-json docs/bench/handler.json --markdown   # re-render only

The timing child is ``bench/handler_child.py`` (standard library only), the tables and the plot
``bench/handler_render.py``.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
if str(BENCH_DIR) not in sys.path:
    sys.path.insert(0, str(BENCH_DIR))

from fresh_runtime import machine, p90  # noqa: E402
from handler_render import crossover_text, plot, render_markdown  # noqa: E402

CHILD = BENCH_DIR / "handler_child.py"
BATCH_SIZES = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000)
QUICK_BATCH_SIZES = (1, 10, 100, 1000)
# (key, dataset, estimator, hyper-parameters, description)
MODELS = (
    ("iris_forest_100", "iris", "random_forest", {}, "the guide's iris RandomForestClassifier (100 trees)"),
    ("digits_forest_300", "digits", "random_forest", {"n_estimators": "300"},
     "digits RandomForestClassifier(n_estimators=300)"),
    ("breast_cancer_gb", "breast_cancer", "gradient_boosting", {}, "breast_cancer GradientBoostingClassifier"),
)
SCHEMA = "lambdapack.bench.handler/1"


class Runner:
    """Where the timings run: the layer's Python with only the layer, or this Python."""

    def __init__(self, layer: Path | None) -> None:
        self.layer = layer
        if layer is None:
            self.command = [sys.executable, "-I", "-B", str(CHILD)]
            self.sys_path: list[str] = []
            self.env: dict[str, str] | None = None
            return
        from lambdapack.layer.inspect import inspect_layer
        from lambdapack.layer_python import LayerPython

        # the layer's Python, the layer unpacked as /opt; Lambda's order on sys.path: the task root
        # (added per handler), then the layer's site-packages and its python/
        where = LayerPython.for_layers([inspect_layer(layer)])
        self.sys_path = [str(p) for p in where.site_paths]
        self.command = [str(where.interpreter), "-I", "-S", "-B", str(CHILD)]
        self.env = where.environment()

    def __call__(self, request: dict[str, Any], timeout: float = 1800) -> dict[str, Any]:
        done = subprocess.run(self.command, input=json.dumps({**request, "sys_path": self.sys_path}),
                              capture_output=True, text=True, timeout=timeout, check=False, env=self.env)
        if done.returncode != 0:
            tail = "\n".join(done.stderr.strip().splitlines()[-6:])
            raise RuntimeError(f"the timing child failed ({request['what']}):\n{tail}")
        return json.loads(done.stdout.strip().splitlines()[-1])


def log(message: str) -> None:
    print(f"[handler {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def lay_out(work: Path, key: str, dataset: str, estimator: str, params: Mapping[str, str],
            layer: Path | None) -> tuple[Path, str]:
    """Train and package one model with lambdapack; its zip unpacked as Lambda's task root."""
    from lambdapack.archive import safe_extract
    from lambdapack.function.package import package_function
    from lambdapack.model.train import train

    model_dir = work / key / "model"
    with contextlib.redirect_stdout(sys.stderr):
        report = train(dataset=dataset, estimator=estimator, params=dict(params), out=model_dir, layer=layer)
    packaged = package_function(model_dir, work / key / "function.zip", layer)
    if packaged.predictor.serving != "predictor":
        raise RuntimeError(f"{key}: packaged for the joblib path ({packaged.predictor.reason})")
    task = work / key / "task"
    safe_extract(packaged.path, task)
    return task, f"{report.estimator_class.rpartition('.')[2]}, model.joblib {report.bytes:,} bytes, predictor " \
                 f"{packaged.predictor.bytes:,} bytes"


def crossover(sizes: Mapping[str, Any]) -> dict[str, Any]:
    """The smallest batch from which the estimator is faster at every larger size, its bracket, and the
    batch where the two lines cross when the ratio is interpolated linearly in log-log between them."""
    ordered = sorted((int(s), v["predictor"]["median_us"], v["estimator"]["median_us"]) for s, v in sizes.items())
    faster_from = next((ordered[i][0] for i in range(len(ordered))
                        if all(est < pred for _, pred, est in ordered[i:])), None)
    if faster_from is None:
        return {"batch": None, "between": None, "interpolated": None,
                "note": "the predictor is faster at every measured size"}
    index = [s for s, _, _ in ordered].index(faster_from)
    if index == 0:
        return {"batch": faster_from, "between": None, "interpolated": None,
                "note": "the estimator is faster from the smallest size"}
    (s0, p0, e0), (s1, p1, e1) = ordered[index - 1], ordered[index]
    r0, r1 = math.log(e0 / p0), math.log(e1 / p1)  # ≥ 0 below the crossing, < 0 above it
    t = r0 / (r0 - r1) if r0 != r1 else 0.5
    at = math.exp(math.log(s0) + t * (math.log(s1) - math.log(s0)))
    return {"batch": faster_from, "between": [s0, s1], "interpolated": round(at),
            "note": f"predictor faster up to {s0} rows, estimator from {s1}"}


def _median_ms(values_us: Sequence[float]) -> float:
    return round(statistics.median(values_us) / 1000, 4)


def collect(quick: bool, layer: Path | None, command: str) -> dict[str, Any]:
    rounds = 30 if quick else 300
    sizes = QUICK_BATCH_SIZES if quick else BATCH_SIZES
    min_reps, min_seconds = (3, 0.05) if quick else (9, 0.4)
    started = time.time()
    runner = Runner(layer)
    load_before = [round(x, 2) for x in os.getloadavg()]
    date = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    result: dict[str, Any] = {"schema": SCHEMA, "date": date, "command": command, "machine": machine(),
                              "load_before": load_before, "layer": str(layer.name) if layer else None,
                              "models": {}}
    # --quick leaves out the 300-tree forest: training and proving it takes most of a minute
    models = [m for m in MODELS if not (quick and m[0] == "digits_forest_300")]
    with tempfile.TemporaryDirectory(prefix="bench-handler-") as tmp:
        work = Path(tmp)
        tasks = {}
        for key, dataset, estimator, params, description in models:
            log(f"training and packaging {description}")
            tasks[key], detail = lay_out(work, key, dataset, estimator, params, layer)
            result["models"][key] = {"description": description, "dataset": dataset, "detail": detail}
        log(f"warm single-row calls, {rounds} interleaved rounds")
        warm = runner({"what": "warm", "task": str(tasks["iris_forest_100"]), "rounds": rounds})
        result["python"], result["versions"] = warm.pop("python"), warm.pop("versions")
        medians = {name: _median_ms(warm[name]) for name in ("guide", "predictor", "estimator")}
        result["warm_single_row"] = {
            "rounds": rounds, "median_ms": medians,
            "p90_ms": {name: round(p90(warm[name]) / 1000, 4) for name in medians},
            "guide_vs_predictor": round(medians["guide"] / medians["predictor"], 1),
            "guide_vs_estimator": round(medians["guide"] / medians["estimator"], 1),
            "estimator_vs_predictor": round(medians["estimator"] / medians["predictor"], 2),
        }
        for key, dataset, *_ in models:
            log(f"crossover: {key}, batches {', '.join(map(str, sizes))}")
            timings = runner({"what": "crossover", "task": str(tasks[key]), "dataset": dataset, "sizes": list(sizes),
                              "min_reps": min_reps, "min_seconds": min_seconds})
            timings.pop("python"), timings.pop("versions")
            first = runner({"what": "first_estimator", "task": str(tasks[key])})
            for values in timings.values():
                values["estimator_vs_predictor"] = round(values["estimator"]["median_us"]
                                                         / values["predictor"]["median_us"], 3)
            result["models"][key].update({"sizes": timings, "crossover": crossover(timings),
                                          "first_estimator": {k: v for k, v in first.items()
                                                              if k in ("init_s", "first_estimator_s")}})
    result["load_after"] = [round(x, 2) for x in os.getloadavg()]
    result["seconds"] = round(time.time() - started)
    return result


def run(quick: bool) -> dict[str, Any]:
    """bench/run.py's entry point: this Python's libraries, the figures a table can show."""
    result = collect(quick, None, f"bench_handler.run(quick={quick})")
    warm = result["warm_single_row"]
    return {
        "rounds": warm["rounds"],
        "guide_ms": warm["median_ms"]["guide"],
        "ours_ms": warm["median_ms"]["predictor"],
        "ours_estimator_ms": warm["median_ms"]["estimator"],
        "speedup": warm["guide_vs_predictor"],
        "speedup_estimator": warm["guide_vs_estimator"],
        "predictor_gain": warm["estimator_vs_predictor"],
        "crossover": {key: crossover_text(m["crossover"]) for key, m in result["models"].items()},
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="30 rounds, 4 batch sizes, short timings, no 300-tree forest")
    parser.add_argument("--layer", type=Path, help="time under this layer's Python with only the layer")
    parser.add_argument("--json", type=Path, help="write the full result here")
    parser.add_argument("--markdown", action="store_true", help="print tables instead of the JSON")
    parser.add_argument("--plot", type=Path, help="write the crossover plot (PNG) here")
    parser.add_argument("--from-json", type=Path, help="re-render a saved result; nothing is run")
    args = parser.parse_args(argv)
    if args.from_json:
        result = json.loads(args.from_json.read_text())
    else:
        shown = [a if not a.startswith("/") else Path(a).name for a in (sys.argv[1:] if argv is None else argv)]
        result = collect(args.quick, args.layer.resolve() if args.layer else None,
                         " ".join(["python bench/bench_handler.py", *shown]))
        if args.json:
            args.json.parent.mkdir(parents=True, exist_ok=True)
            args.json.write_text(json.dumps(result, indent=1) + "\n")
    if args.plot:
        plot(result, args.plot)
    sys.stdout.write(render_markdown(result) if args.markdown else json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
