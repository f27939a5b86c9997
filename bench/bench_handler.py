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
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import importlib.util
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

# The guide's handler, as published (only its `from joblib import load` shown as an import): the
# model is unpickled from the working directory, /var/task on Lambda, inside every call.
GUIDE_HANDLER = '''from joblib import load


def lambda_handler(event, context):
    # Load the features from the event dict
    sepal_length = float(event['sl'])
    sepal_width = float(event['sw'])
    petal_length = float(event['pl'])
    petal_width = float(event['pw'])
    # Set class names
    target_names = ['setosa','versicolor','virginica']
    # Load the pre-trained model
    rfc = load('model.joblib')
    # Predict a class based on the input
    y = rfc.predict([[sepal_length, sepal_width, petal_length, petal_width]])[0]
    # Turn encoding into class string
    c = target_names[y]
    print(c)
    # Return result as JSON
    return {
        'statusCode': 200,
        'body': c
    }
'''
SEED_EVENT = {"sl": 6.9, "sw": 3.1, "pl": 5.1, "pw": 2.3}
GUIDE_RESPONSE = {"statusCode": 200, "body": "virginica"}
SERVING_MODULES = ("lambdapack_serving", "lambdapack_predictor")
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


# ---------------------------------------------------------------------------- the child (timings)
# Runs under the function's interpreter (the layer's Python with --layer): standard library only
# at module level, so it needs nothing on sys.path beyond the task directory and the layer.


def _import_handler(task: Path, name: str, env: Mapping[str, str]) -> ModuleType:
    """``task/lambda_function.py`` imported as ``name`` under ``env``, with fresh serving modules."""
    for module in SERVING_MODULES:
        sys.modules.pop(module, None)
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    sys.path.insert(0, str(task))
    try:
        spec = importlib.util.spec_from_file_location(name, task / "lambda_function.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
        return module
    finally:
        sys.path.remove(str(task))
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _import_file(path: Path, name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def _time(call: Callable[[], object]) -> float:
    started = time.perf_counter()
    call()
    return time.perf_counter() - started


def child_warm(task: Path, rounds: int) -> dict[str, Any]:
    """Median warm single-row call of the guide's handler, ours (predictor) and ours with the estimator."""
    guide_file = task / "guide_function.py"
    guide_file.write_text(GUIDE_HANDLER)
    os.chdir(task)  # the guide loads 'model.joblib' from the working directory, as on Lambda
    contenders = {
        "guide": _import_file(guide_file, "bench_guide_function").lambda_handler,
        "predictor": _import_handler(task, "bench_fn_predictor", {"LAMBDAPACK_PREDICTOR": "1"}).lambda_handler,
        "estimator": _import_handler(task, "bench_fn_estimator", {"LAMBDAPACK_PREDICTOR": "0"}).lambda_handler,
    }
    times: dict[str, list[float]] = {name: [] for name in contenders}
    for name, handler in contenders.items():
        answer = handler(dict(SEED_EVENT), None)  # warm-up; all three must give the guide's answer
        if answer != GUIDE_RESPONSE:
            raise AssertionError(f"{name} answered {answer!r}")
    for _ in range(rounds):
        for name, handler in contenders.items():
            times[name].append(_time(lambda h=handler: h(dict(SEED_EVENT), None)))
    return {name: [round(t * 1e6, 2) for t in values] for name, values in times.items()}  # µs


def _dataset_rows(dataset: str) -> list[list[float]]:
    # the layer's scikit-learn ships the bundled datasets; shuffled once, the same for both paths
    import random

    from sklearn import datasets

    X = getattr(datasets, f"load_{dataset}")().data.tolist()
    random.Random(0).shuffle(X)
    return [[float(v) for v in row] for row in X]


def child_crossover(task: Path, dataset: str, sizes: Sequence[int], min_reps: int,
                    min_seconds: float) -> dict[str, Any]:
    """Per batch size, median seconds per call of the predictor and of the estimator path."""
    handler = _import_handler(task, f"bench_fn_{task.name}", {"LAMBDAPACK_PREDICTOR": "1"})
    model = handler.MODEL
    predictor, estimator = model.predictor, model.estimator()
    if predictor is None or estimator is None:
        raise RuntimeError(f"{task.name}: both the predictor and the estimator are needed")
    pool = _dataset_rows(dataset)
    out: dict[str, Any] = {}
    for size in sizes:
        rows = [pool[i % len(pool)] for i in range(size)]
        if predictor.predict(rows)[0] != estimator.predict(rows)[0]:
            raise AssertionError(f"{task.name}: predictor and estimator disagree on a batch of {size}")
        samples: dict[str, list[float]] = {"predictor": [], "estimator": []}
        spent = 0.0
        # alternate the two so drift hits both; stop once both have min_reps and the pair min_seconds
        while len(samples["predictor"]) < min_reps or spent < min_seconds:
            for name, path in (("predictor", predictor), ("estimator", estimator)):
                took = _time(lambda p=path, r=rows: p.predict(r))
                samples[name].append(took)
                spent += took
            if len(samples["predictor"]) >= 1000:
                break
        out[str(size)] = {name: {"median_us": round(statistics.median(v) * 1e6, 1), "reps": len(v)}
                          for name, v in samples.items()}
    return out


def child_first_estimator(task: Path) -> dict[str, float]:
    """In a fresh process: init with the predictor, then the first batch that needs the estimator."""
    started = time.perf_counter()
    handler = _import_handler(task, "bench_fn_first", {"LAMBDAPACK_PREDICTOR": "1"})
    init = time.perf_counter() - started
    started = time.perf_counter()
    handler.MODEL.estimator()
    return {"init_s": round(init, 4), "first_estimator_s": round(time.perf_counter() - started, 4)}


def child_main() -> None:
    request = json.loads(sys.stdin.read())
    sys.path[:0] = request["sys_path"]
    real_stdout = sys.stdout
    reply: dict[str, Any] = {}
    # the handlers log a line per request (and the guide prints its class): not into the reply
    with open(os.devnull, "w") as sink, contextlib.redirect_stdout(sink):
        if request["what"] == "warm":
            reply = child_warm(Path(request["task"]), request["rounds"])
        elif request["what"] == "crossover":
            reply = child_crossover(Path(request["task"]), request["dataset"], request["sizes"],
                                    request["min_reps"], request["min_seconds"])
        elif request["what"] == "first_estimator":
            reply = child_first_estimator(Path(request["task"]))
        reply["python"] = ".".join(map(str, sys.version_info[:3]))
        import numpy
        import sklearn

        reply["versions"] = {"scikit-learn": sklearn.__version__, "numpy": numpy.__version__}
    real_stdout.write(json.dumps(reply) + "\n")


# ---------------------------------------------------------------------------- the parent


class Runner:
    """Where the timings run: the layer's Python with only the layer, or this Python."""

    def __init__(self, layer: Path | None) -> None:
        self.layer = layer
        if layer is None:
            self.command = [sys.executable, "-I", "-B", str(Path(__file__).resolve()), "--child"]
            self.sys_path: list[str] = []
            return
        from lambdapack import interpreters
        from lambdapack.emulator import code

        info = code.inspect_layer(layer)
        version, _ = code.check_runnable([info])
        if version is None:
            raise RuntimeError(f"{layer} does not say which Python it is for")
        python = interpreters.require_python(tuple(int(p) for p in version.split(".")), None)
        opt = code.opt_dir_for([info])
        # Lambda's order: the task root (added per handler), the layer's site-packages, its python/
        self.sys_path = [str(opt / "python" / "lib" / f"python{version}" / "site-packages"), str(opt / "python")]
        self.command = [str(python), "-I", "-S", "-B", str(Path(__file__).resolve()), "--child"]

    def __call__(self, request: dict[str, Any], timeout: float = 1800) -> dict[str, Any]:
        done = subprocess.run(self.command, input=json.dumps({**request, "sys_path": self.sys_path}),
                              capture_output=True, text=True, timeout=timeout, check=False)
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
    result: dict[str, Any] = {"schema": SCHEMA, "date": date, "command": command, "machine": _machine(),
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
            "p90_ms": {name: round(_p90(warm[name]) / 1000, 4) for name in medians},
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


def _p90(values: Sequence[float]) -> float:
    return statistics.quantiles(values, n=10, method="inclusive")[-1] if len(values) > 1 else values[0]


def _machine() -> dict[str, Any]:
    cpu = "unknown CPU"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return {"cpu": cpu, "cores": os.cpu_count()}


# ---------------------------------------------------------------------------- rendering


def _us(value: float) -> str:
    if value >= 10_000:
        return f"{value / 1000:,.1f} ms"
    if value >= 1000:
        return f"{value / 1000:.2f} ms"
    return f"{value:.0f} µs"


def warm_table(result: Mapping[str, Any]) -> str:
    warm = result["warm_single_row"]
    m, p90 = warm["median_ms"], warm["p90_ms"]
    rows = ["| handler, warm, one row (guide's event) | median | p90 | guide ÷ this |", "|---|---|---|---|"]
    for name, label in (("guide", "the guide's (joblib.load in every call)"),
                        ("estimator", "lambdapack, `LAMBDAPACK_PREDICTOR=0` (estimator loaded at init)"),
                        ("predictor", "lambdapack, default (stdlib predictor)")):
        rows.append(f"| {label} | {m[name]:.3f} ms | {p90[name]:.3f} ms | {m['guide'] / m[name]:.1f}× |")
    return "\n".join(rows)


def crossover_table(result: Mapping[str, Any]) -> str:
    models = result["models"]
    sizes = sorted({int(s) for m in models.values() for s in m.get("sizes", {})})
    header = "| batch rows | " + " | ".join(f"{m['description']}: predictor / estimator (ratio)"
                                             for m in models.values()) + " |"
    rows = [header, "|---" * (len(models) + 1) + "|"]
    for size in sizes:
        cells = []
        for m in models.values():
            v = m["sizes"].get(str(size))
            if v is None:
                cells.append("–")
                continue
            cells.append(f"{_us(v['predictor']['median_us'])} / {_us(v['estimator']['median_us'])} "
                         f"({v['estimator_vs_predictor']:.2f})")
        rows.append(f"| {size} | " + " | ".join(cells) + " |")
    rows.append("| **crossover** | " + " | ".join(_crossover_text(m["crossover"]) for m in models.values()) + " |")
    rows.append("| handler init with the predictor, fresh process | " + " | ".join(
        f"{m['first_estimator']['init_s'] * 1000:.0f} ms" for m in models.values()) + " |")
    rows.append("| first estimator batch, once per runtime | " + " | ".join(
        f"{m['first_estimator']['first_estimator_s']:.2f} s" for m in models.values()) + " |")
    return "\n".join(rows)


def _crossover_text(c: Mapping[str, Any]) -> str:
    if c.get("batch") is None:
        return "none ≤ the largest size"
    if c.get("between"):
        near = f" (≈ {c['interpolated']})" if c.get("interpolated") else ""
        return f"between {c['between'][0]} and {c['between'][1]} rows{near}"
    return f"≤ {c['batch']} rows"


def render_markdown(result: Mapping[str, Any]) -> str:
    machine = result.get("machine", {})
    head = (f"Run {result['date']} ({result.get('seconds', '?')} s), `{result['command']}`; "
            f"{machine.get('cores')} × {machine.get('cpu')}; load average before "
            f"{' / '.join(map(str, result['load_before']))}, after {' / '.join(map(str, result['load_after']))}; "
            f"Python {result.get('python')}, scikit-learn {result.get('versions', {}).get('scikit-learn')}, numpy "
            f"{result.get('versions', {}).get('numpy')}"
            + (f", layer {result['layer']}" if result.get("layer") else ", this Python's own libraries") + ".")
    return "\n\n".join((head, warm_table(result), crossover_table(result))) + "\n"


def plot(result: Mapping[str, Any], dest: Path) -> Path:
    """Per model, time per row of each path against the batch size (log-log): where the lines cross."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    models = result["models"]
    fig, axes = plt.subplots(1, len(models), figsize=(5 * len(models), 3.8), squeeze=False)
    for ax, model in zip(axes[0], models.values(), strict=True):
        sizes = sorted(int(s) for s in model["sizes"])
        for name, colour in (("predictor", "#d9480f"), ("estimator", "#364fc7")):
            per_row = [model["sizes"][str(n)][name]["median_us"] / n for n in sizes]
            ax.plot(sizes, per_row, marker="o", markersize=3, color=colour, label=name)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("rows per request", fontsize=9)
        ax.set_ylabel("µs per row (median)", fontsize=9)
        ax.set_title(f"{model['description']}\ncrossover: {_crossover_text(model['crossover'])}", fontsize=9)
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=8)
    fig.suptitle(f"stdlib predictor vs the estimator path, warm, same process ({result['date'][:16].replace('T', ' ')} "
                 f"UTC, Python {result.get('python')}, scikit-learn {result.get('versions', {}).get('scikit-learn')})",
                 fontsize=10)
    fig.tight_layout()
    dest.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(dest, dpi=110)
    plt.close(fig)
    return dest


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
        "crossover": {key: _crossover_text(m["crossover"]) for key, m in result["models"].items()},
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
    if sys.argv[1:] == ["--child"]:
        child_main()
    else:
        sys.exit(main())
