"""The boosters' tables (markdown) from a result: each contender's answers on the probe rows, what it needs
at run time with its Init and warm Duration, lambdapack's goals with their verdicts, and the peers' notes.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from booster_peers import PEERS
from zoo_render import mb, ms, run_lines

CONTENDERS = ("lambdapack", "library", *PEERS)
LABELS = {"empty": "empty handler", "lambdapack": "lambdapack predictor", "library": "the library itself (layer)",
          "m2cgen": "m2cgen (Python)", "tl2cgen": "TL2cgen (C, ctypes)", "onnxruntime": "ONNX Runtime (layer)"}


def accuracy_table(result: Mapping[str, Any]) -> str:
    rows = ["| model | contender | label mismatches | rows bit-identical | max ulps | max difference | differing rows "
            "by kind |", "|---|---|---|---|---|---|---|"]
    for model in result["models"].values():
        acc = model["accuracy"]
        for name in CONTENDERS:
            if name == "library":
                continue
            entry = model["contenders"].get(name, {})
            got = acc.get(name)
            if got is None:
                why = entry.get("error") or (f"not served by the predictor: {model['reason']}"
                                             if name == "lambdapack" else "not run")
                rows.append(f"| {model['label']} | {LABELS[name]} | refused: {why} | – | – | – | – |")
                continue
            mismatches = got.get("label_mismatches")
            kinds = ", ".join(f"{k} {v}" for k, v in got.get("differing_rows_by_kind", {}).items()) or "none"
            rows.append(f"| {model['label']} | {LABELS[name]} | "
                        f"{'–' if mismatches is None else f'{mismatches:,}'} | {got['identical_rows']:,} of "
                        f"{got['rows']:,} ({got['precision']}) | {got['max_ulps']:,.0f} | "
                        f"{got.get('max_abs_difference', 0):.3g} | {kinds} |")
    return "\n".join(rows)


def runtime_table(result: Mapping[str, Any]) -> str:
    rows = ["| model | contender | needs at run time | function zip (unzipped) | layer (unzipped) | Init Duration "
            "p50 | − empty, paired median | warm Duration p50 |", "|---|---|---|---|---|---|---|---|"]
    for model in result["models"].values():
        paths = model.get("paths", {})
        for name in CONTENDERS:
            entry = model["contenders"].get(name, {})
            if name not in paths:
                continue
            layer = result["layers"].get(entry.get("layer") or "", {})
            diff = (model.get("minus_empty") or {}).get(name)
            diff_text = "–" if diff is None else f"{diff['median_ms']:+.1f} ms"
            rows.append(f"| {model['label']} | {LABELS[name]} | {entry.get('dependencies', '')} | "
                        f"{mb(entry.get('function_unzipped_bytes'))} | {mb(layer.get('unzipped_bytes'))} | "
                        f"{ms(paths[name]['init_ms']['p50'])} | "
                        f"{diff_text} | "
                        f"{ms(paths[name]['warm_duration_ms']['p50'])} |")
        if "empty" in paths:
            rows.append(f"| {model['label']} | {LABELS['empty']} | – | – | – | {ms(paths['empty']['init_ms']['p50'])} "
                        f"| – | {ms(paths['empty']['warm_duration_ms']['p50'])} |")
    return "\n".join(rows)


def notes_list(result: Mapping[str, Any]) -> str:
    """Each peer's notes (versions, what was adjusted), and the functions that failed or refused the request."""
    lines = []
    for model in result["models"].values():
        for name, why in (model.get("failed") or {}).items():
            lines.append(f"- {model['label']}, {LABELS.get(name, name)}, in the emulator: {why}")
        for name in CONTENDERS:
            note = (model["contenders"].get(name) or {}).get("note")
            if note and name != "lambdapack":
                lines.append(f"- {model['label']}, {LABELS[name]}: {note}")
    return "\n".join(lines)


def conditions(result: Mapping[str, Any]) -> str:
    versions = ", ".join(f"{k} {v}" for k, v in result.get("versions", {}).items())
    return "\n".join([
        *run_lines(result),
        f"{result['probes']:,} probe rows per model; functions in the local emulator under Python "
        f"{result['python']['function']}, {result['rounds']} rounds of fresh runtimes, interleaved, "
        f"{result['warm_calls']} warm calls after each first invoke. Libraries: {versions}.",
        *([f"lambdapack's goals met: {result['goals']['met']} of {result['goals']['of']}"
           + (f" ({result['goals']['tied']} not met by a tie: the peer also bit-identical on every row)."
              if result["goals"].get("tied") else ".")] if "goals" in result else []),
    ])


def goals_table(result: Mapping[str, Any]) -> str:
    """lambdapack's goals per model: the target, what this run measured, the verdict."""
    rows = ["| model | goal | target | measured | verdict |", "|---|---|---|---|---|"]
    for model in result["models"].values():
        for goal in model.get("goals") or ():
            verdict = ("met" if goal["met"] else
                       "**not met**: tied, both bit-identical on every row" if goal.get("tied") else "**missed**")
            rows.append(f"| {model['label']} | {goal['goal']} | {goal['target']} | {goal['measured']} | {verdict} |")
    return "\n".join(rows) if len(rows) > 2 else ""


def render_markdown(result: Mapping[str, Any]) -> str:
    parts = [conditions(result), accuracy_table(result), runtime_table(result), goals_table(result),
             notes_list(result)]
    return "\n\n".join(p for p in parts if p) + "\n"
