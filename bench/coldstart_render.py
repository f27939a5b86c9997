"""The cold-start bench's tables (markdown) and plot, from a result: what docs/benchmarks.md shows.

Needs no plotting library for the tables; ``plot`` imports matplotlib only when asked.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from coldstart_figures import GOAL_INIT_OVER_EMPTY_MS, LABELS
from coldstart_profile import PROFILED
from fresh_runtime import ARCH, RUNTIME, load_text


def _ms(value: float) -> str:
    return f"{value:,.0f} ms" if value >= 100 else f"{value:.1f} ms"


def conditions(result: Mapping[str, Any]) -> str:
    machine = result.get("machine", {})
    during = result.get("load_during") or []
    lines = [
        f"Run {result.get('date', '?')} ({result.get('seconds', '?')} s), `{result.get('command', '?')}`.",
        f"Machine: {machine.get('cores', '?')} × {machine.get('cpu', '?')}, {machine.get('memory_gb', '?')} GB RAM, "
        f"{machine.get('os', '?')}.",
        f"Load average (1/5/15 min) before {load_text(result.get('load_before', []))}, after "
        f"{load_text(result.get('load_after', []))}"
        + (f"; 1-min load while the runtimes ran {min(during):.2f}–{max(during):.2f}." if during else "."),
        f"Function Python {result.get('python', {}).get('function', '?')}; bench Python "
        f"{result.get('python', {}).get('host', '?')}; layer {result.get('layer', {}).get('versions', {})}; "
        f"lambdapack {result.get('lambdapack', '?')} ({result.get('git', '?')}).",
        f"{result.get('runs', '?')} fresh runtimes per function, interleaved; {result.get('warm_calls', '?')} warm "
        f"calls after each first invoke; memory size {result.get('memory_mb', '?')} MB.",
    ]
    return "\n".join(lines)


def figures_table(result: Mapping[str, Any]) -> str:
    rows = ["| function | Init Duration p50 | p90 | first response p50 | p90 | Max Memory Used p50 | warm call p50 |",
            "|---|---|---|---|---|---|---|"]
    for v in result["variants"].values():
        rows.append(f"| {v['label']} | {_ms(v['init_ms']['p50'])} | {_ms(v['init_ms']['p90'])} | "
                    f"{_ms(v['first_response_ms']['p50'])} | {_ms(v['first_response_ms']['p90'])} | "
                    f"{v['max_memory_mb']['p50']:.0f} MB | {v['warm_ms']['p50']:.2f} ms |")
    return "\n".join(rows)


def ratios_table(result: Mapping[str, Any]) -> str:
    r = result["ratios"]
    rows = ["| medians, same run | default package + layer | default package, --no-layer |", "|---|---|---|"]
    lines = (
        ("Init Duration − empty handler's", "init_minus_empty_ms", "{:+.1f} ms"),
        ("Init Duration ÷ --no-predictor's", "init_vs_joblib", "{:.3f}×"),
        ("Init Duration ÷ the guide's", "init_vs_guide", "{:.3f}×"),
        ("first response ÷ --no-predictor's", "first_response_vs_joblib", "{:.3f}×"),
        ("first response ÷ the guide's", "first_response_vs_guide", "{:.3f}×"),
        ("Max Memory Used ÷ --no-predictor's", "memory_vs_joblib", "{:.3f}×"),
        ("warm call ÷ the guide's", "warm_vs_guide", "{:.4f}×"),
    )
    for title, suffix, fmt in lines:
        rows.append(f"| {title} | {fmt.format(r[f'predictor_{suffix}'])} | "
                    f"{fmt.format(r[f'predictor_no_layer_{suffix}'])} |")
    pairs = result.get("paired")
    if pairs:
        rows.insert(3, "| Init Duration − empty handler's, paired by round: median (quartiles) | " + " | ".join(
            f"{pairs[k]['median_ms']:+.1f} ms ({pairs[k]['q1_ms']:+.1f} … {pairs[k]['q3_ms']:+.1f})"
            for k in ("predictor", "predictor_no_layer")) + " |")
    return "\n".join(rows)


def goals_table(result: Mapping[str, Any]) -> str:
    rows = ["| goal | target | measured | verdict |", "|---|---|---|---|"]
    for g in result["goals"]:
        verdict = g["verdict"] if g["verdict"] == "met" else f"**{g['verdict']}**"
        rows.append(f"| {g['goal']} | {g['target']} | {g['measured']} | {verdict} |")
    return "\n".join(rows)


def profile_table(result: Mapping[str, Any]) -> str:
    """Init phases per function (medians of fresh processes), and the handler's costliest imports."""
    profile = result.get("profile") or {}
    if not profile:
        return ""
    keys = [k for k in PROFILED if k in profile]
    rows = ["| init phase, ms: median (min) | " + " | ".join(LABELS[k] for k in keys) + " |",
            "|---" * (len(keys) + 1) + "|"]
    titles = (("interpreter_start_and_exit_ms", "interpreter start and exit (`-c pass`)"),
              ("path_and_site_ms", "Lambda's sys.path and `site`"),
              ("awslambdaric_ms", "awslambdaric's imports"),
              ("support_modules_ms", "import of the function's support modules (lambdapack's runtime)"),
              ("handler_module_ms", "`import lambda_function` (model load)"))
    for field, title in titles:
        rows.append(f"| {title} | " + " | ".join(
            f"{profile[k][field]:.1f}" + (f" ({profile[k]['min'][field]:.1f})" if "min" in profile[k] else "")
            for k in keys) + " |")
    parts = ["\n".join(rows)]
    for key in ("predictor", "joblib"):
        imports = (profile.get(key) or {}).get("handler_imports") or []
        if imports:
            listed = ", ".join(f"`{m['module']}` {m['cumulative_ms']:.1f}" for m in imports[:8])
            parts.append(f"Costliest imports after awslambdaric's, {LABELS[key]} (one `-X importtime` run, "
                         f"cumulative ms): {listed}.")
    return "\n\n".join(parts)


def render_markdown(result: Mapping[str, Any]) -> str:
    parts = (conditions(result), figures_table(result), ratios_table(result), goals_table(result),
             profile_table(result))
    return "\n\n".join(p for p in parts if p) + "\n"


def plot(result: Mapping[str, Any], dest: Path) -> Path:
    """Per fresh runtime: Init Duration and first response of all five (log axes), the fast three's init zoomed."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import NullFormatter

    variants = result["variants"]
    keys = list(variants)
    fast = [k for k in keys if k in ("empty", "predictor", "predictor_no_layer")]
    fig, axes = plt.subplots(1, 3, figsize=(17, 4.4), gridspec_kw={"width_ratios": [3, 3, 2]})
    panels = ((axes[0], keys, "init_ms", "Init Duration (ms), log scale", "Init Duration, every function"),
              (axes[1], keys, "first_response_ms", "first response (ms), log scale",
               "first response (spawn + init + first call)"),
              (axes[2], fast, "init_ms", "Init Duration (ms)", "Init Duration, the fast ones"))
    for ax, shown, field, xlabel, title in panels:
        data = [variants[k]["samples"][field] for k in shown]
        ax.boxplot(data, orientation="horizontal", whis=(0, 100), widths=0.5, showfliers=False,
                   medianprops={"color": "#d9480f", "linewidth": 2})
        for y, values in enumerate(data, start=1):
            jitter = [y + ((i % 7) - 3) * 0.04 for i in range(len(values))]
            ax.scatter(values, jitter, s=10, alpha=0.6, color="#364fc7", zorder=3)
        ax.set_yticks(range(1, len(shown) + 1), [variants[k]["label"] for k in shown], fontsize=8)
        ax.invert_yaxis()
        if "log" in xlabel:
            ax.set_xscale("log")
            # labelled minor ticks overlap when the data spans little more than one decade
            ax.xaxis.set_minor_formatter(NullFormatter())
        ax.set_xlabel(xlabel, fontsize=9)
        ax.set_title(title, fontsize=10)
        ax.grid(axis="x", alpha=0.3, which="both")
    empty = variants.get("empty", {}).get("init_ms", {}).get("p50")
    if empty is not None:
        goal = empty + GOAL_INIT_OVER_EMPTY_MS
        axes[2].axvline(goal, color="#868e96", linestyle="--", linewidth=1)
        axes[2].text(goal, len(fast) + 0.45, "goal: empty p50 + 30 ms ", fontsize=7, color="#495057", ha="right")
    fig.suptitle(f"Fresh runtimes in the local emulator, {result.get('runs')} per function, interleaved "
                 f"({str(result.get('date', ''))[:16].replace('T', ' ')} UTC, {RUNTIME} {ARCH}; "
                 "box: min, quartiles, max; red: median)", fontsize=10)
    fig.tight_layout()
    dest.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(dest, dpi=110)
    plt.close(fig)
    return dest
