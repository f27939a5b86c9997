"""Compile a model into the stdlib predictor at package time, proven in the model's own libraries.

``build_predictor`` decides where the proof runs: in this interpreter when its scikit-learn,
numpy, scipy and joblib are the versions the model was trained with, else in the layer's Python
with only the layer's libraries (:class:`lambdapack.layer_python.LayerPython`). There the
compiler (:mod:`lambdapack.predictor.compiler`) reads the model's inputs from the model itself,
lowers its pipeline through one front end per step and model family, builds probe rows (every
leaf, both sides of every threshold after the preprocessing, every category, missing values)
and compares the predictor with the estimator's ``predict``, ``decision_function`` and
``predict_proba``. Any model it does not cover, and any difference, leaves the function on the
joblib path, with the reason; :func:`claim_of` states what was proven.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

from lambdapack import archive
from lambdapack.errors import LambdapackError, PackageError
from lambdapack.layer.inspect import inspect_layer
from lambdapack.layer_python import ChildFailure, LayerPython
from lambdapack.model import version_rule
from lambdapack.model.manifest import Manifest
from lambdapack.predictor.files import compiler_modules

PREDICTOR_FILE = "model.predictor"
FORMAT = "lambdapack.predictor/2"
# Node tables past this would cost the function more memory and init time than the estimator.
MAX_NODES = 2_000_000
# Rows per request up to which the predictor answers even when the layer is there; above it the
# estimator's vectorised evaluation wins. Measured crossovers (docs/benchmarks.md): ~320 rows for
# the guide's 100-tree forest, ~49 for a 300-tree digits forest, ~23 for gradient boosting on
# breast_cancer; 50 costs the least over all three (at most 16.5 ms a request over the faster path).
MAX_ROWS = 50
COMPILE_TIMEOUT_S = 900


@dataclass(frozen=True)
class PredictorReport:
    """Which path the function serves by, why, and how the predictor was proven."""

    serving: str  # "predictor" | "joblib"
    reason: str
    kind: str | None = None
    bytes: int | None = None
    proven_with: str | None = None  # the interpreter and libraries the proof ran with
    verification: Mapping[str, Any] = field(default_factory=dict)
    claim: Mapping[str, Any] | None = None  # what the proof established, per output (function.json)


@dataclass(frozen=True)
class PredictorBuild:
    report: PredictorReport
    data: bytes | None = None  # the predictor file, when the function serves by it
    schema: Mapping[str, Any] | None = None  # the inputs as the model itself describes them, when it was read


def joblib_path(reason: str, schema: Mapping[str, Any] | None = None) -> PredictorBuild:
    return PredictorBuild(PredictorReport(serving="joblib", reason=reason), schema=schema)


def host_versions() -> dict[str, str]:
    out = {}
    # a pinned library may be installed under another distribution name (xgboost-cpu is xgboost)
    for name in (*version_rule.PINNED_PACKAGES, *version_rule.LAYER_ALIASES):
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
    versions = version_rule.with_aliases(host_versions()) if not env.site_paths else manifest.versions
    libraries = ["scikit-learn", *(name for name in ("xgboost", "lightgbm") if manifest.versions.get(name))]
    return f"{env.description}, " + ", ".join(f"{name} {versions.get(name)}" for name in libraries)


def build_predictor(model_path: Path, manifest: Manifest, layer: Path | None = None,
                    python: Path | None = None, max_nodes: int = MAX_NODES) -> PredictorBuild:
    """The predictor for the model at ``model_path`` (sha256 already verified), or why there is none."""
    env = _prover(manifest, layer, python)
    if isinstance(env, str):
        return joblib_path(env)
    with archive.scratch_dir("predictor") as tmp:
        out = Path(tmp) / PREDICTOR_FILE
        request = {"model": str(Path(model_path).resolve()), "out": str(out), "max_nodes": max_nodes, "seed": 0,
                   "features": [f.to_dict() for f in manifest.features], "typed": manifest.typed,
                   "input_frame": manifest.input_frame}
        try:
            reply = env.call("lambdapack_compiler.entry:compile_and_reply", request, compiler_modules(),
                             timeout=COMPILE_TIMEOUT_S, cwd=Path(tmp))
        except ChildFailure as exc:
            return _failed(exc, model_path)
        data = out.read_bytes()
    verification = dict(reply.get("report") or {})
    claim = claim_of(verification)
    report = PredictorReport(serving="predictor", reason=proof_sentence(verification, claim),
                             kind=str(verification.get("kind")), bytes=len(data),
                             proven_with=_proven_with(env, manifest), verification=verification, claim=claim)
    return PredictorBuild(report, data, reply.get("schema"))


def _failed(exc: ChildFailure, model_path: Path) -> PredictorBuild:
    schema = exc.reply.get("schema")
    if exc.kind == "schema":
        raise PackageError(f"{Path(model_path).parent / 'model.json'} does not describe the model's inputs: "
                           f"{exc.message}",
                           hint="recreate the manifest with `lambdapack model import MODEL --out DIR` "
                                "(it reads the inputs from the model)")
    if exc.kind == "unsupported":
        return joblib_path(exc.message, schema)
    if exc.kind == "import":
        return joblib_path(f"cannot import the model's libraries here ({exc.message})", schema)
    if exc.kind == "timeout":
        return joblib_path(f"proving the predictor took over {COMPILE_TIMEOUT_S} s", schema)
    return joblib_path(f"the predictor compiler failed ({exc.message})", schema)


def _ulp_text(entry: Mapping[str, Any]) -> str:
    claim = entry.get("claim")
    if claim == "bit-identical":
        return "bit-identical"
    if claim == "exp":
        return f"within {entry.get('max_ulps')} ulp (exp from the C library, numpy's differs in the last bits)"
    if claim == "dot":
        return _dot_text(entry)
    return str(claim)


def _dot_text(entry: Mapping[str, Any]) -> str:
    """A linear model's bound: scores in ulps of the dot product's magnitude, probabilities through the link."""
    if "max_abs" in entry:
        slope = entry.get("slope")
        # modified_huber over more than two classes: the slope depends on the row (docs/function.md)
        slope = f"{slope:g}" if isinstance(slope, (int, float)) else "(classes - 1) / (2 times its smallest sum)"
        return (f"within {entry['max_abs']:.3g} of predict_proba's, on a row whose dot product's magnitude is "
                f"{entry.get('max_abs_magnitude', 0.0):.2g} ({entry.get('max_ulps_scores_agree')} ulp where the scores "
                f"agree; bound per row: {slope} times its score difference + {entry.get('slack_ulps')} ulp of 1)")
    return f"within {entry.get('max_ulps'):g} ulp of the dot product's magnitude (bound {entry.get('bound_ulps')})"


def claim_of(verification: Mapping[str, Any]) -> dict[str, Any]:
    """What the proof established, output by output, in words a reader can check against the docs."""
    claim: dict[str, Any] = {"rows": verification.get("rows", 0)}
    if verification.get("predict") == "identical":
        claim["predict"] = "identical labels and values"  # labels equal; regression values bit-identical
    elif isinstance(verification.get("scores"), Mapping):  # a regressor whose values are bounded
        claim["predict"] = "values " + _ulp_text(verification["scores"])
    if verification.get("transforms"):
        claim["preprocessing"] = verification["transforms"]
    for key in ("scores", "probabilities"):
        entry = verification.get(key)
        if isinstance(entry, Mapping):
            claim[key] = _ulp_text(entry)
    exact = verification.get("predict") == "identical" and \
        all(claim.get(k, "bit-identical") == "bit-identical" for k in ("preprocessing", "scores", "probabilities"))
    claim["exact"] = exact and verification.get("arithmetic") == "exact"
    if verification.get("arithmetic") == "dot":
        claim.update(_dot_claim(verification, claim))
    return claim


def _dot_claim(verification: Mapping[str, Any], claim: Mapping[str, Any]) -> dict[str, Any]:
    """A linear model's claim: labels identical on the rows, values (a regressor's are its scores) bounded."""
    rows = f"{verification.get('rows', 0):,} rows"
    if verification.get("predict") == "identical":
        parts = [f"predictions identical on {rows}"] + [f"{key} {claim[key]}" for key in ("scores", "probabilities")
                                                       if key in claim]
        return {"predict": f"identical on {rows}", "statement": "; ".join(parts)}
    return {"predict": f"{claim['scores']} on {rows}", "statement": f"predictions {claim['scores']} on {rows}"}


def proof_sentence(verification: Mapping[str, Any], claim: Mapping[str, Any]) -> str:
    """``package``'s one line: on what the predictor was proven, and what holds."""
    if "statement" in claim:
        steps = f"preprocessing {claim['preprocessing']}; " if "preprocessing" in claim else ""
        return f"proven: {steps}{claim['statement']}"
    where = f"{verification.get('rows', 0):,} rows"
    if verification.get("trees"):
        leaves, trees = verification.get("leaves", 0), verification.get("trees", 0)
        unreachable = verification.get("unreachable_leaves", 0)
        where += f" reaching all {leaves:,} leaves" if not unreachable else \
            f" reaching {leaves - unreachable:,} of {leaves:,} leaves ({unreachable:,} no input can reach)"
        where += f" of {trees:,} tree{'s' if trees != 1 else ''}"
        missing = verification.get("missing_nodes", 0) - verification.get("missing_unreached", 0)
        if missing:
            where += f", a missing value down each of {missing:,} default branches it can take"
    parts = []
    if "preprocessing" in claim:
        parts.append(f"preprocessing {claim['preprocessing']}")
    bounded = verification.get("predict") == "bounded"
    parts.append("predictions identical" if not bounded else f"predictions {claim['scores']}")
    regression = verification.get("task") == "regression"  # its scores are its predictions: said once
    for key in ("scores", "probabilities"):
        if key in claim and not ((bounded or regression) and key == "scores"):
            parts.append(f"{key} {claim[key]}")
    return f"proven on {where}: " + ", ".join(parts)
