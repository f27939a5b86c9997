"""The handler bench's timing child: it runs under the function's interpreter, standard library only.

``bench_handler`` starts this file in a fresh process (the layer's Python with only the task
directory and the layer on ``sys.path``, as on Lambda, or this Python) and sends one request as
JSON on stdin: ``warm`` (the guide's handler, lambdapack's with the predictor and with the
estimator, one row each, interleaved), ``crossover`` (per batch size, the predictor against the
estimator path) or ``first_estimator`` (init, then the first batch that needs the estimator). The
reply is one JSON line on stdout. Nothing but the standard library is imported at module level:
scikit-learn, numpy and the handler come from the ``sys_path`` the request names.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import statistics
import sys
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
RUNTIME_PACKAGE = "lambdapack_runtime"  # the function's runtime package beside lambda_function.py


def _import_handler(task: Path, name: str, env: Mapping[str, str]) -> ModuleType:
    """``task/lambda_function.py`` imported as ``name`` under ``env``, with fresh serving modules."""
    for module in [m for m in sys.modules if m == RUNTIME_PACKAGE or m.startswith(RUNTIME_PACKAGE + ".")]:
        del sys.modules[module]
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


if __name__ == "__main__":
    child_main()
