"""Warm time per single prediction: the guide's handler against lambdapack's, same model, same run.

The guide's handler unpickles ``model.joblib`` on every call and asks the forest itself;
lambdapack's loads once at init and, for tree models, walks the fitted trees directly
(identical answers, see tests/function/test_fast_path.py). The third contender is
lambdapack's handler with the fast path switched off (``LAMBDAPACK_FAST_PATH=0``): what
loading once buys on its own. Calls are interleaved round by round so load on the machine
hits all three alike; figures are medians.

    python bench/bench_handler.py [--quick]
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

from lambdapack.model.train import train
from lambdapack.templates import template_path

SEED_EVENT = {"sl": 6.9, "sw": 3.1, "pl": 5.1, "pw": 2.3}
GUIDE_RESPONSE = {"statusCode": 200, "body": "virginica"}

# The guide's handler, as published: the model is loaded inside the handler, on every call.
GUIDE_HANDLER = '''
import os
import joblib

CLASS_NAMES = ["setosa", "versicolor", "virginica"]


def lambda_handler(event, context):
    model = joblib.load(os.path.join(os.path.dirname(__file__), "model.joblib"))
    prediction = model.predict([[event["sl"], event["sw"], event["pl"], event["pw"]]])
    return {"statusCode": 200, "body": CLASS_NAMES[prediction[0]]}
'''


def _import(path: Path, name: str, env: dict[str, str]) -> ModuleType:
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        spec = importlib.util.spec_from_file_location(name, path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        with open(os.devnull, "w") as sink, contextlib.redirect_stdout(sink):
            spec.loader.exec_module(module)
        return module
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _time_call(handler: Callable[[object, object], object]) -> float:
    start = time.perf_counter()
    handler(SEED_EVENT, None)
    return time.perf_counter() - start


def run(quick: bool) -> dict:
    rounds = 30 if quick else 200
    with tempfile.TemporaryDirectory(prefix="bench-handler-") as tmp:
        task = Path(tmp) / "task"
        report = train(out=Path(tmp) / "model")  # the guide's model: iris, RandomForestClassifier(100 trees)
        task.mkdir()
        for name in ("model.joblib", "model.json"):
            shutil.copy(report.out / name, task / name)
        shutil.copy(template_path("lambda_function.py"), task / "lambda_function.py")
        (task / "guide_function.py").write_text(GUIDE_HANDLER)

        guide = _import(task / "guide_function.py", "bench_guide_function", {})
        ours = _import(task / "lambda_function.py", "bench_lambda_function", {"LAMBDAPACK_FAST_PATH": "1"})
        plain = _import(task / "lambda_function.py", "bench_lambda_function_plain", {"LAMBDAPACK_FAST_PATH": "0"})
        contenders = {"guide": guide.lambda_handler, "ours": ours.lambda_handler, "ours_no_fast_path":
                      plain.lambda_handler}
        times: dict[str, list[float]] = {name: [] for name in contenders}
        with open(os.devnull, "w") as sink, contextlib.redirect_stdout(sink):
            for name, handler in contenders.items():
                answer = handler(SEED_EVENT, None)  # warm-up, and all three must agree with the guide
                if answer != GUIDE_RESPONSE:
                    raise AssertionError(f"{name} answered {answer!r}")
            for _ in range(rounds):
                for name, handler in contenders.items():
                    times[name].append(_time_call(handler))
        for name in ("bench_guide_function", "bench_lambda_function", "bench_lambda_function_plain"):
            sys.modules.pop(name, None)

    medians = {name: statistics.median(values) * 1000 for name, values in times.items()}
    return {
        "model": f"iris {report.estimator_class.rpartition('.')[2]}, {report.bytes:,} bytes",
        "rounds": rounds,
        "guide_ms": round(medians["guide"], 3),
        "ours_ms": round(medians["ours"], 3),
        "ours_no_fast_path_ms": round(medians["ours_no_fast_path"], 3),
        "speedup": round(medians["guide"] / medians["ours"], 1),
        "speedup_no_fast_path": round(medians["guide"] / medians["ours_no_fast_path"], 1),
        "fast_path_gain": round(medians["ours_no_fast_path"] / medians["ours"], 1),
    }


if __name__ == "__main__":
    print(json.dumps(run(quick="--quick" in sys.argv[1:]), indent=2))
