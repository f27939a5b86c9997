"""The handler bench's tables (markdown) and its crossover plot, from a result.

Needs no plotting library for the tables; ``plot`` imports matplotlib only when asked.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any


def _us(value: float) -> str:
    if value >= 10_000:
        return f"{value / 1000:,.1f} ms"
    if value >= 1000:
        return f"{value / 1000:.2f} ms"
    return f"{value:.0f} µs"


def warm_table(result: Mapping[str, Any]) -> str:
    warm = result["warm_single_row"]
    m, p90 = warm["median_ms"], warm["p90_ms"]
    rows = ["| handler, warm, one row (guide's event) | median | p90 | guide ÷ this |", "|---|---|---|---|"]
    for name, label in (("guide", "the guide's (joblib.load in every call)"),
                        ("estimator", "lambdapack, `LAMBDAPACK_PREDICTOR=0` (estimator loaded at init)"),
                        ("predictor", "lambdapack, default (stdlib predictor)")):
        rows.append(f"| {label} | {m[name]:.3f} ms | {p90[name]:.3f} ms | {m['guide'] / m[name]:.1f}× |")
    return "\n".join(rows)


def crossover_table(result: Mapping[str, Any]) -> str:
    models = result["models"]
    sizes = sorted({int(s) for m in models.values() for s in m.get("sizes", {})})
    header = "| batch rows | " + " | ".join(f"{m['description']}: predictor / estimator (ratio)"
                                             for m in models.values()) + " |"
    rows = [header, "|---" * (len(models) + 1) + "|"]
    for size in sizes:
        cells = []
        for m in models.values():
            v = m["sizes"].get(str(size))
            if v is None:
                cells.append("–")
                continue
            cells.append(f"{_us(v['predictor']['median_us'])} / {_us(v['estimator']['median_us'])} "
                         f"({v['estimator_vs_predictor']:.2f})")
        rows.append(f"| {size} | " + " | ".join(cells) + " |")
    rows.append("| **crossover** | " + " | ".join(crossover_text(m["crossover"]) for m in models.values()) + " |")
    rows.append("| handler init with the predictor, fresh process | " + " | ".join(
        f"{m['first_estimator']['init_s'] * 1000:.0f} ms" for m in models.values()) + " |")
    rows.append("| first estimator batch, once per runtime | " + " | ".join(
        f"{m['first_estimator']['first_estimator_s']:.2f} s" for m in models.values()) + " |")
    return "\n".join(rows)


def crossover_text(c: Mapping[str, Any]) -> str:
    if c.get("batch") is None:
        return "none ≤ the largest size"
    if c.get("between"):
        near = f" (≈ {c['interpolated']})" if c.get("interpolated") else ""
        return f"between {c['between'][0]} and {c['between'][1]} rows{near}"
    return f"≤ {c['batch']} rows"


def render_markdown(result: Mapping[str, Any]) -> str:
    machine = result.get("machine", {})
    head = (f"Run {result['date']} ({result.get('seconds', '?')} s), `{result['command']}`; "
            f"{machine.get('cores')} × {machine.get('cpu')}; load average before "
            f"{' / '.join(map(str, result['load_before']))}, after {' / '.join(map(str, result['load_after']))}; "
            f"Python {result.get('python')}, scikit-learn {result.get('versions', {}).get('scikit-learn')}, numpy "
            f"{result.get('versions', {}).get('numpy')}"
            + (f", layer {result['layer']}" if result.get("layer") else ", this Python's own libraries") + ".")
    return "\n\n".join((head, warm_table(result), crossover_table(result))) + "\n"


def plot(result: Mapping[str, Any], dest: Path) -> Path:
    """Per model, time per row of each path against the batch size (log-log): where the lines cross."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    models = result["models"]
    fig, axes = plt.subplots(1, len(models), figsize=(5 * len(models), 3.8), squeeze=False)
    for ax, model in zip(axes[0], models.values(), strict=True):
        sizes = sorted(int(s) for s in model["sizes"])
        for name, colour in (("predictor", "#d9480f"), ("estimator", "#364fc7")):
            per_row = [model["sizes"][str(n)][name]["median_us"] / n for n in sizes]
            ax.plot(sizes, per_row, marker="o", markersize=3, color=colour, label=name)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("rows per request", fontsize=9)
        ax.set_ylabel("µs per row (median)", fontsize=9)
        ax.set_title(f"{model['description']}\ncrossover: {crossover_text(model['crossover'])}", fontsize=9)
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=8)
    fig.suptitle(f"stdlib predictor vs the estimator path, warm, same process ({result['date'][:16].replace('T', ' ')} "
                 f"UTC, Python {result.get('python')}, scikit-learn {result.get('versions', {}).get('scikit-learn')})",
                 fontsize=10)
    fig.tight_layout()
    dest.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(dest, dpi=110)
    plt.close(fig)
    return dest
