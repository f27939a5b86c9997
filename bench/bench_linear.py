"""Linear models in the stdlib predictor: how far scikit-learn's scores are from the predictor's, and one row's cost.

For each model (fitted here on a bundled dataset, or a synthetic table for the one-hot pipeline;
imported and proven with lambdapack's own ``import_model`` and ``build_predictor``):

1. **The proof**, as ``package`` states it: probe rows (of which on decision boundaries), the
   scores' largest difference in ulps of the dot product's magnitude ``sum(|x_i w_i|) + |b|``
   and in plain ulps of the score, the rows whose scores differ at all, the probabilities'
   largest absolute difference.
2. **The dataset's own rows**: the same figures for the predictor against scikit-learn's batch
   ``decision_function`` (``predict`` for a regressor), the labels that agree, and scikit-learn
   against itself: each row asked alone against the same row in the batch.
3. **One row, warm**: ``Predictor.predict([row])`` under ``python3.12 -I -S`` (the standard
   library only, as the function runs it) against the estimator's ``predict`` on a one-row array
   in a Python with scikit-learn (``--estimator-python``, default this one), medians over the
   dataset's rows after a warm-up.

    python bench/bench_linear.py [--json OUT] [--estimator-python PATH] [--calls N]
    python bench/bench_linear.py --from-json docs/bench/linear.json     # the tables only
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import platform
import subprocess
import sys
import tempfile
import warnings
from pathlib import Path
from typing import Any

import fresh_runtime  # bench/ is on sys.path: the script's own directory, or run.py's

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = "lambdapack.bench.linear/1"
MODELS = (
    ("iris", "iris: LogisticRegression (3 classes, softmax)"),
    ("wine", "wine: StandardScaler + LogisticRegression (3 classes)"),
    ("breast_cancer", "breast_cancer: StandardScaler + LogisticRegression (binary)"),
    ("diabetes", "diabetes: LinearRegression"),
    ("onehot", "synthetic table: imputers, StandardScaler, OneHotEncoder + LogisticRegression (binary)"),
)

# Runs under python3.12 -I -S with only the runtime's directory on sys.path: the function's view.
PREDICTOR_CHILD = """
import json, statistics, sys, time
sys.path.insert(0, sys.argv[1])
from lambdapack_runtime import predictor as runtime
request = json.loads(sys.stdin.read())
model = runtime.Predictor(*runtime.decode(open(request["predictor"], "rb").read()))
rows = [[float("nan") if v is None and k == "number" else v for v, k in zip(r, request["kinds"])]
        for r in request["rows"]]
times = []
for i in range(request["warmup"] + request["calls"]):
    row = [rows[i % len(rows)]]
    started = time.perf_counter()
    model.predict(row)
    if i >= request["warmup"]:
        times.append(time.perf_counter() - started)
print(json.dumps({"median_s": statistics.median(times), "python": sys.version.split()[0]}))
"""

# Runs in a Python with the model's scikit-learn: the estimator asked as the handler asks it.
ESTIMATOR_CHILD = """
import json, statistics, sys, time, warnings
sys.path.insert(0, sys.argv[1])
import joblib, numpy as np
from lambdapack_runtime.frames import estimator_input
from lambdapack_runtime.inputs import Inputs
warnings.simplefilter("ignore")
request = json.loads(sys.stdin.read())
model = joblib.load(request["model"])
fields = Inputs(request["fields"]).fields
inputs = [estimator_input([r], fields, request["frame"]) for r in request["rows"]]
times = []
for i in range(request["warmup"] + request["calls"]):
    one = inputs[i % len(inputs)]
    started = time.perf_counter()
    model.predict(one)
    if i >= request["warmup"]:
        times.append(time.perf_counter() - started)
print(json.dumps({"median_s": statistics.median(times), "python": sys.version.split()[0]}))
"""


# ---------------------------------------------------------------------------------------------- models


def _tabular(n: int = 600) -> tuple[Any, Any, list[str]]:
    import numpy as np

    rng = np.random.default_rng(0)
    age, income = rng.normal(40, 12, n), rng.lognormal(10, 1, n)
    city = rng.choice(["paris", "lyon", "nice", "lille", "nantes"], n).astype(object)
    plan = rng.choice(["basic", "plus", "pro"], n).astype(object)
    age[rng.random(n) < 0.1] = np.nan
    city[rng.random(n) < 0.1] = np.nan
    X = np.empty((n, 4), dtype=object)
    X[:, 0], X[:, 1], X[:, 2], X[:, 3] = age, income, city, plan
    y = ((np.nan_to_num(age, nan=40) > 38) ^ (city == "paris") ^ (plan == "pro")).astype(int)
    return X, y, ["age", "income", "city", "plan"]


def fitted(key: str) -> tuple[Any, Any, list[str]]:
    """``(model, X, feature names)`` for ``key``."""
    from sklearn import datasets
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LinearRegression, LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    if key == "onehot":
        X, y, names = _tabular()
        columns = ColumnTransformer([
            ("num", make_pipeline(SimpleImputer(), StandardScaler()), [0, 1]),
            ("cat", make_pipeline(SimpleImputer(strategy="most_frequent"), OneHotEncoder(handle_unknown="ignore")),
             [2, 3])])
        return make_pipeline(columns, LogisticRegression()).fit(X, y), X, names
    data = getattr(datasets, f"load_{key}")()
    names = [str(n).replace(" ", "_") for n in data.feature_names]
    if key == "iris":
        model = LogisticRegression(max_iter=1000)
    elif key == "diabetes":
        model = LinearRegression()
    else:
        model = make_pipeline(StandardScaler(), LogisticRegression())
    return model.fit(data.data, data.target), data.data, names


# ---------------------------------------------------------------------------------------------- measuring


def _scaled_ulps(got: Any, expected: Any, magnitude: Any) -> tuple[float, int, int]:
    """``(max |difference| / ulp(magnitude), max plain ulps, rows differing)``."""
    import numpy as np

    from lambdapack.predictor.compiler.proof import ulps

    differ = got != expected
    scaled = np.where(differ, np.abs(got - expected) / np.spacing(magnitude), 0.0)
    return float(scaled.max()), ulps(got, expected), int(np.any(differ, axis=1).sum())


def _categories_missing(X: Any) -> list[list]:
    return [[None if (isinstance(v, float) and math.isnan(v) and i >= 2) else v for i, v in enumerate(row)]
            for row in X.tolist()]


def data_rows(model: Any, X: Any, data: bytes, rows: list[list]) -> dict[str, Any]:
    """The predictor against scikit-learn (batch, and each row alone) on the dataset's own rows."""
    import numpy as np
    from lambdapack_runtime import predictor as runtime

    predictor = runtime.Predictor(*runtime.decode(data))
    final = model.steps[-1][1] if hasattr(model, "steps") else model
    post = model[:-1].transform(X) if hasattr(model, "steps") else X
    post = np.asarray(post.toarray() if hasattr(post, "toarray") else post, dtype=np.float64)
    magnitude = np.abs(post) @ np.abs(np.atleast_2d(final.coef_)).T + np.abs(np.ravel(final.intercept_))
    score = model.decision_function if hasattr(final, "classes_") else model.predict
    batch = np.asarray(score(X), dtype=np.float64).reshape(len(rows), -1)
    alone = np.array([np.ravel(score(X[i : i + 1])) for i in range(len(rows))], dtype=np.float64)
    mine = np.array([predictor.raw(row) for row in rows], dtype=np.float64)
    scaled, plain, differing = _scaled_ulps(mine, batch, magnitude)
    own_scaled, own_plain, own_differing = _scaled_ulps(alone, batch, magnitude)
    out = {"rows": len(rows), "max_ulps": scaled, "plain_ulps": plain, "rows_differing": differing,
           "sklearn_alone_max_ulps": own_scaled, "sklearn_alone_plain_ulps": own_plain,
           "sklearn_alone_rows_differing": own_differing}
    if hasattr(final, "classes_"):
        outputs, probas = predictor.predict(rows)
        out["labels_identical"] = int(sum(final.classes_[i] == e for i, e in zip(outputs, model.predict(X),
                                                                                 strict=True)))
        if probas is not None:
            out["proba_max_abs"] = float(np.max(np.abs(np.array(probas) - model.predict_proba(X))))
    return out


def _child(python: str, script: str, request: dict, isolated: bool) -> dict:
    flags = ["-I", "-S"] if isolated else ["-I"]
    done = subprocess.run([python, *flags, "-c", script, str(ROOT / "templates")], input=json.dumps(request),
                          capture_output=True, text=True, check=True, timeout=600)
    return json.loads(done.stdout.strip().splitlines()[-1])


def latency(model_path: Path, predictor_path: Path, manifest: Any, rows: list[list], estimator_python: str,
            calls: int) -> dict[str, Any]:
    from lambdapack.interpreters import require_python

    fields = [f.to_dict() for f in manifest.features]
    common = {"rows": rows[:200], "warmup": 200, "calls": calls}
    mine = _child(str(require_python((3, 12))), PREDICTOR_CHILD,
                  dict(common, predictor=str(predictor_path), kinds=[f["type"] for f in fields]), isolated=True)
    theirs = _child(estimator_python, ESTIMATOR_CHILD,
                    dict(common, model=str(model_path), fields=fields, frame=manifest.input_frame), isolated=False)
    return {"predictor_us": mine["median_s"] * 1e6, "predictor_python": mine["python"],
            "estimator_us": theirs["median_s"] * 1e6, "estimator_python": theirs["python"]}


def measure(key: str, description: str, estimator_python: str, calls: int) -> dict[str, Any]:
    import joblib

    from lambdapack.model.importer import import_model
    from lambdapack.model.manifest import load_manifest
    from lambdapack.predictor.build import build_predictor

    model, X, names = fitted(key)
    with tempfile.TemporaryDirectory() as tmp:
        joblib.dump(model, Path(tmp) / "m.joblib")
        out = Path(tmp) / "model"
        import_model(Path(tmp) / "m.joblib", features=names, out=out)
        manifest = load_manifest(out)
        build = build_predictor(out / "model.joblib", manifest)
        if build.data is None:
            raise SystemExit(f"{key}: {build.report.reason}")
        predictor_path = Path(tmp) / "model.predictor"
        predictor_path.write_bytes(build.data)
        rows = _categories_missing(X) if X.dtype == object else X.tolist()
        report = build.report.verification
        proof = {"rows": report["rows"], "boundary_rows": report.get("boundary_rows", 0),
                 **{k: report["scores"][k] for k in ("max_ulps", "plain_ulps", "rows_differing")}}
        if "probabilities" in report:
            proof["proba_max_abs"] = report["probabilities"]["max_abs"]
            proof["proba_ulps_scores_agree"] = report["probabilities"]["max_ulps_scores_agree"]
            proof["proba_magnitude"] = report["probabilities"]["max_abs_magnitude"]
        return {"key": key, "description": description, "statement": build.report.claim["statement"],
                "proof": proof, "data": data_rows(model, X, build.data, rows),
                "latency": latency(out / "model.joblib", predictor_path, manifest, rows, estimator_python, calls)}


# ---------------------------------------------------------------------------------------------- rendering


def _g(value: float) -> str:
    return f"{value:.3g}"


def render(result: dict[str, Any]) -> str:
    models = result["models"]
    lines = ["The proof's rows, as `package` states them:", "",
             "| model | rows (on a boundary) | scores: ulp of magnitude | plain ulp | rows differing "
             "| probabilities: largest difference (row's magnitude) | where the scores agree |",
             "|---|---|---|---|---|---|---|"]
    for m in models:
        p = m["proof"]
        proba = (f"{_g(p['proba_max_abs'])} ({p['proba_magnitude']:.2g}) | {p['proba_ulps_scores_agree']} ulp"
                 if "proba_max_abs" in p else "none (a regressor) | –")
        lines.append(f"| {m['description']} | {p['rows']:,} ({p['boundary_rows']}) | {p['max_ulps']:g} | "
                     f"{p['plain_ulps']:,} | {p['rows_differing']} | {proba} |")
    lines += ["", "The dataset's own rows, against scikit-learn's batch answer, and scikit-learn against itself "
              "(each row alone against the same row in the batch):", "",
              "| model | rows | labels identical | scores: ulp of magnitude | plain ulp | rows differing "
              "| probabilities: largest difference | scikit-learn alone: ulp of magnitude | plain ulp "
              "| rows differing |", "|---|---|---|---|---|---|---|---|---|---|"]
    for m in models:
        d = m["data"]
        labels = f"{d['labels_identical']}" if "labels_identical" in d else "–"
        proba = _g(d["proba_max_abs"]) if "proba_max_abs" in d else "–"
        lines.append(f"| {m['description']} | {d['rows']} | {labels} | {d['max_ulps']:g} | {d['plain_ulps']:,} | "
                     f"{d['rows_differing']} | {proba} | {d['sklearn_alone_max_ulps']:g} | "
                     f"{d['sklearn_alone_plain_ulps']:,} | {d['sklearn_alone_rows_differing']} |")
    first = models[0]["latency"]
    lines += ["", f"One row, warm (median of {result['calls']:,} calls): the predictor under Python "
              f"{first['predictor_python']} `-I -S`, scikit-learn {result['versions']['scikit-learn']}'s `predict` "
              f"under Python {first['estimator_python']}.", "",
              "| model | predictor | scikit-learn `predict` | ratio |", "|---|---|---|---|"]
    for m in models:
        t = m["latency"]
        lines.append(f"| {m['description']} | {t['predictor_us']:.1f} µs | {t['estimator_us']:.1f} µs | "
                     f"{t['estimator_us'] / t['predictor_us']:.1f}× |")
    lines += ["", f"Recorded {result['date']} on {result['machine']}."]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path, help="write the results here")
    parser.add_argument("--from-json", type=Path, help="render a recorded run, measure nothing")
    parser.add_argument("--estimator-python", default=sys.executable,
                        help="a Python with the models' scikit-learn, numpy, scipy and joblib (default: this one)")
    parser.add_argument("--calls", type=int, default=5000)
    args = parser.parse_args(argv)
    if args.from_json:
        print(render(json.loads(args.from_json.read_text(encoding="utf-8"))))
        return 0
    sys.path[:0] = [str(ROOT), str(ROOT / "templates")]
    import sklearn

    warnings.simplefilter("ignore")
    models = [measure(key, description, args.estimator_python, args.calls) for key, description in MODELS]
    result = {"schema": SCHEMA, "date": dt.date.today().isoformat(), "calls": args.calls,
              "machine": f"{platform.machine()}, {fresh_runtime.cpu_name()}",
              "versions": {"scikit-learn": sklearn.__version__}, "models": models}
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(render(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
