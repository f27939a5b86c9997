"""Compile one model file into the predictor and prove it: what the parent's request asks of the child."""

from __future__ import annotations

import importlib
from typing import Any

import joblib
import lambdapack_predictor
import numpy as np
import sklearn

from . import proof
from .errors import Unsupported
from .registry import FRONT_ENDS

CHECK_ROWS = 8  # rows embedded in the predictor for its init-time self-check


def _classes(est: Any) -> list:
    return [c.item() if hasattr(c, "item") else c for c in est.classes_]


def export(est: Any) -> tuple[dict, dict]:
    """The predictor's header and node tables for ``est``, from its family's front end."""
    name = type(est).__name__
    module = type(est).__module__
    front_end = FRONT_ENDS.get(name)
    if front_end is None or not module.startswith("sklearn."):
        raise Unsupported(f"{module}.{name} is not a tree model the predictor covers")
    task = "classification" if hasattr(est, "classes_") else "regression"
    if task == "classification" and np.ndim(est.classes_) != 1:
        raise Unsupported("multi-output classification")
    header, tables = importlib.import_module(f"{__package__}.{front_end}").export(est, task)
    header.update(task=task, n_features=int(est.n_features_in_), roots=tables.roots,
                  estimator=f"{module.split('._')[0]}.{name}", sklearn=sklearn.__version__)
    if task == "classification":
        header["classes"] = _classes(est)
    header.setdefault("tree_output", [0] * len(tables.roots))
    return header, tables.arrays()


def compile_model(request: dict) -> dict:
    """Write the proven predictor of ``request['model']`` to ``request['out']``; the proof's figures."""
    est = joblib.load(request["model"])
    if hasattr(est, "n_jobs"):
        est.n_jobs = None  # the reference adds trees in order, as a single thread does
    header, arrays = export(est)
    nodes = len(arrays["feature"])
    if nodes > int(request["max_nodes"]):
        raise Unsupported(f"its trees have {nodes:,} nodes, over the predictor's limit of {request['max_nodes']:,}")
    rng = np.random.default_rng(int(request.get("seed", 0)))
    X, leaves, unreachable = proof.leaf_rows(arrays, header, proof.base_rows(arrays, header, rng), rng)
    tables = {k: v.tolist() for k, v in arrays.items()}
    check = X[rng.choice(len(X), size=min(CHECK_ROWS, len(X)), replace=False)]
    expected = est.predict(check)
    if header["task"] == "classification":
        index = {label: i for i, label in enumerate(header["classes"])}
        check_out = [index[v] for v in expected.tolist()]
    else:
        check_out = [float(v) for v in expected]
    # JSON has no NaN: a missing value is null, as a request sends it
    rows = [[None if v != v else v for v in row] for row in check.tolist()]
    header["check"] = {"rows": rows, "outputs": check_out}
    data = lambdapack_predictor.encode(header, tables)
    predictor = lambdapack_predictor.Predictor(*lambdapack_predictor.decode(data))
    predictor.check_nodes()
    predictor.self_check()
    # scikit-learn's finite check sums each batch: rows of ±3.4e38 overflow that sum, harmlessly
    with np.errstate(over="ignore", invalid="ignore"):
        report = proof.verify(est, predictor, X, header)
    report.update(leaves=leaves, unreachable_leaves=unreachable, nodes=nodes, trees=len(header["roots"]),
                  kind=header["kind"], estimator=header["estimator"], sklearn=sklearn.__version__)
    with open(request["out"], "wb") as fh:
        fh.write(data)
    return {"ok": True, "report": report}


def compile_and_reply(request: dict) -> dict:
    """:func:`compile_model` as the child answers it: a model outside the predictor is a reply, not a crash."""
    try:
        return compile_model(request)
    except Unsupported as exc:
        return {"ok": False, "kind": "unsupported", "message": str(exc)}
