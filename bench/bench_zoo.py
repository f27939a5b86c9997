"""The model zoo: which models the predictor serves, what the proof established, and what it buys.

For every model of ``bench/zoo_models.py`` (bare trees and ensembles, pipelines of scalers,
imputers and encoders, linear models, XGBoost, LightGBM, and a few the predictor does not
cover), the bench does what a user does: fit it, ``lambdapack model import``, ``lambdapack
build-layer --model`` (python3.12 x86_64, pinned to the model's own versions: one layer per
distinct set of libraries), ``lambdapack package --layer`` (default: the predictor when it is
proven) and ``lambdapack package --no-predictor --layer`` (the estimator path of the same
model; the machinery is ``bench/function_rounds.py``, shared with bench_boosters). Then, in one run,
fresh runtimes in the local emulator (``bench_coldstart.cold_start``:
the REPORT's ``Init Duration``, warm calls' ``Duration``), interleaved round by round:

- ``empty``: ``def lambda_handler(e, c): return e``, no layer (the floor, run beside each model
  so every predictor sample has an empty-handler sample of the same moment);
- ``predictor``: the default package with no layer (``invoke --local --no-layer``);
- ``joblib``: the ``--no-predictor`` package with its layer.

Goals (docs/benchmarks.md): Init Duration of a predictor-served model at most the empty
handler's + 30 ms (XGBoost and LightGBM: + 50 ms), as the median over rounds of the paired
difference; warm single-row Duration at most 1 ms (median).

Needs pandas, xgboost and lightgbm beside lambdapack in the Python that runs it (the bench
venv of docs/benchmarks.md), and CPython 3.12 for the functions.

    python bench/bench_zoo.py [--quick] [--rounds 10] [--models KEY ...] [--json docs/bench/zoo.json]
    python bench/bench_zoo.py --from-json docs/bench/zoo.json       # re-render only, writes nothing
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

import bench_coldstart as coldstart  # noqa: E402
import function_rounds  # noqa: E402
import zoo_models  # noqa: E402

SCHEMA = "lambdapack.bench.zoo/1"
DEFAULT_ROUNDS = 10
DEFAULT_WARM_CALLS = 20
PATH_LABELS = {"empty": "empty handler, no layer", "predictor": "package (predictor), no layer",
               "joblib": "package --no-predictor + layer"}
MB = 1_000_000


def log(message: str) -> None:
    print(f"[zoo {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------- rendering


def _mb(n: int | None) -> str:
    return "–" if n is None else f"{n / MB:.1f} MB" if n >= 100_000 else f"{n / 1000:.0f} kB"


def _ms(value: float | None) -> str:
    if value is None:
        return "–"
    return f"{value:,.0f} ms" if value >= 100 else f"{value:.1f} ms" if value >= 1 else f"{value:.2f} ms"


def _proof(model: Mapping[str, Any]) -> str:
    if model["serving"] == "failed":
        return model["reason"]
    if model["serving"] != "predictor":
        return f"joblib path: {model['reason']}"
    claim = model.get("claim") or {}
    parts = [f"{claim.get('rows', 0):,} rows, predictions identical"]
    for key in ("preprocessing", "scores", "probabilities"):
        if key in claim:
            parts.append(f"{key} {claim[key]}")
    return "; ".join(parts)


def coverage_table(result: Mapping[str, Any]) -> str:
    rows = ["| model | family | served by | what the proof established (package's claim) | function zip "
            "| model.predictor | layer (zip / unzipped) |", "|---|---|---|---|---|---|---|"]
    for model in result["models"].values():
        layer = result["layers"].get(model["layer"], {})
        served = {"predictor": "**predictor**", "joblib": "joblib"}.get(model["serving"], "**failed**")
        rows.append(f"| {model['label']} ({model['data']}) | {model['family']} | {served} | {_proof(model)} | "
                    f"{_mb(model['function_zip_bytes'])} | {_mb(model['predictor_bytes'])} | "
                    + (f"{model['layer']}: {_mb(layer.get('zip_bytes'))} / {_mb(layer.get('unzipped_bytes'))} |"
                       if model.get("layer") else "– |"))
    return "\n".join(rows)


def _goal_text(goal: Mapping[str, Any] | None) -> str:
    if not goal:
        return "–"
    return "met" if goal["met"] else "**missed**"


def timing_table(result: Mapping[str, Any]) -> str:
    rows = ["| model | Init: predictor, no layer | Init: estimator + layer | Init: empty handler | predictor − empty, "
            "paired median (quartiles) | predictor ÷ estimator | warm Duration: predictor | warm: estimator "
            "| Max Memory: predictor / estimator | Init goal | warm goal |", "|---" * 11 + "|"]
    for model in result["models"].values():
        paths = model["paths"]

        def p50(path: str, what: str, paths: Mapping[str, Any] = paths) -> float | None:
            return paths[path][what]["p50"] if path in paths else None

        diff = model.get("predictor_minus_empty")
        diff_text = (f"{diff['median_ms']:+.1f} ms ({diff['q1_ms']:+.1f} … {diff['q3_ms']:+.1f}), "
                     f"goal ≤ +{model['init_budget_ms']:.0f}") if diff else "–"
        ratio = f"{model['predictor_vs_joblib']:.3f}×" if "predictor_vs_joblib" in model else "–"
        memory = " / ".join("–" if p50(p, "max_memory_mb") is None else f"{p50(p, 'max_memory_mb'):.0f} MB"
                            for p in ("predictor", "joblib"))
        goals_ = model.get("goals") or {}
        rows.append(f"| {model['label']} | {_ms(p50('predictor', 'init_ms'))} | {_ms(p50('joblib', 'init_ms'))} | "
                    f"{_ms(p50('empty', 'init_ms'))} | {diff_text} | {ratio} | "
                    f"{_ms(p50('predictor', 'warm_duration_ms'))} | {_ms(p50('joblib', 'warm_duration_ms'))} | "
                    f"{memory} | {_goal_text(goals_.get('init'))} | {_goal_text(goals_.get('warm'))} |")
    return "\n".join(rows)


def layers_list(result: Mapping[str, Any]) -> str:
    return "\n".join(f"- {name}: " + ", ".join(f"{k} {v}" for k, v in layer["packages"].items())
                     for name, layer in result["layers"].items())


def conditions(result: Mapping[str, Any]) -> str:
    m = result.get("machine", {})
    during = result.get("load_during") or []
    counts = function_rounds.tally(result["models"])
    served = sum(1 for model in result["models"].values() if model["serving"] == "predictor")
    return "\n".join([
        f"Run {result['date']} ({result.get('seconds', '?')} s), `{result['command']}`; lambdapack "
        f"{result.get('lambdapack', '?')} ({result.get('git', '?')}).",
        f"Machine: {m.get('cores', '?')} × {m.get('cpu', '?')}, {m.get('memory_gb', '?')} GB RAM; load average "
        f"(1/5/15 min) before {coldstart.load_text(result['load_before'])}, after "
        f"{coldstart.load_text(result['load_after'])}"
        + (f"; 1-min load during the rounds {min(during):.2f}–{max(during):.2f}." if during else "."),
        f"Functions: Python {result['python']['function']} in the local emulator, {result['rounds']} rounds of fresh "
        f"runtimes, interleaved, {result['warm_calls']} warm calls after each first invoke; models fitted with "
        f"Python {result['python']['host']}.",
        f"{served} of {len(result['models'])} models served by the predictor. Goals met: Init ≤ empty handler + "
        f"budget {counts['init']['met']} of {counts['init']['of']}; warm Duration ≤ "
        f"{zoo_models.WARM_BUDGET_MS:g} ms {counts['warm']['met']} of {counts['warm']['of']}.",
    ])


def failures_list(result: Mapping[str, Any]) -> str:
    """The paths that failed or refused the request, which the timings leave out."""
    return "\n".join(f"- {model['label']}, {PATH_LABELS.get(path, path)}: {why}"
                     for model in result["models"].values() for path, why in (model.get("failed") or {}).items()
                     if path != "build")


def render_markdown(result: Mapping[str, Any]) -> str:
    parts = (conditions(result), coverage_table(result), layers_list(result), timing_table(result),
             failures_list(result))
    return "\n\n".join(p for p in parts if p) + "\n"


# ---------------------------------------------------------------------------- running


def collect(keys: Sequence[str] | None, rounds: int, warm_calls: int, command: str) -> dict[str, Any]:
    specs = zoo_models.by_key(keys)
    function_rounds.require(sorted({lib for s in specs for lib in s.libraries} | {"joblib"}), "bench_zoo")
    started = time.time()
    from lambdapack import __version__
    from lambdapack.archive import ZipEntry, write_zip
    from lambdapack.emulator.session import prepare

    with tempfile.TemporaryDirectory(prefix="bench-zoo-") as tmp:
        work = Path(tmp)
        write_zip(work / "empty.zip", [ZipEntry("lambda_function.py", coldstart.EMPTY_HANDLER.encode())])
        layers = function_rounds.Layers(work)
        built, broken = [], {}
        for spec in specs:
            log(f"{spec.key}: fit, import, package")
            try:
                built.append(function_rounds.first_answers(function_rounds.build_model(spec, work, layers)))
            except RuntimeError as exc:  # a lambdapack command failed: the model's row says why
                broken[spec.key] = function_rounds.failed_model(spec, str(exc).strip().splitlines()[-1][:300])
                log(f"  failed: {broken[spec.key]['reason']}")
                continue
            log(f"  served by {built[-1].facts['serving']}: {built[-1].facts['reason']}")
        with prepare(built[0].specs["empty"]) as prepared:
            function_python = prepared.python_full_version
        load_before = [round(x, 2) for x in os.getloadavg()]
        date = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        log(f"{rounds} rounds over {len(built)} models; load {coldstart.load_text(load_before)}")
        samples, load_during = function_rounds.measure(built, rounds, warm_calls,
                                                       on_round=lambda i: log(f"round {i + 1} done"))
        load_after = [round(x, 2) for x in os.getloadavg()]
    models = {b.spec.key: {**b.facts, **function_rounds.model_figures(samples[b.spec.key], b.facts)} for b in built}
    models = {s.key: models.get(s.key) or broken[s.key] for s in specs}
    return {"schema": SCHEMA, "date": date, "seconds": round(time.time() - started), "command": command,
            "machine": coldstart.machine(), "load_before": load_before, "load_after": load_after,
            "load_during": load_during,
            "python": {"host": ".".join(map(str, sys.version_info[:3])), "function": function_python},
            "lambdapack": __version__, "git": coldstart.git_commit(), "rounds": rounds, "warm_calls": warm_calls,
            "layers": layers.facts, "models": models, "goals": function_rounds.tally(models)}


def run(quick: bool) -> dict[str, Any]:
    """bench/run.py's entry point: per model, served by what, and the medians the goals judge."""
    result = collect(zoo_models.QUICK if quick else None, 2 if quick else DEFAULT_ROUNDS, 5 if quick else 10,
                     f"bench_zoo.run(quick={quick})")
    out: dict[str, Any] = {"rounds": result["rounds"], "load_before": result["load_before"], "goals": result["goals"]}
    for key, model in result["models"].items():
        paths = model["paths"]
        out[key] = {"serving": model["serving"],
                    "init_ms_p50": {p: v["init_ms"]["p50"] for p, v in paths.items()},
                    "warm_duration_ms_p50": {p: v["warm_duration_ms"]["p50"] for p, v in paths.items()}}
        if "predictor_minus_empty" in model:
            out[key]["predictor_minus_empty_ms"] = model["predictor_minus_empty"]["median_ms"]
    return out


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help=f"models {', '.join(zoo_models.QUICK)}; 2 rounds")
    parser.add_argument("--models", nargs="+", metavar="KEY", help="only these models (bench/zoo_models.py keys)")
    parser.add_argument("--rounds", type=_positive,
                        help=f"fresh runtimes per path and model (default {DEFAULT_ROUNDS})")
    parser.add_argument("--warm-calls", type=_positive, default=DEFAULT_WARM_CALLS,
                        help=f"warm invokes after each first one (default {DEFAULT_WARM_CALLS})")
    parser.add_argument("--json", type=Path, help="write the result there (e.g. docs/bench/zoo.json)")
    parser.add_argument("--from-json", type=Path, help="re-render a saved result; nothing is run or written")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None,
         collector: Callable[[Sequence[str] | None, int, int, str], dict[str, Any]] = collect) -> int:
    args = parse_args(argv)
    if args.from_json:
        result = json.loads(args.from_json.read_text())
    else:
        shown = [re.sub(r"^/tmp/\S+/", "", a) for a in (sys.argv[1:] if argv is None else argv)]
        keys = args.models or (list(zoo_models.QUICK) if args.quick else None)
        try:
            zoo_models.by_key(keys)
        except ValueError as exc:
            raise SystemExit(f"error: {exc}") from None
        rounds = args.rounds or (2 if args.quick else DEFAULT_ROUNDS)
        try:
            result = collector(keys, rounds, args.warm_calls, " ".join(["python bench/bench_zoo.py", *shown]))
        except function_rounds.MissingLibraries as exc:
            raise SystemExit(f"error: {exc}") from None
        if args.json:
            args.json.parent.mkdir(parents=True, exist_ok=True)
            args.json.write_text(json.dumps(result, indent=1) + "\n")
    sys.stdout.write(render_markdown(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
