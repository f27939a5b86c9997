"""A 500-tree LightGBM classifier served by the stdlib predictor, no layer: speed and exactness.

The model: ``LGBMClassifier(n_estimators=500, num_leaves=31)`` on 20,000 synthetic rows with
eight numeric inputs (two with 20% missing values, one with many exact zeros) and one pandas
``category`` input of 12 categories (10% missing). It is pickled, brought in by ``model import``
and packaged by ``package_function`` (compiled and proven in LightGBM itself); the zip is
unpacked as Lambda's task root.

1. **Exactness** (this Python, LightGBM 4.x installed): 5,000 probe rows the proof did not pick
   (training rows, rows on every threshold and one double step either side, rows with half the
   inputs missing, rows with values within LightGBM's zero threshold, every category, an unseen
   and a missing one), the predictor's labels and probabilities against ``predict`` and
   ``predict_proba``: label mismatches, rows not bit-identical, the largest distance in ulp.
2. **Speed** (python3.12, ``-I -S``, only the task root on ``sys.path``: no numpy, no LightGBM):
   init (importing the handler, which loads and self-checks the predictor) in fresh processes
   against an empty handler's, and warm single-row ``lambda_handler`` calls (a direct event).
   LightGBM's own ``predict`` on one row in this Python is measured beside it for reference.

    python bench/bench_lightgbm.py [--json OUT] [--markdown]
    python bench/bench_lightgbm.py --from-json docs/bench/lightgbm.json --markdown   # re-render only
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import fresh_runtime  # bench/ is on sys.path: the script's own directory, or run.py's

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = "lambdapack.bench.lightgbm/1"
PROBE_ROWS = 5_000
INIT_RUNS = 15
WARM_CALLS = 2_000
CITIES = [f"city{i:02d}" for i in range(12)]
NAMES = [f"x{i}" for i in range(8)] + ["city"]
KZERO = 1.0000000180025095e-35  # LightGBM's kZeroThreshold (1e-35f)
GOALS = {"warm_ms": 1.0, "label_mismatches": 0, "max_ulps": 2}

CHILD = r"""
import json, statistics, sys, time
started = time.perf_counter()
sys.path.insert(0, sys.argv[1])
import lambda_function
init = time.perf_counter() - started
event = json.loads(sys.argv[2])
calls = int(sys.argv[3])
times = []
for _ in range(calls):
    t = time.perf_counter()
    lambda_function.lambda_handler(event, None)
    times.append(time.perf_counter() - t)
print(json.dumps({"init_s": init, "warm_s": times, "answer": lambda_function.lambda_handler(event, None),
                  "modules": sorted(m for m in sys.modules if m.split('.')[0] in ('numpy', 'lightgbm', 'sklearn'))}))
"""
EMPTY_HANDLER = "def lambda_handler(event, context):\n    return {'statusCode': 200, 'body': 'ok'}\n"


def _data(n: int, seed: int = 0) -> tuple[Any, Any]:
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 8))
    X[rng.random(n) < 0.2, 0] = np.nan
    X[rng.random(n) < 0.2, 1] = np.nan
    X[rng.random(n) < 0.3, 2] = 0.0
    frame = pd.DataFrame(X, columns=NAMES[:8])
    frame["city"] = pd.Categorical(rng.choice(CITIES, n), categories=CITIES)
    frame.loc[rng.random(n) < 0.1, "city"] = np.nan
    city = frame["city"].cat.codes.to_numpy()
    signal = np.nan_to_num(X[:, 0]) - (X[:, 2] == 0) + 0.5 * X[:, 3] * X[:, 4] + np.isin(city, [1, 4, 7, 9]) \
        + 0.3 * rng.normal(size=n)
    return frame, (signal > np.median(signal)).astype(int)


def _probe_rows(frame: Any, booster: Any) -> list[list]:
    """5,000 rows: training rows, every threshold ±1 step, half missing, near zero, every category."""
    import numpy as np

    rng = np.random.default_rng(1)
    base = [[None if v != v else v for v in row[:8]] + [row[8] if isinstance(row[8], str) else None]
            for row in frame.astype(object).itertuples(index=False)]
    cuts = set()

    def walk(node: dict) -> None:
        if "split_feature" in node:
            if node["decision_type"] == "<=" and abs(node["threshold"]) < 1e300:
                cuts.add((node["split_feature"], float(node["threshold"])))
            walk(node["left_child"])
            walk(node["right_child"])

    for tree in booster.dump_model()["tree_info"]:
        walk(tree["tree_structure"])
    rows = [list(base[i]) for i in rng.choice(len(base), 1500, replace=False)]
    for f, t in sorted(cuts)[: 2000 // 3]:
        for value in (t, math.nextafter(t, -math.inf), math.nextafter(t, math.inf)):
            row = list(base[int(rng.integers(len(base)))])
            row[f] = value
            rows.append(row)
    near_zero = [0.0, -0.0, KZERO, -KZERO, 1e-35, -1e-35, 1e-36, math.nextafter(KZERO, 1.0), -1e-300]
    categories = [*CITIES, "elsewhere", None]
    while len(rows) < PROBE_ROWS:
        row = list(base[int(rng.integers(len(base)))])
        kind = len(rows) % 3
        for j in range(9):
            if kind == 0 and rng.random() < 0.5:
                row[j] = None  # half the inputs missing
            elif kind == 1 and j < 8 and rng.random() < 0.5:
                row[j] = near_zero[int(rng.integers(len(near_zero)))]
        if kind == 2:
            row[8] = categories[int(rng.integers(len(categories)))]
        rows.append(row)
    return rows[:PROBE_ROWS]


def _ulps(a: float, b: float) -> int:
    import struct

    def ordered(x: float) -> int:
        i = struct.unpack("<q", struct.pack("<d", x))[0]
        return -(i & (2**63 - 1)) if i < 0 else i

    return abs(ordered(a) - ordered(b))


def exactness(task: Path, model: Any, rows: list[list]) -> dict[str, Any]:
    sys.path.insert(0, str(task))
    from lambdapack_runtime import predictor as runtime
    from lambdapack_runtime.frames import estimator_input
    from lambdapack_runtime.inputs import Inputs

    manifest = json.loads((task / "model.json").read_text())
    fields = Inputs(manifest["features"]).fields
    typed = [[f.value(v, f.name) for f, v in zip(fields, row, strict=True)] for row in rows]
    served = runtime.load(str(task / "model.predictor"))
    labels, probas = served.predict(typed)
    X = estimator_input(typed, fields, manifest.get("input_frame"))
    expected_labels = model.predict(X).tolist()
    expected = model.predict_proba(X).tolist()
    mismatches = sum(model.classes_[i] != e for i, e in zip(labels, expected_labels, strict=True))
    distances = [max(_ulps(a, b) for a, b in zip(p, e, strict=True)) for p, e in zip(probas, expected, strict=True)]
    raw = [served.raw(r) for r in typed]
    raw_expected = model.decision_function(X).reshape(len(rows), -1).tolist()
    return {"rows": len(rows), "label_mismatches": int(mismatches), "max_ulps": max(distances),
            "rows_not_bit_identical": sum(d > 0 for d in distances),
            "raw_not_bit_identical": sum(a != b for a, b in zip(raw, raw_expected, strict=True))}


def _child(python: str, task: Path, event: dict, calls: int) -> dict[str, Any]:
    done = subprocess.run([python, "-I", "-S", "-c", CHILD, str(task), json.dumps(event), str(calls)],
                          capture_output=True, text=True, check=True, cwd=task)
    return json.loads(done.stdout.strip().splitlines()[-1])


def speed(task: Path, event: dict, python: str) -> dict[str, Any]:
    empty = task.parent / "empty"
    empty.mkdir(exist_ok=True)
    (empty / "lambda_function.py").write_text(EMPTY_HANDLER)
    inits, empty_inits = [], []
    for _ in range(INIT_RUNS):  # alternated, so load on the machine hits both alike
        inits.append(_child(python, task, event, 1)["init_s"])
        empty_inits.append(_child(python, empty, event, 1)["init_s"])
    warm = _child(python, task, event, WARM_CALLS)
    times = sorted(warm["warm_s"][100:])  # the first calls warm the caches
    return {"python": python, "init_ms": round(statistics.median(inits) * 1e3, 2),
            "empty_init_ms": round(statistics.median(empty_inits) * 1e3, 2),
            "warm_median_ms": round(statistics.median(times) * 1e3, 4),
            "warm_p90_ms": round(times[int(0.9 * len(times))] * 1e3, 4),
            "answer": warm["answer"], "layer_modules_imported": warm["modules"]}


def lightgbm_one_row(model: Any, frame: Any) -> float:
    row = frame.iloc[:1]
    model.predict_proba(row)
    times = []
    for _ in range(300):
        t = time.perf_counter()
        model.predict_proba(row)
        times.append(time.perf_counter() - t)
    return round(statistics.median(times) * 1e3, 4)


def run() -> dict[str, Any]:
    import joblib
    import lightgbm as lgb

    from lambdapack import archive
    from lambdapack.function.package import package_function
    from lambdapack.interpreters import find_python
    from lambdapack.model.importer import import_model

    python = find_python((3, 12))
    if python is None:
        raise SystemExit("this benchmark needs CPython 3.12 (pyenv install 3.12)")
    started = time.perf_counter()
    frame, y = _data(20_000)
    model = lgb.LGBMClassifier(n_estimators=500, num_leaves=31, learning_rate=0.05, verbose=-1).fit(frame, y)
    with tempfile.TemporaryDirectory(prefix="bench-lightgbm-") as tmp:
        work = Path(tmp)
        joblib.dump(model, work / "model.joblib")
        import_model(work / "model.joblib", out=work / "model")
        built = time.perf_counter()
        report = package_function(work / "model", work / "function.zip", runtime="python3.12")
        package_s = time.perf_counter() - built
        task = work / "task"
        archive.safe_extract(work / "function.zip", task)
        rows = _probe_rows(frame, model.booster_)
        event = dict(zip(NAMES, rows[0], strict=True))
        out = {"schema": SCHEMA, "started": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
               "machine": {"cpus": os.cpu_count(), "processor": fresh_runtime.cpu_name(),
                           "load_before": [round(v, 2) for v in os.getloadavg()]},
               "versions": {"lightgbm": lgb.__version__, "python": platform.python_version()},
               "model": {"trees": int(model.booster_.num_trees()), "nodes": report.predictor.verification.get("nodes"),
                         "predictor_bytes": report.predictor.bytes, "package_s": round(package_s, 2),
                         "serving": report.predictor.serving, "proof": report.predictor.reason},
               "exactness": exactness(task, model, rows),
               "speed": speed(task, event, str(python)),
               "lightgbm_predict_proba_one_row_ms": lightgbm_one_row(model, frame)}
    out["machine"]["load_after"] = [round(v, 2) for v in os.getloadavg()]
    out["seconds"] = round(time.perf_counter() - started, 1)
    return out


def markdown(result: dict[str, Any]) -> str:
    model, exact, fast = result["model"], result["exactness"], result["speed"]
    lines = [f"Run {result['started']} ({result['seconds']:.0f} s): LightGBM {result['versions']['lightgbm']}, "
             f"{result['machine']['cpus']} × {result['machine']['processor']}; load average before "
             f"{' / '.join(str(v) for v in result['machine']['load_before'])}, after "
             f"{' / '.join(str(v) for v in result['machine']['load_after'])}.", "",
             "| measure | result | goal |", "|---|---|---|",
             f"| model | {model['trees']:,} trees, {model['nodes']:,} nodes, predictor {model['predictor_bytes']:,} "
             f"bytes, packaged (compiled and proven) in {model['package_s']:.1f} s | |",
             f"| serving | {model['serving']}: {model['proof']} | predictor, no layer |",
             f"| probe rows (not the proof's) | {exact['rows']:,} | 5,000 |",
             f"| label mismatches | {exact['label_mismatches']} | {GOALS['label_mismatches']} |",
             f"| probabilities: rows not bit-identical, largest distance | {exact['rows_not_bit_identical']}, "
             f"{exact['max_ulps']} ulp | ≤ {GOALS['max_ulps']} ulp (bit-identical expected) |",
             f"| raw scores not bit-identical | {exact['raw_not_bit_identical']} rows | |",
             f"| init, fresh python3.12 (median of {INIT_RUNS}) | {fast['init_ms']:.1f} ms (empty handler "
             f"{fast['empty_init_ms']:.1f} ms) | empty handler + 50 ms |",
             f"| warm single row, `lambda_handler` (median / p90 of {WARM_CALLS - 100:,}) | "
             f"{fast['warm_median_ms']:.3f} / {fast['warm_p90_ms']:.3f} ms | ≤ {GOALS['warm_ms']:g} ms |",
             f"| numpy, scikit-learn, LightGBM imported by the function | "
             f"{', '.join(fast['layer_modules_imported']) or 'none'} | none |",
             f"| for reference: LightGBM's own `predict_proba`, one row, this Python | "
             f"{result['lightgbm_predict_proba_one_row_ms']:.3f} ms | |"]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--json", type=Path, help="write the result here")
    parser.add_argument("--from-json", type=Path, help="render a recorded result, measure nothing")
    parser.add_argument("--markdown", action="store_true", help="print the result as a markdown table")
    args = parser.parse_args()
    if args.from_json:
        result = json.loads(args.from_json.read_text())
    else:
        sys.path.insert(0, str(ROOT))
        result = run()
        if args.json:
            args.json.write_text(json.dumps(result, indent=1) + "\n")
    print(markdown(result) if args.markdown else json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
