"""bench/run.py's report: the peer rows as tables, their ratios to lambdapack, the layer goals, each area's
figures, and the size/cold-start plot.

Works on a saved result (``run.py --from-json``) as on a fresh one; ``plot`` imports matplotlib only
when asked.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from layer_rows import Row

from lambdapack.targets import DIRECT_UPLOAD_LIMIT, UNZIPPED_LIMIT

BASELINE = "lambdapack"
MB = 1_000_000

# ---------------------------------------------------------------------------- formatting


def fmt_mb(n: int | None) -> str:
    return "–" if n is None else f"{n / MB:.1f}"


def fmt_s(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    return f"{seconds * 1000:.0f} ms" if seconds < 1 else f"{seconds:.2f} s"


def fmt_ratio(value: float | None, base: float | None) -> str:
    if value is None or not base:
        return "–"
    return f"{value / base:.2f}×"


def fmt_zip(n: int | None) -> str:
    # over 50 MiB the layer can't be uploaded directly; it has to go through S3
    return fmt_mb(n) + (" (S3)" if n is not None and n > DIRECT_UPLOAD_LIMIT else "")


def fmt_unzipped(n: int | None) -> str:
    return f"**{fmt_mb(n)} > limit**" if n is not None and n > UNZIPPED_LIMIT else fmt_mb(n)


def fmt_versions(versions: Mapping[str, str]) -> str:
    got = [versions.get(name, "?") for name in ("scikit-learn", "numpy", "scipy")]
    return "–" if all(v == "?" for v in got) else " / ".join(got)


def fmt_glibc(row: Row) -> str:
    """The newest glibc the layer needs against the runtime's, judged from the two versions shown."""
    from measure import glibc_tuple

    if row.status != "ok":
        return "–"
    if row.max_glibc is None:
        text = f"none ≤ {row.runtime_glibc or '?'}"
    elif row.runtime_glibc is None:
        text = f"{row.max_glibc} (the runtime's is unknown)"
    elif glibc_tuple(row.max_glibc) <= glibc_tuple(row.runtime_glibc):
        text = f"{row.max_glibc} ≤ {row.runtime_glibc}"
    else:
        text = f"**{row.max_glibc} > {row.runtime_glibc}**"
    if row.foreign_elf:
        text += f", **{row.foreign_elf} foreign ELF**"
    return text


def fmt_imports(row: Row) -> str:
    if row.imports is None:
        return "–"
    if row.imports == "failed" and row.import_failures:
        return "**failed**: " + ", ".join(sorted(row.import_failures))
    return row.imports


def fmt_result(row: Row) -> str:
    return {"ok": "ok", "failed": "**failed**", "n/a": "n/a", "error": "bench error"}.get(row.status, row.status)


def markdown_table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def layer_table(rows: Sequence[Row]) -> str:
    """The main comparison: one line per tool and target."""
    header = ("tool", "target", "result", "scikit-learn / numpy / scipy", "zip MB", "unzipped MB",
              "max GLIBC needed ≤ runtime", "imports (isolated, layer only)", "cold import+load (median)",
              "build, cold cache", "rebuild, warm cache")
    body = []
    for row in rows:
        cold = fmt_s(row.cold_start_s)
        if row.cold_start_s is not None:
            cold += f" (n={row.cold_start_runs})"
        body.append((row.label, row.target, fmt_result(row), fmt_versions(row.versions), fmt_zip(row.zip_bytes),
                     fmt_unzipped(row.unzipped_bytes), fmt_glibc(row), fmt_imports(row), cold,
                     fmt_s(row.build_cold_s), fmt_s(row.build_warm_s)))
    return markdown_table(header, body)


def notes_list(rows: Sequence[Row]) -> str:
    """What each tool said or what we noticed, one bullet per row that has something to say."""
    out = []
    for row in rows:
        parts = []
        if row.error:
            parts.append(f"error a user sees: `{row.error}`")
        if row.import_failures:
            parts.append("import failures: " + "; ".join(f"`{k}`: {v}" for k, v in sorted(row.import_failures.items())))
        if row.note:
            parts.append(row.note)
        if parts:
            out.append(f"- **{row.label}**, {row.target}: " + " — ".join(parts))
    return "\n".join(out)


def ratio_table(rows: Sequence[Row], baseline: str = BASELINE) -> str:
    """Every measured figure divided by lambdapack's on the same target in the same run."""
    by_target: dict[str, Row] = {r.target: r for r in rows if r.tool == baseline and r.status == "ok"}
    header = ("tool", "target", "zip", "unzipped", "cold import+load", "build, cold cache", "rebuild, warm cache")
    body = []
    for row in rows:
        base = by_target.get(row.target)
        # a layer that doesn't import is no alternative, whatever its size
        if base is None or row.status != "ok" or row.imports == "failed":
            continue
        body.append((row.label, row.target, fmt_ratio(row.zip_bytes, base.zip_bytes),
                     fmt_ratio(row.unzipped_bytes, base.unzipped_bytes),
                     fmt_ratio(row.cold_start_s, base.cold_start_s),
                     fmt_ratio(row.build_cold_s, base.build_cold_s),
                     fmt_ratio(row.build_warm_s, base.build_warm_s)))
    return markdown_table(header, body) if body else "(no lambdapack row to compare against)"


@dataclass(frozen=True)
class Claim:
    what: str
    goal: str
    measured: float | None
    limit: float
    unit: str = "×"

    @property
    def verdict(self) -> str:
        if self.measured is None:
            return "not measured"
        return "met" if self.measured <= self.limit else "**missed**"


def _find(rows: Sequence[Row], tool: str, target: str) -> Row | None:
    return next((r for r in rows if r.tool == tool and r.target == target and r.status == "ok"), None)


def _ratio(a: float | int | None, b: float | int | None) -> float | None:
    return None if a is None or not b else a / b


def claims(rows: Sequence[Row], target: str = "python3.12-x86_64") -> list[Claim]:
    """The layer goals (docs/build-layer.md), checked against the peer rows of this run."""
    lp, lp_plain = _find(rows, "lambdapack", target), _find(rows, "lambdapack-no-compile", target)
    guide, pip = _find(rows, "guide-tags", target), _find(rows, "pip-target", target)
    # the peers' cold builds that gave a layer that imports (lambdapack's own rows aside)
    peers = [r.build_cold_s for r in rows if r.target == target and r.status == "ok" and r.imports != "failed"
             and r.build_cold_s is not None and not r.tool.startswith("lambdapack")]

    def get(row: Row | None, attr: str) -> float | None:
        return None if row is None else getattr(row, attr)

    return [
        Claim("cold build (pycs + check), lambdapack ÷ the guide's way done cold (full tag list)", "≤ 0.75×",
              _ratio(get(lp, "build_cold_s"), get(guide, "build_cold_s")), 0.75),
        Claim("cold build, lambdapack ÷ the fastest other tool whose layer imports", "< 1.00×",
              _ratio(get(lp, "build_cold_s"), min(peers) if peers else None), 1.0),
        Claim("rebuild of unchanged inputs, lambdapack", "≤ 0.50 s", get(lp, "build_warm_s"), 0.5, " s"),
        Claim("zip, lambdapack --no-compile ÷ the guide's way (full tag list)", "≤ 0.85×",
              _ratio(get(lp_plain, "zip_bytes"), get(guide, "zip_bytes")), 0.85),
        Claim("cold `import sklearn.ensemble`, lambdapack (pyc) ÷ --no-compile", "≤ 0.45×",
              _ratio(get(lp, "import_s"), get(lp_plain, "import_s")), 0.45),
        Claim("warm-cache rebuild, lambdapack ÷ pip install --target + zip", "≤ 0.30×",
              _ratio(get(lp, "build_warm_s"), get(pip, "build_warm_s")), 0.30),
        Claim("zip, lambdapack --no-compile, fraction of the 50 MB direct-upload limit", "≤ 1.00×",
              _ratio(get(lp_plain, "zip_bytes"), DIRECT_UPLOAD_LIMIT), 1.0),
    ]


def claims_table(items: Sequence[Claim]) -> str:
    return markdown_table(("goal", "target", "measured", "verdict"),
                          [(c.what, c.goal, "–" if c.measured is None else f"{c.measured:.2f}{c.unit}", c.verdict)
                           for c in items])


def phases_list(rows: Sequence[Row]) -> str:
    """lambdapack's own account of each cold build (its ``timings``), one line per row."""
    lines = []
    for row in rows:
        if row.build_cold_phases:
            phases = ", ".join(f"{name} {seconds:.2f} s" for name, seconds in row.build_cold_phases.items())
            lines.append(f"- {row.label}, {row.target}: {phases} (wall {fmt_s(row.build_cold_s)})")
    return "\n".join(lines)


def flatten(data: Any, prefix: str = "") -> list[tuple[str, str]]:
    """Nested dicts/lists as (dotted key, printable value) pairs, for area results of any shape."""
    if isinstance(data, Mapping):
        out: list[tuple[str, str]] = []
        for key, value in data.items():
            out += flatten(value, f"{prefix}.{key}" if prefix else str(key))
        return out
    if isinstance(data, list | tuple) and any(isinstance(v, Mapping | list | tuple) for v in data):
        out = []
        for i, value in enumerate(data):
            out += flatten(value, f"{prefix}[{i}]")
        return out
    if isinstance(data, float):
        return [(prefix, f"{data:.4g}")]
    if isinstance(data, list | tuple):
        return [(prefix, ", ".join(map(str, data)))]
    return [(prefix, str(data))]


def area_table(result: Mapping[str, Any]) -> str:
    if "unavailable" in result:
        return f"not available: {result['unavailable']}"
    if "skipped" in result and len(result) == 1:
        return f"skipped {result['skipped']}"
    if "error" in result and len(result) == 1:
        return f"**failed**: {result['error']}"
    return markdown_table(("figure", "value"), flatten(result))


def render_report(result: Mapping[str, Any]) -> str:
    """Every table of one run, as markdown (what stdout shows and docs/benchmarks.md quotes)."""
    rows = [Row.from_dict(r) for r in result.get("rows", [])]
    parts = [f"Run {result.get('date', '?')} on {result.get('machine', {}).get('summary', '?')}; "
             f"`{result.get('command', '?')}`; load average {result.get('machine', {}).get('loadavg', '?')}.",
             "", "### Layers", "", layer_table(rows) if rows else "(no peer was run)", ""]
    notes = notes_list(rows)
    if notes:
        parts += [notes, ""]
    phases = phases_list(rows)
    if phases:
        parts += ["### lambdapack's cold builds, by phase", "",
                  "The check runs beside the zip: its figure is only what was left after the zip was written.", "",
                  phases, ""]
    parts += ["### Ratios to lambdapack (same target, same run)", "", ratio_table(rows), "",
              "### Layer goals, from the rows above", "", claims_table(claims(rows)), ""]
    for name, area in result.get("areas", {}).items():
        parts += [f"### bench_{name}", "", area_table(area), ""]
    return "\n".join(parts).rstrip() + "\n"


# ---------------------------------------------------------------------------- plot


def plot(result: Mapping[str, Any], dest: Path, target: str = "python3.12-x86_64") -> Path:
    """Zipped/unzipped size and cold start per tool for one target, as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [Row.from_dict(r) for r in result.get("rows", []) if r.get("target") == target]
    rows = [r for r in rows if r.status != "n/a"]
    labels = [r.label for r in rows][::-1]
    rows = rows[::-1]
    colours = ["#d9480f" if r.tool.startswith("lambdapack") else "#5c7cfa" for r in rows]
    fig, axes = plt.subplots(1, 3, figsize=(15, 0.6 * len(rows) + 2.2), sharey=True)
    panels = (
        ("zipped (MB)", [r.zip_bytes / MB if r.zip_bytes else 0 for r in rows], 52.43, "50 MiB direct upload"),
        ("unzipped (MB)", [r.unzipped_bytes / MB if r.unzipped_bytes else 0 for r in rows], 262.1,
         "262 MB unzipped limit"),
        ("cold import sklearn.ensemble + model load (s)", [r.cold_start_s or 0 for r in rows], None, None),
    )
    for ax, (title, values, limit, limit_label) in zip(axes, panels, strict=True):
        ax.barh(labels, values, color=colours)
        ax.set_title(title, fontsize=10)
        top = max([*values, limit or 0]) or 1
        for y, (value, row) in enumerate(zip(values, rows, strict=True)):
            text = "failed" if row.status != "ok" else ("not measured" if value == 0 else f"{value:.1f}" if value >= 10
                                                          else f"{value:.2f}")
            ax.text(value + top * 0.01, y, text, va="center", fontsize=8)
        if limit:
            ax.axvline(limit, color="#868e96", linestyle="--", linewidth=1)
            ax.text(limit, len(rows) - 0.7, limit_label, fontsize=7, color="#495057", ha="right")
        ax.set_xlim(0, top * 1.18)
        ax.grid(axis="x", alpha=0.3)
    fig.suptitle(f"scikit-learn + joblib layer for {target}: size and cold start per tool "
                 f"({result.get('date', '')[:10]}, same run; lower is better)", fontsize=11)
    fig.tight_layout()
    dest.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(dest, dpi=110)
    plt.close(fig)
    return dest
