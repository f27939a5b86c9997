"""Compile a model into the stdlib predictor at package time, proven exact in the model's own libraries.

``build_predictor`` decides where the proof runs: in this interpreter when its scikit-learn,
numpy, scipy and joblib are the versions the model was trained with, else in the layer's Python
with only the layer's libraries (the layer is unpacked once into the emulator's cache). It runs
``_child_compile.py`` there, which exports the trees, builds verification rows that reach every
leaf and sit on and beside every threshold, and compares the predictor with the estimator's
``predict``, ``decision_function`` and ``predict_proba``. Any model it does not cover, and any
difference, leaves the function on the joblib path, with the reason.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

from lambdapack import archive, interpreters
from lambdapack.errors import LambdapackError
from lambdapack.model import version_rule
from lambdapack.model.manifest import Manifest
from lambdapack.predictor import _child_compile
from lambdapack.template_files import template_path

PREDICTOR_FILE = "model.predictor"
FORMAT = "lambdapack.predictor/1"
# Node tables past this would cost the function more memory and init time than the estimator.
MAX_NODES = 2_000_000
# Rows per request up to which the predictor answers even when the layer is there; above it the
# estimator's vectorised evaluation wins. Measured crossovers (docs/benchmarks.md): ~320 rows for
# the guide's 100-tree forest, ~49 for a 300-tree digits forest, ~23 for gradient boosting on
# breast_cancer; 50 costs the least over all three (at most 16.5 ms a request over the faster path).
DEFAULT_MAX_ROWS = 50
COMPILE_TIMEOUT_S = 900
COVERED = frozenset(_child_compile.EXPORTERS)


@dataclass(frozen=True)
class PredictorReport:
    """Which path the function serves by, why, and how the predictor was proven."""

    serving: str  # "predictor" | "joblib"
    reason: str
    kind: str | None = None
    bytes: int | None = None
    proven_with: str | None = None  # the interpreter and libraries the proof ran with
    verification: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class PredictorBuild:
    report: PredictorReport
    data: bytes | None = None  # the predictor file, when the function serves by it


def joblib_path(reason: str) -> PredictorBuild:
    return PredictorBuild(PredictorReport(serving="joblib", reason=reason))


def host_versions() -> dict[str, str]:
    out = {}
    for name in version_rule.PINNED_PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return out


@dataclass(frozen=True)
class _Runner:
    command: tuple[str, ...]
    sys_path: tuple[str, ...]
    description: str


def _runner(manifest: Manifest, layer: Path | None, python: Path | None) -> _Runner | str:
    """Where the proof runs, or why it cannot run anywhere here."""
    templates = str(template_path("lambdapack_predictor.py").parent)
    script = str(Path(_child_compile.__file__).resolve())
    here = host_versions()
    differ = version_rule.version_mismatches(manifest.versions, here)
    if not differ:
        return _Runner((sys.executable, "-I", "-B", script), (templates,),
                       f"this Python {sys.version_info[0]}.{sys.version_info[1]}, scikit-learn "
                       f"{here.get('scikit-learn')}")
    if layer is None:
        trained = ", ".join(f"{m.package} {m.model}" for m in differ)
        found = ", ".join(f"{m.package} {m.layer or 'none'}" for m in differ)
        return (f"the model was trained with {trained} and this Python has {found}: give --layer to prove the "
                "predictor with the model's own libraries")
    from lambdapack.emulator import code
    from lambdapack.layer.inspect import inspect_layer

    try:
        info = inspect_layer(layer)
        version, _ = code.check_runnable([info])
        if version is None:
            return f"{layer.name} does not say which Python it is for"
        interpreter = interpreters.require_python(tuple(int(p) for p in version.split(".")), python)
        opt = code.opt_dir_for([info])
    except LambdapackError as exc:
        return f"the layer's libraries cannot run here ({exc.message})"
    site = opt / "python" / "lib" / f"python{version}" / "site-packages"
    return _Runner((str(interpreter), "-I", "-S", "-B", script), (templates, str(site), str(opt / "python")),
                   f"the layer's Python {version}, scikit-learn {manifest.versions.get('scikit-learn')}")


def build_predictor(model_path: Path, manifest: Manifest, layer: Path | None = None,
                    python: Path | None = None, max_nodes: int = MAX_NODES) -> PredictorBuild:
    """The predictor for the model at ``model_path`` (sha256 already verified), or why there is none."""
    name = manifest.estimator.class_path.rpartition(".")[2]
    if name not in COVERED or not manifest.estimator.class_path.startswith("sklearn."):
        return joblib_path(f"{name} is not a tree model the stdlib predictor covers")
    runner = _runner(manifest, layer, python)
    if isinstance(runner, str):
        return joblib_path(runner)
    with archive.scratch_dir("predictor") as tmp:
        out = Path(tmp) / PREDICTOR_FILE
        request = {"model": str(Path(model_path).resolve()), "out": str(out), "sys_path": list(runner.sys_path),
                   "max_nodes": max_nodes, "seed": 0}
        reply = _run(runner, request, cwd=Path(tmp))
        if not reply.get("ok"):
            return joblib_path(str(reply.get("reason") or "the compiler gave no reason"))
        data = out.read_bytes()
    verification = dict(reply.get("report") or {})
    report = PredictorReport(serving="predictor", reason=_proof_sentence(verification),
                             kind=str(verification.get("kind")), bytes=len(data), proven_with=runner.description,
                             verification=verification)
    return PredictorBuild(report, data)


def _run(runner: _Runner, request: dict, cwd: Path) -> dict:
    try:
        done = subprocess.run(runner.command, input=json.dumps(request), capture_output=True, text=True, cwd=cwd,
                              timeout=COMPILE_TIMEOUT_S, check=False)
    except subprocess.TimeoutExpired:
        return {"ok": False, "reason": f"proving the predictor took over {COMPILE_TIMEOUT_S} s"}
    except OSError as exc:
        return {"ok": False, "reason": f"cannot run {runner.command[0]} ({exc.strerror or exc})"}
    lines = done.stdout.strip().splitlines()
    try:
        reply = json.loads(lines[-1]) if lines else None
    except json.JSONDecodeError:
        reply = None
    if done.returncode != 0 or not isinstance(reply, dict):
        tail = " | ".join(done.stderr.strip().splitlines()[-2:]) or f"exit status {done.returncode}"
        return {"ok": False, "reason": f"the predictor compiler failed ({tail})"}
    return reply


def _proof_sentence(report: Mapping[str, Any]) -> str:
    probabilities = report.get("probabilities")
    extra = ""
    if probabilities == "exp" or report.get("exp_ulps"):
        extra = (f"; exp from the C library, within {report.get('exp_ulps')} ulp of numpy's vectorised exp "
                 "on this CPU")
    elif probabilities == "exact":
        extra = ", probabilities identical"
    return (f"identical to the estimator on {report.get('rows', 0):,} rows reaching all "
            f"{report.get('leaves', 0):,} leaves of {report.get('trees', 0):,} trees{extra}")
