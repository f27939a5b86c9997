"""The inputs a fitted model takes: names, numbers or categories, and which may be missing.

The structure says which inputs are categories (the categories each encoder learned, read by
:mod:`.lower`); the model itself says the rest, asked the way the handler will ask it
(:func:`lambdapack_runtime.frames.estimator_input`): whether it needs a DataFrame, whether it
answers with an input missing (an imputer, a missing-aware estimator, an encoder that saw
missing values), and whether it takes a category it never saw. So the schema can never promise
an input the estimator path would refuse.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np
from lambdapack_runtime.frames import FRAMES, estimator_input
from lambdapack_runtime.inputs import Inputs

from .encoders import UNSEEN_TEXT
from .lower import Lowered, lower


def _scalar(value: Any) -> Any:
    value = value.item() if hasattr(value, "item") else value
    return value


def feature_names(model: Any, given: list[str] | None) -> list[str]:
    """``given``, else the column names the model was fitted with."""
    if given:
        return list(given)
    fitted = getattr(model, "feature_names_in_", None)
    if fitted is None:
        raise ValueError("the model was not fitted on named columns: give the feature names")
    return [str(n) for n in fitted]


def _categories(lowered: Lowered, origin: int) -> tuple[list, bool] | None:
    consumers = lowered.facts.categories.get(origin)
    if not consumers:
        return None
    known: list = []
    for values, _ in consumers:
        known += [v for v in values if v not in known]
    return known, all(ok for _, ok in consumers)


def _fields(names: list[str], aliases: list[str | None], lowered: Lowered) -> list[dict]:
    # an input no column reaching the estimator comes from is dropped (known only when every step compiled)
    used = None if lowered.blocker else {c.origin for c in lowered.columns}
    fields = []
    for i, (name, alias) in enumerate(zip(names, aliases, strict=True)):
        found = _categories(lowered, i)
        field: dict[str, Any] = {"name": name, "alias": alias, "type": "number", "nullable": False}
        if found is not None:
            field.update(type="category", categories=found[0], unknown="accept" if found[1] else "error")
        elif used is not None and i not in used:
            field.update(type="unused", nullable=True)
        fields.append(field)
    return fields


# scikit-learn's own trees take a NaN at predict time even when they never saw one (it goes to the
# larger child): that is no learned treatment of a missing value, so it makes no input nullable
_ROUTE_WITHOUT_LEARNING = ("DecisionTreeClassifier", "DecisionTreeRegressor", "ExtraTreeClassifier",
                           "ExtraTreeRegressor", "RandomForestClassifier", "RandomForestRegressor",
                           "ExtraTreesClassifier", "ExtraTreesRegressor")


def _answers(model: Any, fields: list[dict], frame: str | None, row: list, missing: bool = False) -> bool:
    """Whether the model predicts ``row`` given as the handler would give it (for a row with a
    missing value: and treats it as missing rather than only letting it through to a tree)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            X = estimator_input([row], Inputs(fields).fields, frame)
            model.predict(X)
            if missing and _nan_reaches_plain_trees(model, X):
                return False
    except (ValueError, TypeError, KeyError, IndexError, AttributeError, ImportError, ArithmeticError):
        return False
    return True


def _nan_reaches_plain_trees(model: Any, X: Any) -> bool:
    final = model
    while type(final).__name__ == "Pipeline":
        if len(final.steps) > 1:
            X = final[:-1].transform(X)
        final = final.steps[-1][1]
    if type(final).__name__ not in _ROUTE_WITHOUT_LEARNING or not type(final).__module__.startswith("sklearn."):
        return False
    X = X.toarray() if hasattr(X, "toarray") else X
    return bool(np.isnan(np.asarray(X, dtype=np.float64)).any())


def _base_rows(fields: list[dict]) -> list[list]:
    first = [f["categories"][0] if f["type"] == "category" else None if f["type"] == "unused" else 0.0
             for f in fields]
    return [first, [v if isinstance(v, str) else 1.0 for v in first]]


def _frame_and_row(model: Any, fields: list[dict], named: bool) -> tuple[str | None, list | None]:
    frames = FRAMES if named else (None,)
    for frame in frames:
        for row in _base_rows(fields):
            if _answers(model, fields, frame, row):
                return frame, row
    return None, None


def describe(model: Any, names: list[str], aliases: list[str | None] | None = None) -> dict:
    """``{"features": [...], "input_frame": ..., "blocker": ...}`` for a fitted model and its input names."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # an encoder's warning about an unseen value is the answer asked for
        return _describe(model, names, aliases or [None] * len(names))


def _describe(model: Any, names: list[str], aliases: list[str | None]) -> dict:
    lowered = lower(model, len(names))
    fields = _fields(names, aliases, lowered)
    named = getattr(model, "feature_names_in_", None) is not None
    frame, base = _frame_and_row(model, fields, named)
    if base is not None:
        for i, field in enumerate(fields):
            if field["type"] == "unused":
                continue
            missing = [None if j == i and field["type"] == "category" else math.nan if j == i else v
                       for j, v in enumerate(base)]
            field["nullable"] = _answers(model, fields, frame, missing, missing=True)
            if field["type"] == "category" and field["unknown"] == "accept":
                unseen = list(base)
                unseen[i] = UNSEEN_TEXT if isinstance(base[i], str) else _unseen_number(field["categories"])
                field["unknown"] = "accept" if _answers(model, fields, frame, unseen) else "error"
    return {"features": fields, "input_frame": frame, "blocker": lowered.blocker,
            "answers": base is not None}


def _unseen_number(categories: list) -> float:
    return max(float(c) for c in categories) + 1.5


def describe_and_reply(request: dict) -> dict:
    """:func:`describe` for the model file in ``request`` (``model``, ``names``, ``aliases``)."""
    import joblib
    from lambdapack_runtime.adapters import adapt

    model = adapt(joblib.load(request["model"]))
    try:
        names = feature_names(model, request.get("names"))
    except ValueError as exc:
        return {"ok": False, "kind": "names", "message": str(exc)}
    return {"ok": True, "names": names, **describe(model, names, request.get("aliases"))}
