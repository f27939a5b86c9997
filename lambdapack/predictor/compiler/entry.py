"""Compile one model file into the predictor and prove it: what the parent's request asks of the child.

Request: ``model`` (the file, sha256 already checked), ``features`` (model.json's inputs, typed
or not), ``typed`` (whether model.json says their types), ``out``, ``max_nodes``, ``seed``.
Reply: the proof's report and the inputs as the model itself describes them (``schema``), also
when the model stays on the joblib path, so ``package`` can say why and type an old manifest.
"""

from __future__ import annotations

from typing import Any

import joblib
import numpy as np
import sklearn
from lambdapack_runtime import predictor as runtime
from lambdapack_runtime.adapters import adapt
from lambdapack_runtime.links import FLOAT32_MAX

from .boundaries import linear_rows
from .errors import Unsupported
from .leaves import Coverage, leaf_rows
from .lower import export_final as export_model
from .lower import lower
from .probes import Pools
from .proof import DOT_ULPS, Proof, preprocess
from .schema import describe
from .tables import Export

CHECK_ROWS = 8  # rows embedded in the predictor for its init-time self-check
SCHEMA_KEYS = ("type", "nullable", "categories", "unknown")


def _classes(est: Any) -> list:
    return [c.item() if hasattr(c, "item") else c for c in est.classes_]


def _final(model: Any) -> Any:
    while type(model).__name__ == "Pipeline":
        model = model.steps[-1][1]
    return model


def _single_threaded(model: Any) -> None:
    final = _final(model)
    if hasattr(final, "n_jobs"):
        final.n_jobs = None  # the reference adds trees in order, as a single thread does


def schema_difference(manifest: list[dict], described: list[dict]) -> str | None:
    """What model.json says of an input that the model itself does not, or None."""
    for given, found in zip(manifest, described, strict=True):
        for key in SCHEMA_KEYS:
            mine = given.get(key, {"type": "number", "nullable": False, "unknown": "error"}.get(key))
            theirs = found.get(key, {"type": "number", "nullable": False, "unknown": "error"}.get(key))
            if key == "categories" and (given.get("type") != "category" or found.get("type") != "category"):
                continue
            if mine != theirs:
                return f"{given['name']}: model.json says {key} {mine!r}, the model takes {theirs!r}"
    return None


def _task(final: Any) -> str:
    task = "classification" if hasattr(final, "classes_") else "regression"
    if task == "classification" and np.ndim(final.classes_) != 1:
        raise Unsupported("multi-output classification")
    if getattr(final, "n_outputs_", 1) != 1:
        raise Unsupported("multi-output trees")
    return task


def _finite_pools(pools: Pools, proof: Proof, export: Export) -> Any:
    """Drop pool values the steps take out of the range the estimator accepts; the pool rows' estimator input."""
    limit = FLOAT32_MAX if export.model.get("float32_inputs") else np.inf
    for _ in range(2):
        length = max(len(p) for p in pools.values)
        post, _ = preprocess(proof.model, proof.estimator_input(pools.rows(mixes=0)[:length]))
        bad = ~np.isnan(post) & ~(np.abs(post) <= limit)
        if not bad.any():
            return post
        origins = [c.origin for c in pools.columns]
        flagged = frozenset((origins[j], i) for i, j in zip(*np.nonzero(bad), strict=True))
        pools.drop(lambda origin, k, flagged=flagged: (origin, k) not in flagged)
    raise Unsupported("its preprocessing takes some inputs out of the estimator's range")


def compile_model(model: Any, request: dict, fields: list[dict], frame: str | None) -> dict:
    lowered = lower(model, len(fields))
    if lowered.blocker:
        raise Unsupported(lowered.blocker)
    final = _final(model)
    task = _task(final)
    export = export_model(lowered, task)
    nodes = len(export.tables.get("feature", ()))
    if nodes > int(request["max_nodes"]):
        raise Unsupported(f"its trees have {nodes:,} nodes, over the predictor's limit of {request['max_nodes']:,}")
    if "missing_left" in export.tables and not export.model.get("zero_as_missing") and \
            not any(f["nullable"] or f.get("unknown") == "accept" for f in fields):
        del export.tables["missing_left"]  # no request can send a missing value (nor an unknown category): faster
    classes = _classes(final) if task == "classification" else None
    proof = Proof(model, fields, frame, export, bool(lowered.steps), classes)
    rng = np.random.default_rng(int(request.get("seed", 0)))
    pools = Pools(fields, lowered.columns, export, rng)
    post = _finite_pools(pools, proof, export)
    rows = pools.rows()
    coverage, boundary = Coverage(0, 0), 0
    if nodes:
        extra, coverage = leaf_rows(pools, post, rows, export.model, export.tables)
        rows += extra
    elif export.model["kind"] == "linear":
        extra, boundary = linear_rows(pools, rows, lambda r: preprocess(model, proof.estimator_input(r))[0], task,
                                      DOT_ULPS)
        rows += extra
    header = {"task": task, "n_inputs": len(fields), "input_kinds": [f["type"] for f in fields],
              "steps": lowered.steps, "model": export.model, "output": export.output,
              "source": {"estimator": getattr(type(final), "adapts", None)
                         or f"{type(final).__module__.split('._')[0]}.{type(final).__name__}",
                         "scikit-learn": sklearn.__version__}}
    if classes is not None:
        header["classes"] = classes
    tables = {k: v.tolist() for k, v in export.tables.items()}
    predictor = runtime.Predictor(*runtime.decode(runtime.encode(header, tables)))
    predictor.check_nodes()
    report = proof.verify(predictor, rows, task)
    header["check"] = _check_rows(predictor, rows, rng)
    data = runtime.encode(header, tables)
    runtime.Predictor(*runtime.decode(data)).self_check()  # what init will run, on the bytes written
    if export.model["kind"] == "linear":
        report.update(boundary_rows=boundary, coefficients=len(export.model["coef"]) * export.model["n_features"])
    report.update(leaves=coverage.leaves, unreachable_leaves=coverage.unreachable_leaves,
                  missing_nodes=coverage.missing_nodes, missing_unreached=coverage.missing_unreached,
                  nodes=nodes, trees=len(export.roots),
                  steps=len(lowered.steps), kind=export.model["kind"], estimator=header["source"]["estimator"],
                  sklearn=sklearn.__version__)
    with open(request["out"], "wb") as fh:
        fh.write(data)
    return report


def _check_rows(predictor: Any, rows: list[list], rng: Any) -> dict:
    """A few probe rows and the predictor's answers for them, just proven the estimator's (bit for bit, or
    within the bound the claim states): init answers them again, exactly, or refuses to serve."""
    picked = [rows[int(i)] for i in rng.choice(len(rows), size=min(CHECK_ROWS, len(rows)), replace=False)]
    outputs = predictor.predict(picked)[0]
    # JSON has no NaN: a missing value is null, as a request sends it
    return {"rows": [[None if v is None or v != v else v for v in row] for row in picked], "outputs": outputs}


def compile_and_reply(request: dict) -> dict:
    """The child's answer: the proof's report, or why the model keeps the joblib path; the model's own schema."""
    model = adapt(joblib.load(request["model"]))  # a native booster answers as the handler will ask it
    _single_threaded(model)
    given = request["features"]
    described = describe(model, [f["name"] for f in given], [f.get("alias") for f in given])
    if request.get("typed"):
        differ = schema_difference(given, described["features"])
        if differ is not None:
            return {"ok": False, "kind": "schema", "message": differ, "schema": described}
        fields, frame = given, request.get("input_frame")
    else:
        fields, frame = described["features"], described["input_frame"]
    try:
        report = compile_model(model, request, fields, frame)
    except Unsupported as exc:
        return {"ok": False, "kind": "unsupported", "message": str(exc), "schema": described}
    return {"ok": True, "report": report, "schema": described}
