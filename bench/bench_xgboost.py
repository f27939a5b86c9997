"""A 500-tree XGBoost classifier with missing values and a categorical input, served with no layer.

1. **The model**: ``XGBClassifier(n_estimators=500, max_depth=6, enable_categorical=True)`` fitted
   on 5,000 synthetic rows (six numbers, three of them missing in a fifth of the rows, and a
   pandas category of eight plans, missing in a tenth), imported and packaged with lambdapack
   (``import_model``, ``package_function``): how long the proof took, on how many rows, what it
   claims.
2. **Agreement on 5,000 probe rows of the bench's own** (not the proof's): 2,000 training rows,
   1,500 rows on a split (the split value itself, or the float32 just below it, for a random
   numeric split each), 1,500 training rows with every value missing at even odds. The packaged
   predictor against XGBoost's ``predict`` (labels), ``predict(output_margin=True)`` (margins)
   and ``predict_proba``: label mismatches, the largest distance in float32 units in the last
   place, and how many rows come out bit for bit.
3. **Timings under CPython 3.12, isolated** (``-I -S``, only the unpacked function on
   ``sys.path``, no numpy, no XGBoost): the handler's import in a fresh process (what init
   does: manifests, the predictor's sha256, decoding its tables, the self-check) against an
   empty handler's, and warm single-row calls of ``lambda_handler`` (an event per row, five kinds
   of rows interleaved) and of the predictor alone.

    python bench/bench_xgboost.py [--quick] [--json OUT] [--markdown]
    python bench/bench_xgboost.py --from-json docs/bench/xgboost.json --markdown   # re-render only
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import fresh_runtime  # bench/ is on sys.path: the script's own directory, or run.py's

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = "lambdapack.bench.xgboost/1"
PLANS = ["basic", "fiber", "mobile", "family", "business", "student", "senior", "promo"]
NUMBERS = ["tenure", "monthly", "calls", "data_gb", "age", "support"]
GOALS = {"warm_ms": 1.0, "init_over_empty_ms": 50.0, "label_mismatches": 0, "probability_ulps": 2}

# Runs under the function's CPython with -I -S: the standard library and the task directory only.
CHILD = r"""
import json, statistics, sys, time
task, events, rounds = sys.argv[1], json.loads(sys.argv[2]), int(sys.argv[3])
sys.path.insert(0, task)
started = time.perf_counter()
import lambda_function
init_ms = (time.perf_counter() - started) * 1e3
out = {"init_ms": init_ms, "python": sys.version.split()[0],
       "layer_modules": sorted({m.split(".")[0] for m in sys.modules} & {"numpy", "pandas", "xgboost", "sklearn"})}
if rounds:
    handler, predictor = lambda_function.lambda_handler, lambda_function.MODEL.predictor
    rows = [lambda_function.MODEL.inputs.row_from_object(e, "") for e in events]
    for event in events:
        assert handler(dict(event), None)["statusCode"] == 200
    calls, alone = [], []
    for _ in range(rounds):
        for event, row in zip(events, rows):
            t = time.perf_counter(); handler(dict(event), None); calls.append((time.perf_counter() - t) * 1e6)
            t = time.perf_counter(); predictor.predict([row]); alone.append((time.perf_counter() - t) * 1e6)
    out.update(handler_us=calls, predictor_us=alone)
print(json.dumps(out))
"""
EMPTY_HANDLER = "def lambda_handler(event, context):\n    return {'statusCode': 200, 'body': 'ok'}\n"


def log(message: str) -> None:
    print(f"[bench_xgboost] {message}", file=sys.stderr, flush=True)


def dataset(n: int, seed: int) -> tuple[Any, Any]:
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    df = pd.DataFrame({name: rng.normal(size=n) * scale for name, scale in zip(NUMBERS, (20, 30, 5, 8, 15, 2),
                                                                                 strict=True)})
    df["plan"] = pd.Categorical(rng.choice(PLANS, size=n), categories=PLANS)
    for name in ("tenure", "monthly", "data_gb"):
        df.loc[rng.random(n) < 0.2, name] = np.nan
    df.loc[rng.random(n) < 0.1, "plan"] = np.nan
    score = (df.tenure.fillna(-10) / 20 - df.monthly.fillna(0) / 40 + df.calls / 5 + np.sin(df.age / 10)
             + df.plan.isin(["fiber", "business"]) * 0.8 - (df.plan == "promo") * 1.1 + rng.normal(size=n) * 0.7)
    return df, (score > 0.1).astype(int)


def probe_rows(booster: Any, df: Any, seed: int) -> tuple[Any, dict[str, int]]:
    """2,000 training rows, 1,500 on a split or the float32 just below it, 1,500 half missing."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    splits = [(f, c) for tree in json.loads(bytes(booster.save_raw("json")))["learner"]["gradient_booster"]["model"][
        "trees"] for f, c, left, kind in zip(tree["split_indices"], tree["split_conditions"], tree["left_children"],
                                             tree.get("split_type") or [0] * len(tree["left_children"]), strict=True)
        if left != -1 and kind == 0]
    training = df.sample(2000, random_state=seed)
    on_splits = df.sample(1500, replace=True, random_state=seed + 1).reset_index(drop=True)
    for i, k in enumerate(rng.integers(len(splits), size=len(on_splits))):
        feature, split = splits[int(k)]
        value = np.float32(split) if i % 2 else np.nextafter(np.float32(split), np.float32(-np.inf))
        on_splits.iloc[i, int(feature)] = float(value)
    missing = df.sample(1500, replace=True, random_state=seed + 2).reset_index(drop=True)
    for name in missing.columns:
        holes = rng.random(len(missing)) < 0.5
        missing.loc[holes, name] = np.nan if name != "plan" else None
    rows = pd.concat([training, on_splits, missing], ignore_index=True)
    rows["plan"] = pd.Categorical(rows["plan"], categories=PLANS)
    return rows, {"training": len(training), "on_a_split": len(on_splits), "half_missing": len(missing)}


def _as_request_row(record: Sequence[Any], columns: Sequence[str]) -> list:
    import math

    return [None if name == "plan" and isinstance(v, float) and math.isnan(v) else v
            for name, v in zip(columns, record, strict=True)]


def agreement(task: Path, est: Any, rows: Any) -> dict[str, Any]:
    """The packaged predictor against XGBoost on ``rows``: labels, margins, probabilities."""
    import numpy as np

    sys.path.insert(0, str(task))
    try:
        from lambdapack_runtime import links
        from lambdapack_runtime import predictor as runtime
    finally:
        sys.path.remove(str(task))
    manifest = json.loads((task / "function.json").read_text())
    predictor = runtime.load(str(task / "model.predictor"), manifest["predictor"]["sha256"])
    requests = [_as_request_row(r, list(rows.columns)) for r in rows.itertuples(index=False)]
    labels, probas = predictor.predict(requests)
    margins = np.array([predictor.raw(r)[0] for r in requests], dtype=np.float32)
    expected = est.predict_proba(rows).astype(np.float32)
    apart = _ulps(np.array(probas, dtype=np.float32), expected)
    # the same rows through exp rounded to float32, the predictor's expf where there is no C library's
    predictor.output.expf = links._python_expf
    without = _ulps(np.array(predictor.predict(requests)[1], dtype=np.float32), expected)
    return {"rows": len(requests), "label_mismatches": int(np.sum(np.array(labels) != est.predict(rows))),
            "margins_bit_identical": int(np.sum(margins.view(np.int32) == est.predict(rows, output_margin=True)
                                                .astype(np.float32).view(np.int32))),
            "probabilities_bit_identical": int(np.sum(np.all(apart == 0, axis=1))),
            "probability_max_ulps": int(np.max(apart)),
            "python_expf": {"bit_identical": int(np.sum(np.all(without == 0, axis=1))),
                            "max_ulps": int(np.max(without))}}


def _ulps(a: Any, b: Any) -> Any:
    """Elementwise distance of two float32 arrays in units in the last place."""
    import numpy as np

    ia, ib = a.view(np.int32).astype(np.int64), b.view(np.int32).astype(np.int64)
    ia, ib = np.where(ia < 0, -(ia & 0x7FFFFFFF), ia), np.where(ib < 0, -(ib & 0x7FFFFFFF), ib)
    return np.abs(ia - ib)


def package(work: Path, est: Any) -> tuple[Path, dict[str, Any]]:
    import joblib

    from lambdapack.archive import safe_extract
    from lambdapack.function.package import package_function
    from lambdapack.model.importer import import_model

    joblib.dump(est, work / "churn.joblib")
    model_dir = import_model(work / "churn.joblib", out=work / "model").out
    started = time.perf_counter()
    report = package_function(model_dir, work / "function.zip", runtime="python3.12")
    seconds = time.perf_counter() - started
    task = work / "task"
    safe_extract(work / "function.zip", task)
    predictor = report.predictor
    verification = dict(predictor.verification)
    if predictor.serving != "predictor":
        raise SystemExit(f"the model was not served by the predictor: {predictor.reason}")
    return task, {"package_s": round(seconds, 1), "predictor_bytes": (task / "model.predictor").stat().st_size,
                  "reason": predictor.reason, "claim": json.loads((task / "function.json").read_text())["claim"],
                  "proof": {k: verification.get(k) for k in ("rows", "leaves", "nodes", "trees", "missing_nodes",
                                                              "missing_unreached")}}


def child(python: Path, task: Path, events: list[dict], rounds: int) -> dict[str, Any]:
    done = subprocess.run([str(python), "-I", "-S", "-c", CHILD, str(task), json.dumps(events), str(rounds)],
                          capture_output=True, text=True, check=True, cwd=task, timeout=600,
                          env={"PATH": os.environ.get("PATH", "")})
    return json.loads(done.stdout.strip().splitlines()[-1])


def timings(python: Path, task: Path, work: Path, events: list[dict], inits: int, rounds: int) -> dict[str, Any]:
    empty = work / "empty"
    empty.mkdir()
    (empty / "lambda_function.py").write_text(EMPTY_HANDLER)
    init, bare = [], []
    for _ in range(inits):  # interleaved, so load on the machine hits both alike
        init.append(child(python, task, events, 0)["init_ms"])
        bare.append(child(python, empty, [], 0)["init_ms"])
    warm = child(python, task, events, rounds)
    return {"python": warm["python"], "layer_modules": warm["layer_modules"], "inits": inits, "rounds": rounds,
            "init_ms": round(statistics.median(init), 2), "empty_init_ms": round(statistics.median(bare), 2),
            "handler_us": {"median": round(statistics.median(warm["handler_us"]), 1),
                           "p90": round(statistics.quantiles(warm["handler_us"], n=10)[-1], 1)},
            "predictor_us": {"median": round(statistics.median(warm["predictor_us"]), 1),
                             "p90": round(statistics.quantiles(warm["predictor_us"], n=10)[-1], 1)}}


def collect(quick: bool, command: str) -> dict[str, Any]:
    import sklearn
    import xgboost

    from lambdapack.interpreters import find_python

    python = find_python((3, 12))
    if python is None:
        raise SystemExit("CPython 3.12 is needed for the timings (pyenv install 3.12)")
    started = time.time()
    date = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    result: dict[str, Any] = {"schema": SCHEMA, "date": date, "command": command, "machine": fresh_runtime.machine(),
                              "load_before": [round(x, 2) for x in os.getloadavg()],
                              "versions": {"xgboost": xgboost.__version__, "scikit-learn": sklearn.__version__}}
    df, y = dataset(5000, 0)
    log("fitting 500 trees")
    est = xgboost.XGBClassifier(n_estimators=500, max_depth=6, learning_rate=0.05, enable_categorical=True,
                                max_cat_to_onehot=1, random_state=0).fit(df, y)
    with tempfile.TemporaryDirectory(prefix="bench-xgboost-") as tmp:
        work = Path(tmp)
        log("importing and packaging (the proof runs in XGBoost itself)")
        task, result["model"] = package(work, est)
        rows, result["probe_rows"] = probe_rows(est.get_booster(), df, 1)
        log(f"agreement on {len(rows):,} probe rows")
        result["agreement"] = agreement(task, est, rows)
        events = [dict(zip(rows.columns, _as_request_row(r, list(rows.columns)), strict=True))
                  for r in rows.iloc[[0, 2100, 2600, 3600, 4900]].itertuples(index=False)]
        events = [{k: (None if isinstance(v, float) and v != v else v) for k, v in e.items()} for e in events]
        log("timings under CPython 3.12 -I -S")
        result["timing"] = timings(python, task, work, events, inits=5 if quick else 21, rounds=30 if quick else 400)
    result["goals"] = goals(result)
    result["load_after"] = [round(x, 2) for x in os.getloadavg()]
    result["seconds"] = round(time.time() - started)
    return result


def goals(result: Mapping[str, Any]) -> list[dict[str, Any]]:
    timing, agree = result["timing"], result["agreement"]
    measured = {"warm_ms": timing["handler_us"]["median"] / 1000,
                "init_over_empty_ms": timing["init_ms"] - timing["empty_init_ms"],
                "label_mismatches": agree["label_mismatches"], "probability_ulps": agree["probability_max_ulps"]}
    return [{"goal": key, "limit": GOALS[key], "measured": round(measured[key], 3),
             "verdict": "met" if measured[key] <= GOALS[key] else "missed"} for key in GOALS]


# ---------------------------------------------------------------------------- rendering

GOAL_TEXT = {"warm_ms": ("warm single row through the handler", "≤ {:g} ms", "{:.3f} ms"),
             "init_over_empty_ms": ("init above an empty handler", "≤ {:g} ms", "{:+.1f} ms"),
             "label_mismatches": ("label mismatches on the probe rows", "{:g}", "{:g}"),
             "probability_ulps": ("probabilities, largest distance", "≤ {:g} float32 ulp", "{:g} ulp")}


def render_markdown(result: Mapping[str, Any]) -> str:
    model, agree, timing, probes = result["model"], result["agreement"], result["timing"], result["probe_rows"]
    proof = model["proof"]
    load = " / ".join(f"{x:g}" for x in result["load_before"])
    lines = [f"Run {result['date']} ({result['seconds']} s), `{result['command']}`; {result['machine']['cores']} × "
             f"{result['machine']['cpu']}; load average before {load}; XGBoost {result['versions']['xgboost']}, "
             f"timings under Python {timing['python']} with no layer (modules of a layer imported: "
             f"{', '.join(timing['layer_modules']) or 'none'}).", "",
             "| what | figure |", "|---|---|",
             f"| package (import the model, prove, write the zip) | {model['package_s']:g} s |",
             f"| proof rows, leaves reached, trees | {proof['rows']:,}, {proof['leaves']:,} (all), "
             f"{proof['trees']:,} |",
             f"| default branches a missing value takes in the proof | "
             f"{proof['missing_nodes'] - proof['missing_unreached']:,} of {proof['missing_nodes']:,} nodes "
             f"(the others no missing value can reach) |",
             f"| predictor file | {model['predictor_bytes'] / 1000:,.1f} kB |",
             f"| probe rows (training, on a split, half missing) | {agree['rows']:,} ({probes['training']:,}, "
             f"{probes['on_a_split']:,}, {probes['half_missing']:,}) |",
             f"| label mismatches | {agree['label_mismatches']} |",
             f"| margins bit-identical | {agree['margins_bit_identical']:,} of {agree['rows']:,} rows |",
             f"| probabilities bit-identical | {agree['probabilities_bit_identical']:,} of {agree['rows']:,} rows "
             f"(largest distance {agree['probability_max_ulps']} float32 ulp) |",
             f"| the same without the C library's `expf` (exp rounded to float32) | "
             f"{agree['python_expf']['bit_identical']:,} of {agree['rows']:,} rows bit-identical, largest distance "
             f"{agree['python_expf']['max_ulps']} float32 ulp |",
             f"| handler import, fresh process (median of {timing['inits']}) | {timing['init_ms']:.1f} ms "
             f"(empty handler {timing['empty_init_ms']:.1f} ms) |",
             f"| warm `lambda_handler`, one row (median, p90 of {timing['rounds'] * 5:,}) | "
             f"{timing['handler_us']['median'] / 1000:.3f} ms, {timing['handler_us']['p90'] / 1000:.3f} ms |",
             f"| warm predictor alone, one row (median, p90) | {timing['predictor_us']['median'] / 1000:.3f} ms, "
             f"{timing['predictor_us']['p90'] / 1000:.3f} ms |", "",
             "| goal | limit | measured | verdict |", "|---|---|---|---|"]
    for goal in result["goals"]:
        label, limit, shown = GOAL_TEXT[goal["goal"]]
        verdict = goal["verdict"] if goal["verdict"] == "met" else f"**{goal['verdict']}**"
        lines.append(f"| {label} | {limit.format(goal['limit'])} | {shown.format(goal['measured'])} | {verdict} |")
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="5 init runs and 30 warm rounds")
    parser.add_argument("--json", type=Path, help="write the full result here")
    parser.add_argument("--markdown", action="store_true", help="print the tables instead of the JSON")
    parser.add_argument("--from-json", type=Path, help="re-render a saved result; nothing is run")
    args = parser.parse_args(argv)
    if args.from_json:
        result = json.loads(args.from_json.read_text())
    else:
        sys.path.insert(0, str(ROOT))
        shown = [a if not a.startswith("/") else Path(a).name for a in (sys.argv[1:] if argv is None else argv)]
        result = collect(args.quick, " ".join(["python bench/bench_xgboost.py", *shown]))
        if args.json:
            args.json.parent.mkdir(parents=True, exist_ok=True)
            args.json.write_text(json.dumps(result, indent=1) + "\n")
    sys.stdout.write(render_markdown(result) if args.markdown else json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
