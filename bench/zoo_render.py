"""The zoo's tables (markdown) from a result: coverage and the proof's claim per model, the layers, Init and
warm Duration per path with each goal's verdict, and the paths left out of the timings.

``mb`` and ``ms`` are the figures' formats, shared with the boosters' tables.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import fresh_runtime as fresh
import function_rounds
import zoo_models

PATH_LABELS = {"empty": "empty handler, no layer", "predictor": "package (predictor), no layer",
               "joblib": "package --no-predictor + layer"}
MB = 1_000_000


def mb(n: int | None) -> str:
    return "–" if n is None else f"{n / MB:.1f} MB" if n >= 100_000 else f"{n / 1000:.0f} kB"


def ms(value: float | None) -> str:
    if value is None:
        return "–"
    return f"{value:,.0f} ms" if value >= 100 else f"{value:.1f} ms" if value >= 1 else f"{value:.2f} ms"


def _proof(model: Mapping[str, Any]) -> str:
    if model["serving"] == "failed":
        return model["reason"]
    if model["serving"] != "predictor":
        return f"joblib path: {model['reason']}"
    claim = model.get("claim") or {}
    # predict: "identical labels and values" (trees), "identical on N rows" or a bound (linear models)
    predict = re.sub(r" on [\d,]+ rows$", "", str(claim.get("predict") or "identical"))
    predict = "identical" if predict.startswith("identical") else predict
    parts = [f"{claim.get('rows', 0):,} rows, predictions {predict}"]
    for key in ("preprocessing", "scores", "probabilities"):
        if key in claim:
            parts.append(f"{key} {claim[key]}")
    return "; ".join(parts)


def coverage_table(result: Mapping[str, Any]) -> str:
    rows = ["| model | family | served by | what the proof established (package's claim) | function zip "
            "| model.predictor | layer (zip / unzipped) |", "|---|---|---|---|---|---|---|"]
    for model in result["models"].values():
        layer = result["layers"].get(model["layer"], {})
        served = {"predictor": "**predictor**", "joblib": "joblib"}.get(model["serving"], "**failed**")
        rows.append(f"| {model['label']} ({model['data']}) | {model['family']} | {served} | {_proof(model)} | "
                    f"{mb(model['function_zip_bytes'])} | {mb(model['predictor_bytes'])} | "
                    + (f"{model['layer']}: {mb(layer.get('zip_bytes'))} / {mb(layer.get('unzipped_bytes'))} |"
                       if model.get("layer") else "– |"))
    return "\n".join(rows)


def _goal_text(goal: Mapping[str, Any] | None) -> str:
    if not goal:
        return "–"
    return "met" if goal["met"] else "**missed**"


def timing_table(result: Mapping[str, Any]) -> str:
    rows = ["| model | Init: predictor, no layer | Init: estimator + layer | Init: empty handler | predictor − empty, "
            "paired median (quartiles) | predictor ÷ estimator | warm Duration: predictor | warm: estimator "
            "| Max Memory: predictor / estimator | Init goal | warm goal |", "|---" * 11 + "|"]
    for model in result["models"].values():
        paths = model["paths"]

        def p50(path: str, what: str, paths: Mapping[str, Any] = paths) -> float | None:
            return paths[path][what]["p50"] if path in paths else None

        diff = model.get("predictor_minus_empty")
        diff_text = (f"{diff['median_ms']:+.1f} ms ({diff['q1_ms']:+.1f} … {diff['q3_ms']:+.1f}), "
                     f"goal ≤ +{model['init_budget_ms']:.0f}") if diff else "–"
        ratio = f"{model['predictor_vs_joblib']:.3f}×" if "predictor_vs_joblib" in model else "–"
        memory = " / ".join("–" if p50(p, "max_memory_mb") is None else f"{p50(p, 'max_memory_mb'):.0f} MB"
                            for p in ("predictor", "joblib"))
        goals_ = model.get("goals") or {}
        rows.append(f"| {model['label']} | {ms(p50('predictor', 'init_ms'))} | {ms(p50('joblib', 'init_ms'))} | "
                    f"{ms(p50('empty', 'init_ms'))} | {diff_text} | {ratio} | "
                    f"{ms(p50('predictor', 'warm_duration_ms'))} | {ms(p50('joblib', 'warm_duration_ms'))} | "
                    f"{memory} | {_goal_text(goals_.get('init'))} | {_goal_text(goals_.get('warm'))} |")
    return "\n".join(rows)


def layers_list(result: Mapping[str, Any]) -> str:
    return "\n".join(f"- {name}: " + ", ".join(f"{k} {v}" for k, v in layer["packages"].items())
                     for name, layer in result["layers"].items())


def run_lines(result: Mapping[str, Any]) -> list[str]:
    """The run and the machine it ran on, with the load average before, during and after the rounds."""
    m = result.get("machine", {})
    during = result.get("load_during") or []
    return [
        f"Run {result['date']} ({result.get('seconds', '?')} s), `{result['command']}`; lambdapack "
        f"{result.get('lambdapack', '?')} ({result.get('git', '?')}).",
        f"Machine: {m.get('cores', '?')} × {m.get('cpu', '?')}, {m.get('memory_gb', '?')} GB RAM; load average "
        f"(1/5/15 min) before {fresh.load_text(result['load_before'])}, after "
        f"{fresh.load_text(result['load_after'])}"
        + (f"; 1-min load during the rounds {min(during):.2f}–{max(during):.2f}." if during else "."),
    ]


def conditions(result: Mapping[str, Any]) -> str:
    counts = function_rounds.tally(result["models"])
    served = sum(1 for model in result["models"].values() if model["serving"] == "predictor")
    return "\n".join([
        *run_lines(result),
        f"Functions: Python {result['python']['function']} in the local emulator, {result['rounds']} rounds of fresh "
        f"runtimes, interleaved, {result['warm_calls']} warm calls after each first invoke; models fitted with "
        f"Python {result['python']['host']}.",
        f"{served} of {len(result['models'])} models served by the predictor. Goals met: Init ≤ empty handler + "
        f"budget {counts['init']['met']} of {counts['init']['of']}; warm Duration ≤ "
        f"{zoo_models.WARM_BUDGET_MS:g} ms {counts['warm']['met']} of {counts['warm']['of']}.",
    ])


def failures_list(result: Mapping[str, Any]) -> str:
    """The paths that failed or refused the request, which the timings leave out."""
    return "\n".join(f"- {model['label']}, {PATH_LABELS.get(path, path)}: {why}"
                     for model in result["models"].values() for path, why in (model.get("failed") or {}).items()
                     if path != "build")


def render_markdown(result: Mapping[str, Any]) -> str:
    parts = (conditions(result), coverage_table(result), layers_list(result), timing_table(result),
             failures_list(result))
    return "\n\n".join(p for p in parts if p) + "\n"

