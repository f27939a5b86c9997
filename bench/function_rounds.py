"""A fitted model packaged both ways and timed in fresh runtimes: what bench_zoo and bench_boosters share.

``build_model`` does what a user does with a fitted model (``model import``, ``build-layer --model``
through :class:`Layers`, ``package`` with and without the predictor); ``first_answers`` learns each
function's answer in an untimed runtime and drops the ones that fail or refuse the request;
``measure`` runs the rounds (``fresh_runtime.cold_start``: a fresh runtime per function, its Init
Duration and warm REPORT Durations); ``model_figures`` turns one model's samples into medians, the
paired difference with the empty handler run just before, and the predictor's goals.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
for _path in (BENCH_DIR.parent, BENCH_DIR):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

import fresh_runtime as fresh  # noqa: E402
import zoo_models  # noqa: E402

PATHS = ("empty", "predictor", "joblib")
# the model's libraries build-layer --model pins, and pandas when the model takes a DataFrame
LAYER_PACKAGES = ("scikit-learn", "numpy", "scipy", "joblib", "pandas", "xgboost", "lightgbm")
cli = fresh.lambdapack_command
Sample = fresh.Sample


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


class MissingLibraries(RuntimeError):
    """This Python lacks a library the bench needs (bench/run.py reports it as the area's error)."""


def require(modules: Sequence[str], purpose: str) -> None:
    """Stop with one clear line when this Python lacks a library the bench needs."""
    import importlib.util

    missing = [m for m in modules if importlib.util.find_spec(m) is None]
    if missing:
        raise MissingLibraries(f"{purpose} needs {', '.join(missing)} in this Python ({sys.executable}); "
                         "create the bench venv: uv venv --python 3.11 BENCH_VENV && uv pip install --python "
                         "BENCH_VENV/bin/python -e . -r bench/requirements-models.txt (docs/benchmarks.md)")


# ---------------------------------------------------------------------------- building the functions


@dataclass(frozen=True)
class Built:
    """One model packaged both ways, with what package said about it."""

    spec: zoo_models.ZooModel
    event: bytes
    facts: dict[str, Any]  # serving, reason, claim, sizes, layer: what goes into the JSON as is
    specs: dict[str, Any] = field(default_factory=dict)  # path -> LocalFunctionSpec
    paths: tuple[str, ...] = ()  # the functions measured, in round order
    expected: dict[str, Any] = field(default_factory=dict)  # path -> its answer to the event


class Layers:
    """One layer per distinct set of libraries (``build-layer --model``, or named requirements), built once."""

    def __init__(self, work: Path) -> None:
        self.work = work
        self.built: dict[tuple[tuple[str, str], ...], tuple[str, Path]] = {}
        self.facts: dict[str, dict[str, Any]] = {}

    def for_model(self, model_dir: Path, versions: Mapping[str, str]) -> tuple[str, Path]:
        """The layer ``build-layer --model`` makes for the model: its versions are the key."""
        key = tuple(sorted((k, str(v)) for k, v in versions.items() if k in LAYER_PACKAGES))
        return self._layer(key, ("--model", str(model_dir)))

    def for_requirements(self, requirements: Sequence[str]) -> tuple[str, Path]:
        """The layer of ``build-layer REQUIREMENT…`` (what a peer's function needs)."""
        return self._layer(tuple((r, "") for r in requirements), tuple(requirements))

    def _layer(self, key: tuple[tuple[str, str], ...], args: Sequence[str]) -> tuple[str, Path]:
        if key not in self.built:
            name = f"layer-{len(self.built) + 1}"
            path = self.work / f"{name}.zip"
            log(f"building {name}: {' '.join(args)}")
            report = json.loads(cli("build-layer", *args, "--runtime", fresh.RUNTIME, "--arch", fresh.ARCH,
                                    "-o", str(path), "--json", cwd=self.work))
            self.built[key] = (name, path)
            self.facts[name] = {"packages": {p["name"]: p["version"] for p in report.get("packages", [])},
                                "zip_bytes": report["zip_bytes"], "unzipped_bytes": report["unzipped_bytes"]}
        return self.built[key]


def build_model(spec: zoo_models.ZooModel, work: Path, layers: Layers) -> Built:
    """Fit, import, build its layer, package it both ways; a LocalFunctionSpec per path."""
    import joblib

    from lambdapack.emulator.session import LocalFunctionSpec

    where = work / spec.key
    where.mkdir(parents=True)
    fitted = spec.fit()
    joblib.dump(fitted.estimator, where / "fitted.joblib")
    model_dir = where / "model"
    features = ["--features", ",".join(fitted.features)] if fitted.features else []
    imported = json.loads(cli("model", "import", str(where / "fitted.joblib"), *features, "--out", str(model_dir),
                              "--json", cwd=where))
    layer_name, layer = layers.for_model(model_dir, imported["versions"])
    packaged = json.loads(cli("package", "--model", str(model_dir), "--layer", str(layer),
                              "--out", str(where / "function.zip"), "--json", cwd=where))
    estimator = json.loads(cli("package", "--model", str(model_dir), "--layer", str(layer), "--no-predictor",
                               "--out", str(where / "joblib.zip"), "--json", cwd=where))
    function = packaged["function"]
    facts = {
        "label": spec.label, "data": spec.data, "family": spec.family, "estimator": imported["estimator_class"],
        "inputs": imported.get("inputs") or imported["features"], "init_budget_ms": spec.init_budget_ms,
        "serving": function["serving"], "reason": function["reason"], "claim": function.get("claim"),
        "function_zip_bytes": packaged["bytes"], "joblib_zip_bytes": estimator["bytes"],
        "predictor_bytes": (function.get("predictor") or {}).get("bytes"), "model_bytes": imported["bytes"],
        "layer": layer_name, "event": fitted.event,
    }
    zips = {"empty": work / "empty.zip", "predictor": where / "function.zip", "joblib": where / "joblib.zip"}
    specs = {path: LocalFunctionSpec(zips[path], (layer,) if path == "joblib" else (), runtime=fresh.RUNTIME,
                                     function_name=f"zoo-{spec.key}-{path}") for path in PATHS}
    # a model the predictor does not serve is measured on the estimator path alone
    paths = PATHS if facts["serving"] == "predictor" else ("joblib",)
    return Built(spec, json.dumps(fitted.event).encode(), facts, specs, paths)


def _discard(_: bytes) -> None:
    pass


def refusal(payload: Any) -> str | None:
    """Why an answer is not a prediction (a handler's 4xx/5xx response), or None."""
    if isinstance(payload, Mapping) and "statusCode" in payload and payload["statusCode"] != 200:
        return f"answered {payload['statusCode']}: {str(payload.get('body'))[:200]}"
    return None


def first_answers(built: Built) -> Built:
    """Each path's answer to the event, from an untimed runtime (which also warms the page cache).

    A path that fails or refuses the request leaves the rounds, its reason in ``facts["failed"]``:
    timing a 400 would pass for a fast prediction.
    """
    from lambdapack.emulator.session import open_function

    expected, failed = {}, dict(built.facts.get("failed") or {})
    for path in built.paths:
        with open_function(built.specs[path], log_sink=_discard) as function:
            result = function.invoke(built.event)
        why = f"failed: {str(result.payload)[:200]}" if not result.ok else refusal(result.payload)
        if why:
            failed[path] = why
            log(f"  {built.spec.key}, {path}: {why}")
            continue
        expected[path] = result.payload
    agree = expected["predictor"] == expected["joblib"] if {"predictor", "joblib"} <= expected.keys() else None
    paths = tuple(p for p in built.paths if p in expected)
    if paths == ("empty",):
        paths = ()  # an empty handler alone measures nothing about the model
    facts = {**built.facts, "answers": expected, "answers_agree": agree, "failed": failed}
    return replace(built, facts=facts, expected=expected, paths=paths)


def failed_model(spec: zoo_models.ZooModel, message: str) -> dict[str, Any]:
    """The facts of a model the bench could not fit, import or package: the error, in the table."""
    return {"label": spec.label, "data": spec.data, "family": spec.family, "init_budget_ms": spec.init_budget_ms,
            "serving": "failed", "reason": message, "claim": None, "function_zip_bytes": None,
            "predictor_bytes": None, "layer": None, "failed": {"build": message}, "paths": {}}


@contextlib.contextmanager
def workspace(prefix: str) -> Iterator[tuple[Path, Layers]]:
    """A temporary directory holding the empty handler's zip, and the layers built there."""
    from lambdapack.archive import ZipEntry, write_zip

    with tempfile.TemporaryDirectory(prefix=prefix) as tmp:
        work = Path(tmp)
        write_zip(work / "empty.zip", [ZipEntry("lambda_function.py", fresh.EMPTY_HANDLER.encode())])
        yield work, Layers(work)


# ---------------------------------------------------------------------------- measuring


def timed_rounds(built: Sequence[Built], rounds: int, warm_calls: int,
                 say: Callable[[str], None]) -> tuple[dict[str, dict[str, list[Sample]]], dict[str, Any]]:
    """``measure``'s rounds and the run's conditions: when, the load before, during and after, the Pythons."""
    from lambdapack.emulator.session import prepare

    with prepare(built[0].specs["empty"]) as prepared:
        function_python = prepared.python_full_version
    load_before = [round(x, 2) for x in os.getloadavg()]
    date = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    say(f"{rounds} rounds over {len(built)} models; load {fresh.load_text(load_before)}")
    samples, load_during = measure(built, rounds, warm_calls, on_round=lambda i: say(f"round {i + 1} done"))
    return samples, {"date": date, "load_before": load_before, "load_after": [round(x, 2) for x in os.getloadavg()],
                     "load_during": load_during,
                     "python": {"host": ".".join(map(str, sys.version_info[:3])), "function": function_python}}


def run_facts(command: str, started: float, rounds: int, warm_calls: int, layers: Layers) -> dict[str, Any]:
    """What both benches record about a run beside its conditions: the command, the machine, lambdapack's commit."""
    from lambdapack import __version__

    return {"seconds": round(time.time() - started), "command": command, "machine": fresh.machine(),
            "lambdapack": __version__, "git": fresh.git_commit(), "rounds": rounds, "warm_calls": warm_calls,
            "layers": layers.facts}




def measure(built: Sequence[Built], rounds: int, warm_calls: int,
            on_round: Callable[[int], None] | None = None) -> tuple[dict[str, dict[str, list[Sample]]], list[float]]:
    """``rounds`` rounds; in each, per model, a fresh runtime per path (empty, predictor, joblib)."""
    samples: dict[str, dict[str, list[Sample]]] = {b.spec.key: {p: [] for p in b.paths} for b in built}
    load: list[float] = []
    for round_no in range(rounds):
        for b in built:
            for path in b.paths:
                sample = fresh.cold_start(b.specs[path], b.event, b.expected[path], warm_calls)
                samples[b.spec.key][path].append(sample)
        load.append(round(os.getloadavg()[0], 2))
        if on_round:
            on_round(round_no)
    return samples, load


def model_figures(samples: Mapping[str, Sequence[fresh.Sample]], facts: Mapping[str, Any]) -> dict[str, Any]:
    """Per path the medians of one run; the predictor's paired Init difference; its goals."""
    out: dict[str, Any] = {"paths": {}}
    for path, runs in samples.items():
        out["paths"][path] = {
            "n": len(runs),
            "init_ms": fresh.summary([s.init_ms for s in runs]),
            "warm_duration_ms": fresh.summary([s.warm_duration_ms for s in runs]),
            "max_memory_mb": fresh.summary([s.max_memory_mb for s in runs]),
            "samples": {"init_ms": [round(s.init_ms, 2) for s in runs],
                        "warm_duration_ms": [s.warm_duration_ms for s in runs]},
        }
    paths = out["paths"]
    if "empty" in samples:
        out["minus_empty"] = {path: fresh.paired_difference(paths[path]["samples"]["init_ms"],
                                                                paths["empty"]["samples"]["init_ms"])
                              for path in samples if path != "empty"}
    if "predictor" in samples and "empty" in samples:
        out["predictor_minus_empty"] = out["minus_empty"]["predictor"]
        out["goals"] = goals(out, float(facts["init_budget_ms"]))
    if "predictor" in samples and "joblib" in samples:
        out["predictor_vs_joblib"] = round(paths["predictor"]["init_ms"]["p50"] / paths["joblib"]["init_ms"]["p50"], 4)
    return out


def goals(figures: Mapping[str, Any], init_budget_ms: float) -> dict[str, dict[str, Any]]:
    over = figures["predictor_minus_empty"]["median_ms"]
    warm = figures["paths"]["predictor"]["warm_duration_ms"]["p50"]
    return {
        "init": {"target_ms": init_budget_ms, "measured_ms": over, "met": over <= init_budget_ms},
        "warm": {"target_ms": zoo_models.WARM_BUDGET_MS, "measured_ms": warm, "met": warm <= zoo_models.WARM_BUDGET_MS},
    }


def tally(models: Mapping[str, Any]) -> dict[str, dict[str, int]]:
    """How many predictor-served models met each goal."""
    out = {"init": {"met": 0, "of": 0}, "warm": {"met": 0, "of": 0}}
    for model in models.values():
        for name, goal in (model.get("goals") or {}).items():
            out[name]["of"] += 1
            out[name]["met"] += bool(goal["met"])
    return out
