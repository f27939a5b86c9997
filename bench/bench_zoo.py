"""The model zoo: which models the predictor serves, what the proof established, and what it buys.

For every model of ``bench/zoo_models.py`` (bare trees and ensembles, pipelines of scalers,
imputers and encoders, linear models, XGBoost, LightGBM, and a few the predictor does not
cover), the bench does what a user does: fit it, ``lambdapack model import``, ``lambdapack
build-layer --model`` (python3.12 x86_64, pinned to the model's own versions: one layer per
distinct set of libraries), ``lambdapack package --layer`` (default: the predictor when it is
proven) and ``lambdapack package --no-predictor --layer`` (the estimator path of the same
model; the machinery is ``bench/function_rounds.py``, shared with bench_boosters). Then, in one run,
fresh runtimes in the local emulator (``fresh_runtime.cold_start``:
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

The tables are ``bench/zoo_render.py``.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
for _path in (BENCH_DIR.parent, BENCH_DIR):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

import fresh_runtime as fresh  # noqa: E402
import function_rounds  # noqa: E402
import zoo_models  # noqa: E402
from zoo_render import render_markdown  # noqa: E402

SCHEMA = "lambdapack.bench.zoo/1"
DEFAULT_ROUNDS = 10
DEFAULT_WARM_CALLS = 20


def log(message: str) -> None:
    print(f"[zoo {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------- running


def collect(keys: Sequence[str] | None, rounds: int, warm_calls: int, command: str) -> dict[str, Any]:
    specs = zoo_models.by_key(keys)
    function_rounds.require(sorted({lib for s in specs for lib in s.libraries} | {"joblib"}), "bench_zoo")
    started = time.time()
    with function_rounds.workspace("bench-zoo-") as (work, layers):
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
        samples, conditions = function_rounds.timed_rounds(built, rounds, warm_calls, log)
    models = {b.spec.key: {**b.facts, **function_rounds.model_figures(samples[b.spec.key], b.facts)} for b in built}
    models = {s.key: models.get(s.key) or broken[s.key] for s in specs}
    return {"schema": SCHEMA, **conditions, **function_rounds.run_facts(command, started, rounds, warm_calls, layers),
            "models": models, "goals": function_rounds.tally(models)}


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


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help=f"models {', '.join(zoo_models.QUICK)}; 2 rounds")
    parser.add_argument("--models", nargs="+", metavar="KEY", help="only these models (bench/zoo_models.py keys)")
    parser.add_argument("--rounds", type=fresh.positive,
                        help=f"fresh runtimes per path and model (default {DEFAULT_ROUNDS})")
    parser.add_argument("--warm-calls", type=fresh.positive, default=DEFAULT_WARM_CALLS,
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
