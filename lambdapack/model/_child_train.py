"""Fit, score and dump one scikit-learn model: the part of ``train`` that runs where the model is made.

This file must not import lambdapack: ``train --layer`` calls :func:`fit_and_reply` in the
layer's Python (``lambdapack.layer_python``), whose ``sys.path`` holds only the standard library
and the unzipped layer, so the pickle is written by exactly the libraries that will load it.
In-process training calls :func:`fit_and_dump` directly, so both paths share this code.
"""

from __future__ import annotations

import ast
import difflib
import importlib
import platform
import warnings
from typing import Any

LIBRARIES = {"scikit-learn": "sklearn", "numpy": "numpy", "scipy": "scipy", "joblib": "joblib",
             "threadpoolctl": "threadpoolctl"}


class TrainFailure(Exception):
    """A failure the caller turns into a user-facing error; ``kind`` says whose fault it is."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message


def library_versions() -> dict[str, str]:
    """The running interpreter's and libraries' versions, from the modules themselves.

    ``__version__`` rather than importlib.metadata: a slimmed layer has no ``*.dist-info``.
    """
    out = {"python": platform.python_version()}
    for dist, module in LIBRARIES.items():
        try:
            out[dist] = str(importlib.import_module(module).__version__)
        except ImportError:
            continue
    return out


def parse_literal(key: str, source: str) -> Any:
    """A hyper-parameter value from its text: a Python literal, or else the bare word as a string."""
    lowered = source.strip().lower()
    if lowered in ("none", "null"):
        return None
    if lowered in ("true", "false"):
        return lowered == "true"
    try:
        return ast.literal_eval(source.strip())
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        word = source.strip()
        # `criterion=entropy` is a string; `alpha=1e-3x` or `x=[1,` is a typo, not a string
        if word.replace("_", "").replace("-", "").isalnum() and not word[:1].isdigit():
            return word
        raise TrainFailure("param", f"--param {key}={source}: not a literal value "
                                    "(numbers, quoted strings, True/False/None, tuples, lists)") from None


def build_estimator(class_path: str, params: dict[str, str]) -> Any:
    """An unfitted estimator of ``class_path`` with ``params`` (literal source text) checked and set."""
    module_name, _, class_name = class_path.rpartition(".")
    try:
        cls = getattr(importlib.import_module(module_name), class_name)
    except (ImportError, AttributeError) as exc:
        raise TrainFailure("estimator", f"cannot import {class_path} ({exc})") from None
    estimator = cls()
    known = estimator.get_params()
    values = {}
    for key, text in params.items():
        if key not in known:
            close = difflib.get_close_matches(key, list(known), n=1)
            choices = f"did you mean {close[0]!r}?" if close else "it takes: " + ", ".join(sorted(known))
            raise TrainFailure("param", f"{cls.__name__} has no parameter {key!r}; {choices}")
        values[key] = parse_literal(key, text)
    estimator.set_params(**values)
    validate = getattr(estimator, "_validate_params", None)
    if validate is not None:  # scikit-learn >= 1.2 checks types and ranges before fitting
        try:
            validate()
        except (ValueError, TypeError) as exc:
            raise TrainFailure("param", str(exc).strip()) from None
    return estimator


def _scalar(value: Any) -> Any:
    return value.item() if hasattr(value, "item") else value


def fit_and_dump(request: dict[str, Any], describe: Any = None) -> dict[str, Any]:
    """Split, fit, score and ``joblib.dump`` as ``request`` says; return metrics, classes and versions.

    ``describe(estimator, names, aliases)``, when given, reads the fitted model's inputs (their
    types, whether they may be missing) for the manifest, in the same libraries that fitted it.
    """
    import joblib
    import numpy as np
    from sklearn.base import is_classifier
    from sklearn.metrics import accuracy_score, mean_absolute_error, r2_score
    from sklearn.model_selection import train_test_split

    estimator = build_estimator(request["estimator"], request.get("params") or {})
    task = request["task"]
    if task == "classification" and not is_classifier(estimator):
        raise TrainFailure("estimator", f"{request['estimator']} is not a classifier")
    X = np.asarray(request["X"], dtype=np.float64)
    y = np.asarray(request["y"], dtype=np.float64 if task == "regression" else None)
    try:
        X_train, X_test, y_train, y_test = train_test_split(
            X, y, test_size=request["test_size"], random_state=request["split_random_state"])
    except ValueError as exc:
        raise TrainFailure("data", f"cannot split {len(X)} rows with test_size={request['test_size']}: {exc}") \
            from None
    if task == "classification" and len(np.unique(y_train)) < 2:
        raise TrainFailure("data", f"the training split of {len(X)} rows holds a single class; "
                                   "a classifier needs at least two")
    caught: list[str] = []
    with warnings.catch_warnings(record=True) as records:
        warnings.simplefilter("always")
        try:
            estimator.fit(X_train, y_train)
        except (ValueError, TypeError, ArithmeticError) as exc:
            raise TrainFailure("fit", f"{type(estimator).__name__}.fit failed: {exc}") from None
        predicted = estimator.predict(X_test)
    for record in records:
        # the first line says what happened; sklearn's follow-up lines are long advice
        first_line = str(record.message).strip().splitlines()[0] if str(record.message).strip() else ""
        text = f"{record.category.__name__}: {first_line}"
        if text not in caught:
            caught.append(text)
    if task == "classification":
        metrics = {"accuracy": float(accuracy_score(y_test, predicted))}
        classes = [_scalar(c) for c in estimator.classes_]
    else:
        metrics = {"r2": float(r2_score(y_test, predicted)), "mae": float(mean_absolute_error(y_test, predicted))}
        classes = None
    joblib.dump(estimator, request["out"], compress=request.get("compress", 0))
    import sklearn

    schema = describe(estimator, request["names"], request.get("aliases")) if describe is not None else None
    return {
        "schema": schema,
        "ok": True,
        "metrics": metrics,
        "classes": classes,
        "versions": library_versions(),
        "train_rows": len(X_train),
        "test_rows": len(X_test),
        "warnings": caught,
        "sklearn_path": sklearn.__file__,
    }


def fit_and_reply(request: dict[str, Any]) -> dict[str, Any]:
    """:func:`fit_and_dump` as the layer's Python answers it (``lambdapack.layer_python``): failures in the reply."""
    describe = None
    if request.get("describe_with"):  # "module:function", a module the layer's Python was given
        module, _, function = str(request["describe_with"]).partition(":")
        describe = getattr(importlib.import_module(module), function)
    try:
        return fit_and_dump(request, describe)
    except TrainFailure as exc:
        return {"ok": False, "kind": exc.kind, "message": exc.message}
