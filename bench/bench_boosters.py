"""Boosters side by side: lambdapack's predictor, m2cgen, TL2cgen and ONNX Runtime on 500-tree models.

For each model of ``bench/booster_probes.py`` (XGBoost and LightGBM classifiers with missing values
and a categorical input, XGBoost and LightGBM regressors), the bench:

1. packages it with lambdapack the way ``bench_zoo`` does (``model import``, ``build-layer
   --model``, ``package`` with and without the predictor), and converts it with each peer
   (``bench/booster_peers.py``: what each one ships, and the one patch m2cgen needs);
2. answers 5,000 probe rows with each (training rows, rows on every kind of split threshold in the
   library's comparison precision, half-missing rows, near-zero or huge values) and compares with
   the library's own ``predict`` / ``predict_proba``: label mismatches, rows bit-identical in the
   library's output precision, the largest difference in ulps;
3. runs every one as a Lambda function in the local emulator, interleaved round by round with an
   empty handler (``bench_coldstart.cold_start`` through ``function_function_rounds.measure``): Init Duration and
   the warm single-row Duration, with the size of what each needs at run time.

Needs the bench venv of docs/benchmarks.md (the boosters and the peers; never the project's test
extra); it stops with the missing names otherwise.

    python bench/bench_boosters.py [--quick] [--rounds 10] [--models KEY ...] [--json docs/bench/boosters.json]
    python bench/bench_boosters.py --from-json docs/bench/boosters.json     # re-render only, writes nothing
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
from dataclasses import replace
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
for _path in (BENCH_DIR.parent, BENCH_DIR):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

import bench_coldstart as coldstart  # noqa: E402
import bench_zoo as zoo  # noqa: E402
import booster_peers as peers  # noqa: E402
import booster_probes as probes  # noqa: E402
import function_rounds  # noqa: E402
import zoo_models  # noqa: E402

SCHEMA = "lambdapack.bench.boosters/1"
DEFAULT_ROUNDS = 10
DEFAULT_WARM_CALLS = 20
CONTENDERS = ("lambdapack", "library", *peers.PEERS)
LABELS = {"empty": "empty handler", "lambdapack": "lambdapack predictor", "library": "the library itself (layer)",
          "m2cgen": "m2cgen (Python)", "tl2cgen": "TL2cgen (C, ctypes)", "onnxruntime": "ONNX Runtime (layer)"}
REQUIRED = ("pandas", "xgboost", "lightgbm", *sorted({m for ms in peers.PEER_MODULES.values() for m in ms}))
MB = 1_000_000


def log(message: str) -> None:
    print(f"[boosters {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------- accuracy


def lambdapack_evaluator(task_zip: Path, fitted: probes.Fitted, work: Path) -> Callable[[Any], tuple[Any, Any]]:
    """The packaged predictor, read from the function zip as the handler reads it."""
    from lambdapack.archive import safe_extract

    task = work / "lambdapack-task"
    safe_extract(task_zip, task)
    if str(task) not in sys.path:
        sys.path.insert(0, str(task))
    from lambdapack_runtime.model import Model

    predictor = Model(str(task)).predictor

    def evaluate(X: Any) -> tuple[Any, Any]:
        outputs, probas = predictor.predict(fitted.input_rows(X))
        return (outputs, probas) if fitted.task == "classification" else (None, outputs)

    return evaluate


def accuracy(fitted: probes.Fitted, evaluators: Mapping[str, Callable[[Any], tuple[Any, Any]]]) -> dict[str, Any]:
    X, kinds = probes.probe_rows(fitted)
    ref_labels, ref_values = probes.reference(fitted, X)
    out: dict[str, Any] = {"rows": len(kinds), "kinds": {k: kinds.count(k) for k in probes.SHARES}}
    for name, evaluate in evaluators.items():
        started = time.perf_counter()
        labels, values = evaluate(X)
        result = probes.compare(ref_labels, ref_values, labels, values, fitted.task, kinds)
        out[name] = {**result, "seconds": round(time.perf_counter() - started, 2)}
        log(f"  {name}: {result}")
    return out


# ---------------------------------------------------------------------------- one model


def _spec(fitted: probes.Fitted) -> zoo_models.ZooModel:
    features = None if fitted.categories else list(fitted.names)
    return zoo_models.ZooModel(fitted.key, fitted.label, "", fitted.library,
                               lambda: zoo_models.Fitted(fitted.model, features, fitted.event()),
                               init_budget_ms=zoo_models.BOOSTER_INIT_BUDGET_MS)


def build(fitted: probes.Fitted, work: Path,
          layers: function_rounds.Layers) -> tuple[function_rounds.Built, dict[str, Any]]:
    """lambdapack's functions and each peer's; the probe-row comparison; what each needs at run time."""
    from lambdapack.emulator.session import LocalFunctionSpec

    built = function_rounds.build_model(_spec(fitted), work, layers)
    facts: dict[str, Any] = {"label": fitted.label, "library": fitted.library, "task": fitted.task,
                             "serving": built.facts["serving"], "reason": built.facts["reason"],
                             "claim": built.facts["claim"], "event": fitted.event()}
    model_facts = peers.ModelFacts(fitted.library, fitted.task, fitted.names, fitted.categories)
    converted = peers.build_peers(fitted.model, model_facts, work / fitted.key / "peers")
    evaluators: dict[str, Callable[[Any], tuple[Any, Any]]] = {}
    if built.facts["serving"] == "predictor":
        evaluators["lambdapack"] = lambdapack_evaluator(built.specs["predictor"].function_zip, fitted,
                                                        work / fitted.key)
    # lambdapack's own row only when its predictor serves: otherwise its function is the library's
    specs = {"empty": built.specs["empty"], "library": built.specs["joblib"]}
    if "lambdapack" in evaluators:
        specs["lambdapack"] = built.specs["predictor"]
    layer_of = {"library": built.facts["layer"], "lambdapack": None}
    contenders: dict[str, Any] = {}
    for name, peer in converted.items():
        contenders[name] = {"error": peer.error, "note": peer.note, "dependencies": peer.dependencies,
                            "convert_seconds": peer.seconds}
        if peer.error:
            continue
        evaluators[name] = peer.evaluate  # type: ignore[assignment]
        layer = layers.for_requirements(peer.layer_requirements) if peer.layer_requirements else None
        layer_of[name] = layer[0] if layer else None
        specs[name] = LocalFunctionSpec(work / fitted.key / "peers" / name / "function.zip",
                                        (layer[1],) if layer else (), runtime=coldstart.RUNTIME,
                                        function_name=f"boosters-{fitted.key}-{name}")
    log(f"{fitted.key}: {probes.N_PROBES:,} probe rows through {', '.join(evaluators)}")
    facts["accuracy"] = accuracy(fitted, evaluators)
    for name in ("lambdapack", "library"):
        contenders[name] = {"error": None, "note": built.facts["reason"] if name == "lambdapack" else "",
                            "dependencies": "none (stdlib predictor)" if name in evaluators else
                            f"{fitted.library}, scikit-learn, numpy, scipy (the layer)"}
    for name, spec in specs.items():
        if name != "empty":
            contenders[name].update(function_zip_bytes=spec.function_zip.stat().st_size,
                                    function_unzipped_bytes=_unzipped(spec.function_zip), layer=layer_of.get(name))
    facts["contenders"] = contenders
    paths = tuple(p for p in ("empty", *CONTENDERS) if p in specs)
    return replace(built, specs=specs, paths=paths, facts=facts), facts


def _unzipped(path: Path) -> int:
    import zipfile

    with zipfile.ZipFile(path) as zf:
        return sum(info.file_size for info in zf.infolist())


# ---------------------------------------------------------------------------- rendering


def _mb(n: int | None) -> str:
    return "–" if n is None else f"{n / MB:.1f} MB" if n >= 100_000 else f"{n / 1000:.0f} kB"


def _ms(value: float | None) -> str:
    return zoo._ms(value)


def accuracy_table(result: Mapping[str, Any]) -> str:
    rows = ["| model | contender | label mismatches | rows bit-identical | max ulps | max difference | differing rows "
            "by kind |", "|---|---|---|---|---|---|---|"]
    for model in result["models"].values():
        acc = model["accuracy"]
        for name in CONTENDERS:
            if name == "library":
                continue
            entry = model["contenders"].get(name, {})
            got = acc.get(name)
            if got is None:
                why = entry.get("error") or (f"not served by the predictor: {model['reason']}"
                                             if name == "lambdapack" else "not run")
                rows.append(f"| {model['label']} | {LABELS[name]} | refused: {why} | – | – | – | – |")
                continue
            mismatches = got.get("label_mismatches")
            kinds = ", ".join(f"{k} {v}" for k, v in got.get("differing_rows_by_kind", {}).items()) or "none"
            rows.append(f"| {model['label']} | {LABELS[name]} | "
                        f"{'–' if mismatches is None else f'{mismatches:,}'} | {got['identical_rows']:,} of "
                        f"{got['rows']:,} ({got['precision']}) | {got['max_ulps']:,.0f} | "
                        f"{got.get('max_abs_difference', 0):.3g} | {kinds} |")
    return "\n".join(rows)


def runtime_table(result: Mapping[str, Any]) -> str:
    rows = ["| model | contender | needs at run time | function zip (unzipped) | layer (unzipped) | Init Duration "
            "p50 | − empty, paired median | warm Duration p50 |", "|---|---|---|---|---|---|---|---|"]
    for model in result["models"].values():
        paths = model.get("paths", {})
        for name in CONTENDERS:
            entry = model["contenders"].get(name, {})
            if name not in paths:
                continue
            layer = result["layers"].get(entry.get("layer") or "", {})
            diff = (model.get("minus_empty") or {}).get(name)
            diff_text = "–" if diff is None else f"{diff['median_ms']:+.1f} ms"
            rows.append(f"| {model['label']} | {LABELS[name]} | {entry.get('dependencies', '')} | "
                        f"{_mb(entry.get('function_unzipped_bytes'))} | {_mb(layer.get('unzipped_bytes'))} | "
                        f"{_ms(paths[name]['init_ms']['p50'])} | "
                        f"{diff_text} | "
                        f"{_ms(paths[name]['warm_duration_ms']['p50'])} |")
        if "empty" in paths:
            rows.append(f"| {model['label']} | {LABELS['empty']} | – | – | – | {_ms(paths['empty']['init_ms']['p50'])} "
                        f"| – | {_ms(paths['empty']['warm_duration_ms']['p50'])} |")
    return "\n".join(rows)


def notes_list(result: Mapping[str, Any]) -> str:
    """Each peer's notes (versions, what was adjusted), and the functions that failed or refused the request."""
    lines = []
    for model in result["models"].values():
        for name, why in (model.get("failed") or {}).items():
            lines.append(f"- {model['label']}, {LABELS.get(name, name)}, in the emulator: {why}")
        for name in CONTENDERS:
            note = (model["contenders"].get(name) or {}).get("note")
            if note and name != "lambdapack":
                lines.append(f"- {model['label']}, {LABELS[name]}: {note}")
    return "\n".join(lines)


def conditions(result: Mapping[str, Any]) -> str:
    m = result.get("machine", {})
    during = result.get("load_during") or []
    versions = ", ".join(f"{k} {v}" for k, v in result.get("versions", {}).items())
    return "\n".join([
        f"Run {result['date']} ({result.get('seconds', '?')} s), `{result['command']}`; lambdapack "
        f"{result.get('lambdapack', '?')} ({result.get('git', '?')}).",
        f"Machine: {m.get('cores', '?')} × {m.get('cpu', '?')}, {m.get('memory_gb', '?')} GB RAM; load average "
        f"(1/5/15 min) before {coldstart.load_text(result['load_before'])}, after "
        f"{coldstart.load_text(result['load_after'])}"
        + (f"; 1-min load during the rounds {min(during):.2f}–{max(during):.2f}." if during else "."),
        f"{result['probes']:,} probe rows per model; functions in the local emulator under Python "
        f"{result['python']['function']}, {result['rounds']} rounds of fresh runtimes, interleaved, "
        f"{result['warm_calls']} warm calls after each first invoke. Libraries: {versions}.",
    ])


def render_markdown(result: Mapping[str, Any]) -> str:
    parts = [conditions(result), accuracy_table(result), runtime_table(result), notes_list(result)]
    return "\n\n".join(p for p in parts if p) + "\n"


# ---------------------------------------------------------------------------- running


def library_versions() -> dict[str, str]:
    from importlib import metadata

    out = {}
    for name in ("xgboost-cpu", "lightgbm", "scikit-learn", "m2cgen", "treelite", "tl2cgen", "onnxmltools",
                 "onnxruntime"):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return out


def collect(keys: Sequence[str], rounds: int, warm_calls: int, command: str) -> dict[str, Any]:
    function_rounds.require(REQUIRED, "bench_boosters")
    started = time.time()
    from lambdapack import __version__
    from lambdapack.archive import ZipEntry, write_zip
    from lambdapack.emulator.session import prepare

    with tempfile.TemporaryDirectory(prefix="bench-boosters-") as tmp:
        work = Path(tmp)
        write_zip(work / "empty.zip", [ZipEntry("lambda_function.py", coldstart.EMPTY_HANDLER.encode())])
        layers = function_rounds.Layers(work)
        built, facts = [], {}
        for key in keys:
            log(f"{key}: fit {probes.N_TREES} trees")
            fitted = probes.MODELS[key]()
            one, facts[key] = build(fitted, work, layers)
            built.append(function_rounds.first_answers(one))
        with prepare(built[0].specs["empty"]) as prepared:
            function_python = prepared.python_full_version
        load_before = [round(x, 2) for x in os.getloadavg()]
        date = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        log(f"{rounds} rounds; load {coldstart.load_text(load_before)}")
        samples, load_during = function_rounds.measure(built, rounds, warm_calls,
                                                       on_round=lambda i: log(f"round {i + 1} done"))
        load_after = [round(x, 2) for x in os.getloadavg()]
    models = {}
    for b in built:
        budget = {"init_budget_ms": zoo_models.BOOSTER_INIT_BUDGET_MS}
        figures = function_rounds.model_figures(samples[b.spec.key], budget)
        models[b.spec.key] = {**facts[b.spec.key], "answers": b.facts.get("answers"), "failed": b.facts.get("failed"),
                              **{k: v for k, v in figures.items() if k in ("paths", "minus_empty")}}
    return {"schema": SCHEMA, "date": date, "seconds": round(time.time() - started), "command": command,
            "machine": coldstart.machine(), "load_before": load_before, "load_after": load_after,
            "load_during": load_during, "python": {"host": ".".join(map(str, sys.version_info[:3])),
                                                   "function": function_python},
            "lambdapack": __version__, "git": coldstart.git_commit(), "versions": library_versions(),
            "rounds": rounds, "warm_calls": warm_calls, "probes": probes.N_PROBES, "layers": layers.facts,
            "models": models}


def run(quick: bool) -> dict[str, Any]:
    """bench/run.py's entry point: per model and contender, the comparison and the medians."""
    keys = ["xgb_regressor"] if quick else list(probes.MODELS)
    result = collect(keys, 2 if quick else DEFAULT_ROUNDS, 5 if quick else 10, f"bench_boosters.run(quick={quick})")
    out: dict[str, Any] = {"rounds": result["rounds"], "load_before": result["load_before"]}
    for key, model in result["models"].items():
        out[key] = {name: {"label_mismatches": acc.get("label_mismatches"), "identical_rows": acc["identical_rows"],
                           "max_ulps": acc["max_ulps"]}
                    for name, acc in model["accuracy"].items() if isinstance(acc, dict) and "rows" in acc}
        out[key]["init_ms_p50"] = {p: v["init_ms"]["p50"] for p, v in model["paths"].items()}
        out[key]["warm_duration_ms_p50"] = {p: v["warm_duration_ms"]["p50"] for p, v in model["paths"].items()}
    return out


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="the XGBoost regressor only; 2 rounds")
    parser.add_argument("--models", nargs="+", choices=list(probes.MODELS), help="only these models")
    parser.add_argument("--rounds", type=zoo._positive, help=f"fresh runtimes per function (default {DEFAULT_ROUNDS})")
    parser.add_argument("--warm-calls", type=zoo._positive, default=DEFAULT_WARM_CALLS,
                        help=f"warm invokes after each first one (default {DEFAULT_WARM_CALLS})")
    parser.add_argument("--json", type=Path, help="write the result there (e.g. docs/bench/boosters.json)")
    parser.add_argument("--from-json", type=Path, help="re-render a saved result; nothing is run or written")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None,
         collector: Callable[[Sequence[str], int, int, str], dict[str, Any]] = collect) -> int:
    args = parse_args(argv)
    if args.from_json:
        result = json.loads(args.from_json.read_text())
    else:
        shown = [re.sub(r"^/tmp/\S+/", "", a) for a in (sys.argv[1:] if argv is None else argv)]
        keys = args.models or (["xgb_regressor"] if args.quick else list(probes.MODELS))
        rounds = args.rounds or (2 if args.quick else DEFAULT_ROUNDS)
        try:
            result = collector(keys, rounds, args.warm_calls, " ".join(["python bench/bench_boosters.py", *shown]))
        except function_rounds.MissingLibraries as exc:
            raise SystemExit(f"error: {exc}") from None
        if args.json:
            args.json.parent.mkdir(parents=True, exist_ok=True)
            args.json.write_text(json.dumps(result, indent=1) + "\n")
    sys.stdout.write(render_markdown(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
