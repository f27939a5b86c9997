"""Lowering a fitted model: its pipeline's steps into the predictor's steps, down to the final estimator.

A ``Pipeline`` is a chain of steps; a ``ColumnTransformer`` runs each part on its columns (by
index or name, ``passthrough``, ``drop``, the remainder) and lays the outputs side by side; every
other step is compiled by its front end (:mod:`.registry`). Each column flowing through is
tracked back to the one input it is a function of (every covered step is column-wise): the
proof builds its probe rows from that, and the input schema learns which inputs are categories
from the encoders that read them. The first step nothing compiles is the ``blocker``: the model
keeps the joblib path, and ``package`` names that step. A final estimator that encodes some inputs
itself (``lower_inputs`` in its front end: LightGBM's pandas categories) adds those steps last.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .errors import Unsupported
from .registry import MODELS, STEPS, key


@dataclass(frozen=True)
class Column:
    """A column between two steps: which input it comes from, what flows in it, how to go back."""

    origin: int | None  # the input this column is a function of; None when it mixes several
    values: str = "number"  # "number" | "category" (raw categories, not yet encoded)
    invert: Callable[[float], float] | None = None  # a number here -> roughly the input that gives it


def identity(value: float) -> float:
    return value


@dataclass
class Facts:
    """What the steps tell about the inputs: the categories each encoder learned for it."""

    categories: dict[int, list[tuple[list, bool]]] = field(default_factory=dict)
    blocker: str | None = None  # the first step nothing compiles

    def block(self, reason: str) -> None:
        if self.blocker is None:
            self.blocker = reason

    def category(self, origin: int | None, values: list, unknown_ok: bool) -> None:
        if origin is not None:
            self.categories.setdefault(origin, []).append((values, unknown_ok))


@dataclass
class Lowered:
    steps: list[dict]
    final: Any  # the final estimator
    columns: list[Column]  # the columns entering it
    facts: Facts
    blocker: str | None = None  # why the predictor cannot serve this model; None when every step compiles


class Blocked(Exception):
    """A step nothing here compiles: the message names it."""


def _name(est: Any) -> str:
    cls = type(est)
    return getattr(cls, "adapts", None) or f"{cls.__module__.split('._')[0]}.{cls.__name__}"


def _is_identity(step: Any) -> bool:
    if step is None or (isinstance(step, str) and step == "passthrough"):
        return True
    # the fitted remainder of a recent ColumnTransformer is an identity FunctionTransformer
    return type(step).__name__ == "FunctionTransformer" and getattr(step, "func", 0) is None and \
        getattr(step, "inverse_func", 0) is None


def lower_step(step: Any, columns: list[Column], facts: Facts, where: str) -> tuple[list[dict], list[Column]]:
    """``(steps, output columns)`` of one fitted transformer."""
    kind = type(step).__name__
    if _is_identity(step):
        return [], columns
    if kind == "Pipeline":
        return lower_chain(step.steps, columns, facts, where)
    if kind == "ColumnTransformer":
        return _columns(step, columns, facts, where)
    module = STEPS.get(key(type(step)))
    if module is None:
        raise Blocked(f"its {where} ({_name(step)}) is outside what the predictor compiles")
    front_end = importlib.import_module(f"{__package__}.{module}")
    try:
        spec, out = front_end.lower(step, columns, facts)
    except Unsupported as exc:
        raise Blocked(f"its {where} ({_name(step)}): {exc}") from None
    return [spec], out


def lower_chain(named_steps: list, columns: list[Column], facts: Facts, where: str) -> tuple[list[dict], list[Column]]:
    steps: list[dict] = []
    for name, step in named_steps:
        more, columns = lower_step(step, columns, facts, f"{where} step {name!r}".strip())
        steps += more
    return steps, columns


def _columns(ct: Any, columns: list[Column], facts: Facts, where: str) -> tuple[list[dict], list[Column]]:
    parts, out = [], []
    indices = ct._transformer_to_input_indices
    for name, trans, _selection in ct.transformers_:
        if isinstance(trans, str) and trans == "drop":
            continue
        selected = [int(i) for i in indices.get(name, [])]
        out_slice = ct.output_indices_.get(name)
        if not selected or (out_slice is not None and out_slice.stop == out_slice.start):
            continue
        try:
            part = f"{where} column part {name!r}".strip()
            steps, part_out = lower_step(trans, [columns[i] for i in selected], facts, part)
        except Blocked as exc:  # the other parts still say what they know about their inputs
            facts.block(str(exc))
            width = out_slice.stop - out_slice.start if out_slice is not None else 0
            steps, part_out = [{"op": "opaque"}], [Column(None)] * width
        parts.append({"columns": selected, "steps": steps})
        out += part_out
    return [{"op": "columns", "parts": parts}], out


def lower(model: Any, n_inputs: int) -> Lowered:
    """The model's steps lowered as far as they go, and its final estimator."""
    facts = Facts()
    columns = [Column(i, "number", identity) for i in range(n_inputs)]
    steps: list[dict] = []
    final = model
    try:
        while type(final).__name__ == "Pipeline":
            more, columns = lower_chain(final.steps[:-1], columns, facts, "")
            steps += more
            final = final.steps[-1][1]
    except Blocked as exc:
        facts.block(str(exc))
        while type(final).__name__ == "Pipeline":
            final = final.steps[-1][1]
    if key(type(final)) not in MODELS:
        facts.block(f"{_name(final)} is not a model the predictor covers")
    else:
        more, columns = _model_inputs(final, columns, facts)
        steps += more
    return Lowered(steps, final, columns, facts, blocker=facts.blocker)


def _model_inputs(final: Any, columns: list[Column], facts: Facts) -> tuple[list[dict], list[Column]]:
    """The steps a model runs on its own inputs, from its front end's ``lower_inputs`` (XGBoost's category codes)."""
    hook = getattr(_front_end(final), "lower_inputs", None)
    if hook is None:
        return [], columns
    try:
        return hook(final, columns, facts)
    except Unsupported as exc:
        facts.block(f"{_name(final)}: {exc}")
        return [], columns


def _front_end(final: Any) -> Any:
    return importlib.import_module(f"{__package__}.{MODELS[key(type(final))]}")


def encode_final(final: Any, X: Any) -> Any:
    """``X`` as the final estimator encodes its own inputs (LightGBM's pandas categories, HistGradientBoosting's
    categorical features): the reference for the steps :func:`lower` adds for them (``encode_inputs``)."""
    if key(type(final)) not in MODELS:
        return X
    encode = getattr(_front_end(final), "encode_inputs", None)
    return X if encode is None else encode(final, X)


def export_final(lowered: Lowered, task: str) -> Any:
    """The final estimator through its family's front end: ``(model spec, output spec, Tables or None)``."""
    return _front_end(lowered.final).export(lowered.final, task)
