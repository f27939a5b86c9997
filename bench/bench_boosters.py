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
   empty handler (``fresh_runtime.cold_start`` through ``function_rounds.measure``): Init Duration and
   the warm single-row Duration, with the size of what each needs at run time.

lambdapack's goals, judged per model (``goals``): served by the predictor with no layer; Init
Duration at most the empty handler's + 50 ms (median of the paired difference); warm single-row
Duration at most 1 ms; no label mismatch; probabilities (values for a regressor) within 2 ulp of
the library's; more rows bit-identical than TL2cgen (Treelite). The tables are
``bench/boosters_render.py``.

Needs the bench venv of docs/benchmarks.md (the boosters and the peers; never the project's test
extra); it stops with the missing names otherwise.

    python bench/bench_boosters.py [--quick] [--rounds 10] [--models KEY ...] [--json docs/bench/boosters.json]
    python bench/bench_boosters.py --from-json docs/bench/boosters.json     # re-render only, writes nothing
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
for _path in (BENCH_DIR.parent, BENCH_DIR):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

import booster_peers as peers  # noqa: E402
import booster_probes as probes  # noqa: E402
import fresh_runtime as fresh  # noqa: E402
import function_rounds  # noqa: E402
import zoo_models  # noqa: E402
from boosters_render import CONTENDERS, render_markdown  # noqa: E402

SCHEMA = "lambdapack.bench.boosters/1"
DEFAULT_ROUNDS = 10
DEFAULT_WARM_CALLS = 20
# lambdapack's goals (docs/benchmarks.md)
INIT_BUDGET_MS = zoo_models.BOOSTER_INIT_BUDGET_MS
WARM_BUDGET_MS = zoo_models.WARM_BUDGET_MS
MAX_ULPS = 2
REQUIRED = ("pandas", "xgboost", "lightgbm", *sorted({m for ms in peers.PEER_MODULES.values() for m in ms}))


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
                                        (layer[1],) if layer else (), runtime=fresh.RUNTIME,
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


# ---------------------------------------------------------------------------- lambdapack's goals


def _goal(goal: str, target: str, measured: str, met: bool, tied: bool = False) -> dict[str, Any]:
    """One goal's verdict; ``tied``: not met, because the peer is as good as can be (every row exact)."""
    return {"goal": goal, "target": target, "measured": measured, "met": bool(met), **({"tied": True} if tied else {})}


def _timing_goals(model: Mapping[str, Any]) -> list[dict[str, Any]]:
    over = model["minus_empty"]["lambdapack"]
    warm = model["paths"]["lambdapack"]["warm_duration_ms"]["p50"]
    return [
        _goal("Init Duration − empty handler, paired median over rounds", f"≤ +{INIT_BUDGET_MS:g} ms",
              f"{over['median_ms']:+.1f} ms ({over['q1_ms']:+.1f} … {over['q3_ms']:+.1f})",
              over["median_ms"] <= INIT_BUDGET_MS),
        _goal("warm single-row Duration, median", f"≤ {WARM_BUDGET_MS:g} ms", f"{warm:.2f} ms",
              warm <= WARM_BUDGET_MS),
    ]


def _answer_goals(model: Mapping[str, Any]) -> list[dict[str, Any]]:
    ours = model["accuracy"]["lambdapack"]
    out = []
    if model["task"] == "classification":
        out.append(_goal("label mismatches on the probe rows", "0", f"{ours['label_mismatches']:,}",
                         ours["label_mismatches"] == 0))
    outputs = "probabilities" if model["task"] == "classification" else "values"
    out.append(_goal(f"{outputs}, largest distance from the library's", f"≤ {MAX_ULPS} ulp ({ours['precision']})",
                     f"{ours['max_ulps']:,.0f} ulp", ours["max_ulps"] <= MAX_ULPS))
    treelite = model["accuracy"].get("tl2cgen")
    if treelite is None:
        refused = (model["contenders"].get("tl2cgen") or {}).get("error") or "not run"
        out.append(_goal("rows bit-identical, more than TL2cgen (Treelite)", "more rows",
                         f"{ours['identical_rows']:,} against none (TL2cgen: {refused.split(':')[0]})",
                         ours["identical_rows"] > 0))
    else:
        both_exact = ours["identical_rows"] == treelite["identical_rows"] == ours["rows"]
        out.append(_goal("rows bit-identical, more than TL2cgen (Treelite)", "more rows",
                         f"{ours['identical_rows']:,} against {treelite['identical_rows']:,}",
                         ours["identical_rows"] > treelite["identical_rows"], tied=both_exact))
    return out


def goals(model: Mapping[str, Any]) -> list[dict[str, Any]]:
    """lambdapack's goals on one model: served by the predictor, its Init and warm Duration, its answers."""
    if "lambdapack" not in model["accuracy"] or "lambdapack" not in model.get("paths", {}):
        why = (model.get("failed") or {}).get("lambdapack") or f"{model['serving']}: {model['reason']}"
        return [_goal("served by the predictor, no layer", "predictor", why, False)]
    return [*_timing_goals(model), *_answer_goals(model)]


def tally(models: Mapping[str, Any]) -> dict[str, int]:
    """How many of lambdapack's goals this run met, over every model."""
    every = [g for model in models.values() for g in model.get("goals") or ()]
    return {"met": sum(g["met"] for g in every), "of": len(every), "tied": sum(bool(g.get("tied")) for g in every)}


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
    with function_rounds.workspace("bench-boosters-") as (work, layers):
        built, facts = [], {}
        for key in keys:
            log(f"{key}: fit {probes.N_TREES} trees")
            fitted = probes.MODELS[key]()
            one, facts[key] = build(fitted, work, layers)
            built.append(function_rounds.first_answers(one))
        samples, conditions = function_rounds.timed_rounds(built, rounds, warm_calls, log)
    models = {}
    for b in built:
        figures = function_rounds.model_figures(samples[b.spec.key], {"init_budget_ms": INIT_BUDGET_MS})
        models[b.spec.key] = {**facts[b.spec.key], "answers": b.facts.get("answers"), "failed": b.facts.get("failed"),
                              **{k: v for k, v in figures.items() if k in ("paths", "minus_empty")}}
        models[b.spec.key]["goals"] = goals(models[b.spec.key])
    return {"schema": SCHEMA, **conditions, **function_rounds.run_facts(command, started, rounds, warm_calls, layers),
            "versions": library_versions(), "probes": probes.N_PROBES, "models": models, "goals": tally(models)}


def run(quick: bool) -> dict[str, Any]:
    """bench/run.py's entry point: per model and contender, the comparison and the medians."""
    keys = ["xgb_regressor"] if quick else list(probes.MODELS)
    result = collect(keys, 2 if quick else DEFAULT_ROUNDS, 5 if quick else 10, f"bench_boosters.run(quick={quick})")
    out: dict[str, Any] = {"rounds": result["rounds"], "load_before": result["load_before"],
                           "goals": result["goals"]}
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
    parser.add_argument("--rounds", type=fresh.positive, help=f"fresh runtimes per function (default {DEFAULT_ROUNDS})")
    parser.add_argument("--warm-calls", type=fresh.positive, default=DEFAULT_WARM_CALLS,
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
