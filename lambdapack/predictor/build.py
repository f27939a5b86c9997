"""Compile a model into the stdlib predictor at package time, proven exact in the model's own libraries.

``build_predictor`` decides where the proof runs: in this interpreter when its scikit-learn,
numpy, scipy and joblib are the versions the model was trained with, else in the layer's Python
with only the layer's libraries (:class:`lambdapack.layer_python.LayerPython`). There the
compiler (:mod:`lambdapack.predictor.compiler`) exports the model through its family's front
end, builds probe rows that reach every leaf and sit on and beside every threshold, and compares
the predictor with the estimator's ``predict``, ``decision_function`` and ``predict_proba``. Any
model it does not cover, and any difference, leaves the function on the joblib path, with the
reason.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

from lambdapack import archive
from lambdapack.errors import LambdapackError
from lambdapack.layer.inspect import inspect_layer
from lambdapack.layer_python import ChildFailure, LayerPython
from lambdapack.model import version_rule
from lambdapack.model.manifest import Manifest
from lambdapack.predictor.compiler.registry import FRONT_ENDS
from lambdapack.template_files import template_path

COMPILER = Path(__file__).resolve().with_name("compiler")

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
COVERED = frozenset(FRONT_ENDS)


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


def _prover(manifest: Manifest, layer: Path | None, python: Path | None) -> LayerPython | str:
    """Where the proof runs, or why it cannot run anywhere here."""
    differ = version_rule.version_mismatches(manifest.versions, host_versions())
    if not differ:
        return LayerPython.here()
    if layer is None:
        trained = ", ".join(f"{m.package} {m.model}" for m in differ)
        found = ", ".join(f"{m.package} {m.layer or 'none'}" for m in differ)
        return (f"the model was trained with {trained} and this Python has {found}: give --layer to prove the "
                "predictor with the model's own libraries")
    try:
        info = inspect_layer(layer)
        if info.python is None:
            return f"{layer.name} does not say which Python it is for"
        return LayerPython.for_layers([info], python)
    except LambdapackError as exc:
        return f"the layer's libraries cannot run here ({exc.message})"


def _proven_with(env: LayerPython, manifest: Manifest) -> str:
    sklearn = host_versions().get("scikit-learn") if not env.site_paths else manifest.versions.get("scikit-learn")
    return f"{env.description}, scikit-learn {sklearn}"


def build_predictor(model_path: Path, manifest: Manifest, layer: Path | None = None,
                    python: Path | None = None, max_nodes: int = MAX_NODES) -> PredictorBuild:
    """The predictor for the model at ``model_path`` (sha256 already verified), or why there is none."""
    name = manifest.estimator.class_path.rpartition(".")[2]
    if name not in COVERED or not manifest.estimator.class_path.startswith("sklearn."):
        return joblib_path(f"{name} is not a tree model the stdlib predictor covers")
    env = _prover(manifest, layer, python)
    if isinstance(env, str):
        return joblib_path(env)
    modules = {"lambdapack_predictor": template_path("lambdapack_predictor.py"), "lambdapack_compiler": COMPILER}
    with archive.scratch_dir("predictor") as tmp:
        out = Path(tmp) / PREDICTOR_FILE
        request = {"model": str(Path(model_path).resolve()), "out": str(out), "max_nodes": max_nodes, "seed": 0}
        try:
            reply = env.call("lambdapack_compiler.entry:compile_and_reply", request, modules,
                             timeout=COMPILE_TIMEOUT_S, cwd=Path(tmp))
        except ChildFailure as exc:
            return joblib_path(_failure_reason(exc))
        data = out.read_bytes()
    verification = dict(reply.get("report") or {})
    report = PredictorReport(serving="predictor", reason=_proof_sentence(verification),
                             kind=str(verification.get("kind")), bytes=len(data),
                             proven_with=_proven_with(env, manifest), verification=verification)
    return PredictorBuild(report, data)


def _failure_reason(exc: ChildFailure) -> str:
    if exc.kind == "unsupported":
        return exc.message
    if exc.kind == "import":
        return f"cannot import the model's libraries here ({exc.message})"
    if exc.kind == "timeout":
        return f"proving the predictor took over {COMPILE_TIMEOUT_S} s"
    return f"the predictor compiler failed ({exc.message})"


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
