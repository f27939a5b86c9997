"""The cold-start bench's five functions and what its samples make: medians, ratios, paired differences, goals.

Everything here works on a saved result as well as on a fresh one: ``bench_coldstart`` calls it
after its rounds, ``coldstart_render`` and the tests on recorded or synthetic samples.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from fresh_runtime import Sample, paired_difference, summary

# the goals the predictor was built for (all from the same run)
GOAL_INIT_OVER_EMPTY_MS = 30.0
GOAL_INIT_VS_JOBLIB = 0.2
GOAL_MEMORY_VS_JOBLIB = 0.3


@dataclass(frozen=True)
class Variant:
    key: str
    label: str
    layer: bool


VARIANTS = (
    Variant("empty", "empty handler, no layer", False),
    Variant("guide", "the guide's handler + layer", True),
    Variant("joblib", "package --no-predictor + layer", True),
    Variant("predictor", "package (predictor) + layer", True),
    Variant("predictor_no_layer", "package (predictor), --no-layer", False),
)
LABELS = {v.key: v.label for v in VARIANTS}


def figures(samples: Mapping[str, Sequence[Sample]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, runs in samples.items():
        out[key] = {
            "label": LABELS.get(key, key),
            "n": len(runs),
            "init_ms": summary([s.init_ms for s in runs]),
            "first_response_ms": summary([s.first_response_ms for s in runs]),
            "first_duration_ms": summary([s.first_duration_ms for s in runs]),
            "max_memory_mb": summary([s.max_memory_mb for s in runs]),
            "warm_ms": summary([s.warm_ms for s in runs]),
            "samples": {field: [getattr(s, field) for s in runs] for field in Sample.__dataclass_fields__},
        }
    return out


def ratios(variants: Mapping[str, Any]) -> dict[str, float]:
    """Medians of one run against each other: the figures docs/benchmarks.md quotes."""
    def p50(key: str, what: str) -> float:
        return float(variants[key][what]["p50"])

    out: dict[str, float] = {}
    for ours in ("predictor", "predictor_no_layer"):
        out[f"{ours}_init_minus_empty_ms"] = round(p50(ours, "init_ms") - p50("empty", "init_ms"), 1)
        out[f"{ours}_init_vs_joblib"] = round(p50(ours, "init_ms") / p50("joblib", "init_ms"), 3)
        out[f"{ours}_init_vs_guide"] = round(p50(ours, "init_ms") / p50("guide", "init_ms"), 3)
        out[f"{ours}_first_response_vs_joblib"] = round(
            p50(ours, "first_response_ms") / p50("joblib", "first_response_ms"), 3)
        out[f"{ours}_first_response_vs_guide"] = round(
            p50(ours, "first_response_ms") / p50("guide", "first_response_ms"), 3)
        out[f"{ours}_memory_vs_joblib"] = round(p50(ours, "max_memory_mb") / p50("joblib", "max_memory_mb"), 3)
        out[f"{ours}_warm_vs_guide"] = round(p50(ours, "warm_ms") / p50("guide", "warm_ms"), 4)
    return out


def paired(variants: Mapping[str, Any]) -> dict[str, dict[str, float]]:
    """Init Duration minus the empty handler's in the same round: the drift both saw cancels out."""
    empty = variants["empty"]["samples"]["init_ms"]
    return {key: paired_difference(variants[key]["samples"]["init_ms"], empty)
            for key in ("predictor", "predictor_no_layer")}


def goals(variants: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The predictor's three cold-start goals, judged on the default package with the layer attached."""
    r = ratios(variants)

    def verdict(measured: float, target: float) -> str:
        return "met" if measured <= target else "missed"

    return [
        {"goal": "Init Duration p50, default package − empty handler", "target": f"≤ {GOAL_INIT_OVER_EMPTY_MS:.0f} ms",
         "measured": f"{r['predictor_init_minus_empty_ms']:+.1f} ms",
         "verdict": verdict(r["predictor_init_minus_empty_ms"], GOAL_INIT_OVER_EMPTY_MS)},
        {"goal": "the same, paired: median over rounds of (default package − empty handler)",
         "target": f"≤ {GOAL_INIT_OVER_EMPTY_MS:.0f} ms",
         "measured": f"{paired(variants)['predictor']['median_ms']:+.1f} ms",
         "verdict": verdict(paired(variants)["predictor"]["median_ms"], GOAL_INIT_OVER_EMPTY_MS)},
        {"goal": "Init Duration p50, default package ÷ --no-predictor", "target": f"≤ {GOAL_INIT_VS_JOBLIB}×",
         "measured": f"{r['predictor_init_vs_joblib']:.3f}×",
         "verdict": verdict(r["predictor_init_vs_joblib"], GOAL_INIT_VS_JOBLIB)},
        {"goal": "Max Memory Used p50, default package ÷ --no-predictor", "target": f"≤ {GOAL_MEMORY_VS_JOBLIB}×",
         "measured": f"{r['predictor_memory_vs_joblib']:.3f}×",
         "verdict": verdict(r["predictor_memory_vs_joblib"], GOAL_MEMORY_VS_JOBLIB)},
    ]
