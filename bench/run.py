"""One entry point for every lambdapack benchmark: the peer comparison plus each area's figures.

    python bench/run.py [--quick] [--json OUT] [--markdown OUT] [--plot PNG]
    python bench/run.py --from-json OUT.json --markdown results.md --plot docs/benchmarks.png

For ``scikit-learn joblib`` it builds the layer with the guide's recipe, AWS's documented
``pip install --target``, AWS SAM CLI, Chalice and lambdapack, for python3.12 x86_64 (and,
without ``--quick``, python3.11 x86_64 and python3.12 arm64), measures every zip the same
way (``bench/measure.py``), then runs ``bench/bench_<area>.py`` for the areas that have one.
Tables go to stdout as markdown; progress to stderr. Ratios only compare figures from the
same run: this machine is shared, absolute times are indicative only.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import importlib
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
# the bench's sibling modules, and lambdapack itself when run from a checkout
for _path in (BENCH_DIR.parent, BENCH_DIR):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

from lambdapack.errors import LambdapackError  # noqa: E402
from lambdapack.targets import DIRECT_UPLOAD_LIMIT, UNZIPPED_LIMIT, Target  # noqa: E402

QUICK_TARGETS = (("python3.12", "x86_64"),)
FULL_TARGETS = (("python3.12", "x86_64"), ("python3.11", "x86_64"), ("python3.12", "arm64"))
AREAS = ("layer", "handler", "emulator", "coldstart", "reliability", "zoo", "boosters")
BASELINE = "lambdapack"
RUN_ORDER = ("lambdapack", "lambdapack-no-compile", "pip-target", "guide-tags", "guide", "uv-recipe", "sam",
             "chalice")
# --quick: after SOFT the remaining tools skip their warm rebuild and cold-start runs; after
# HARD no new tool starts (a cold build plus the checks take ~2 min on a busy 2-core machine)
QUICK_SOFT_BUDGET_S = 10 * 60
QUICK_HARD_BUDGET_S = 12.5 * 60
# what --quick leaves out, and why: bench_layer's figures (zip vs the guide's way, import with/without
# pycs, warm rebuild vs pip --target) are the peer rows' layer goals, not measured twice; the model
# benches need the bench venv's libraries and compile every model (docs/benchmarks.md)
QUICK_SKIPS_AREAS = {
    "layer": "its figures are the peer rows' layer goals above; `--areas layer` or a full run measures them again",
    "zoo": "it fits and packages every model family (a quarter of an hour) in the bench venv; `--areas zoo` runs it",
    "boosters": "it converts 500-tree boosters with every peer (half an hour) in the bench venv; `--areas boosters` "
                "runs it",
}
MB = 1_000_000


@dataclass(frozen=True)
class Row:
    """One tool building one target, as measured (None: not measured)."""

    tool: str
    label: str
    target: str
    status: str  # "ok", "failed" (the tool's error), "n/a" (tool doesn't support the target), "error" (ours)
    error: str | None = None
    note: str = ""
    versions: dict[str, str] = field(default_factory=dict)
    zip_bytes: int | None = None
    unzipped_bytes: int | None = None
    file_count: int | None = None
    max_glibc: str | None = None
    runtime_glibc: str | None = None
    glibc_ok: bool | None = None
    foreign_elf: int | None = None
    imports: str | None = None
    import_failures: dict[str, str] = field(default_factory=dict)
    cold_start_s: float | None = None
    import_s: float | None = None
    load_s: float | None = None
    cold_start_runs: int = 0
    build_cold_s: float | None = None
    build_warm_s: float | None = None
    build_cold_phases: dict[str, float] = field(default_factory=dict)  # lambdapack's own timings of the cold build

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Row:
        known = {f for f in cls.__dataclass_fields__}
        return cls(**{k: v for k, v in data.items() if k in known})


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


# ---------------------------------------------------------------------------- running


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def machine_description() -> dict[str, Any]:
    cpu, cores = "unknown CPU", os.cpu_count() or 0
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem_gb = None
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                mem_gb = round(int(line.split()[1]) / 1024 / 1024, 1)
    load = os.getloadavg() if hasattr(os, "getloadavg") else (0.0, 0.0, 0.0)
    return {
        "cpu": cpu, "cores": cores, "memory_gb": mem_gb,
        "os": f"{platform.system()} {platform.release()} ({platform.machine()})",
        "python": platform.python_version(),
        "loadavg": " / ".join(f"{x:.1f}" for x in load),
        "summary": f"{cores} × {cpu}, {mem_gb} GB RAM, {platform.system()} {platform.machine()}",
    }


class Budget:
    """--quick's wall-clock allowance: optional steps are skipped (and said so) once it is spent."""

    def __init__(self, soft_s: float | None, hard_s: float | None = None) -> None:
        now = time.monotonic()
        self.soft = None if soft_s is None else now + soft_s
        self.hard = None if hard_s is None else now + hard_s

    def spent(self) -> bool:
        """Past the soft limit: skip warm rebuilds and cold-start runs."""
        return self.soft is not None and time.monotonic() > self.soft

    def exhausted(self) -> bool:
        """Past the hard limit: start no further tool."""
        return self.hard is not None and time.monotonic() > self.hard


def _measure_into(row_fields: dict[str, Any], zip_path: Path, target: Any, python: Path | None, runs: int,
                  wheel_names: Sequence[str], workdir: Path) -> None:
    from measure import measure_layer

    metrics = measure_layer(zip_path, target, python, runs=runs, wheel_names=wheel_names, workdir=workdir)
    data = asdict(metrics)
    note = data.pop("note")
    row_fields.update(data)
    if note:
        row_fields["note"] = "; ".join(filter(None, [row_fields.get("note", ""), note]))


def run_peers(target_specs: Sequence[tuple[str, str]], tool_keys: Sequence[str] | None, *, runs: int,
              budget: Budget, workroot: Path, cache_root: Path) -> list[Row]:
    import peers as peer_mod
    from measure import interpreter_for

    env = peer_mod.ToolEnv(cache_root)
    rows: list[Row] = []
    for runtime, arch in target_specs:
        target = Target.for_runtime(runtime, arch)
        python = interpreter_for(target)
        # what the goals compare runs first, so a spent --quick budget costs only the extras
        for peer in sorted(peer_mod.all_peers(), key=lambda p: RUN_ORDER.index(p.key)):
            if tool_keys and peer.key not in tool_keys:
                continue
            fields: dict[str, Any] = {"tool": peer.key, "label": peer.label, "target": target.label}
            reason = peer.unsupported(target)
            if reason:
                rows.append(Row(status="n/a", note=reason, **fields))
                continue
            if budget.exhausted():
                rows.append(Row(status="n/a", note="not run: --quick time budget spent", **fields))
                continue
            workdir = workroot / target.label / peer.key
            try:
                fields["note"] = peer.prepare(env, target, workdir / "prepare")
            except (RuntimeError, OSError) as exc:
                rows.append(Row(status="error", error=str(exc), **fields))
                continue
            cache = workdir / "cache"
            log(f"{target.label}: {peer.label}: cold build")
            cold = peer.build(target, workdir / "cold", cache)
            fields["build_cold_s"] = cold.seconds
            fields["build_cold_phases"] = cold.phases
            if cold.note:
                fields["note"] = "; ".join(filter(None, [fields["note"], cold.note]))
            if not cold.ok or cold.zip_path is None:
                rows.append(Row(status="failed", error=cold.error, **fields))
                log(f"  failed: {cold.error}")
                continue
            log(f"  {cold.seconds:.1f} s")
            layer = workdir / "measured-layer.zip"
            shutil.copyfile(cold.zip_path, layer)
            if budget.spent():
                fields["note"] = "; ".join(filter(None, [fields["note"], "warm rebuild skipped (--quick budget)"]))
            else:
                log(f"{target.label}: {peer.label}: rebuild with a warm cache")
                warm_dir = workdir / ("cold" if peer.rebuild_in_place else "warm")
                warm = peer.build(target, warm_dir, cache)
                fields["build_warm_s"] = warm.seconds if warm.ok else None
                log(f"  {warm.seconds:.1f} s" if warm.ok else f"  failed: {warm.error}")
            log(f"{target.label}: {peer.label}: measuring the layer")
            try:
                _measure_into(fields, layer, target, python, 0 if budget.spent() else runs, cold.wheel_names,
                              workdir)
            except (LambdapackError, OSError, RuntimeError) as exc:
                rows.append(Row(status="error", error=f"measuring failed: {exc}", **fields))
                continue
            rows.append(Row(status="ok", **fields))
            shutil.rmtree(workdir, ignore_errors=True)
    display = [p.key for p in peer_mod.all_peers()]
    labels = [Target.for_runtime(*spec).label for spec in target_specs]
    return sorted(rows, key=lambda r: (labels.index(r.target), display.index(r.tool)))


def run_area(name: str, quick: bool) -> dict[str, Any]:
    """``bench/bench_<name>.py``'s ``run(quick)``, or why it could not be had."""
    path = BENCH_DIR / f"bench_{name}.py"
    if not path.is_file():
        return {"unavailable": f"bench/bench_{name}.py does not exist yet"}
    start = time.perf_counter()
    try:
        module = importlib.import_module(f"bench_{name}")
        result = module.run(quick)
    except Exception as exc:  # noqa: BLE001 - one broken area must not sink the others; the error is reported
        return {"error": f"{type(exc).__name__}: {exc}"}
    if not isinstance(result, Mapping):
        return {"error": f"run() returned {type(result).__name__}, not a dict"}
    return {**result, "bench_seconds": round(time.perf_counter() - start, 1)}


def collect(args: argparse.Namespace, command: str) -> dict[str, Any]:
    budget = Budget(QUICK_SOFT_BUDGET_S, QUICK_HARD_BUDGET_S) if args.quick else Budget(None)
    result: dict[str, Any] = {
        "date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "command": command, "quick": args.quick, "machine": machine_description(),
    }
    result["areas"] = {}
    for name in AREAS if args.areas is None else [a for a in AREAS if a in args.areas]:
        if args.quick and args.areas is None and name in QUICK_SKIPS_AREAS:
            result["areas"][name] = {"skipped": f"by --quick: {QUICK_SKIPS_AREAS[name]}"}
            continue
        log(f"area {name}")
        result["areas"][name] = run_area(name, args.quick)
    from peers import default_cache_root

    cache_root = Path(args.cache_dir) if args.cache_dir else default_cache_root()
    cache_root.mkdir(parents=True, exist_ok=True)
    workroot = Path(tempfile.mkdtemp(prefix="work-", dir=cache_root))
    try:
        targets = QUICK_TARGETS if args.quick else FULL_TARGETS
        if args.targets:
            targets = tuple((t.partition(":")[0], t.partition(":")[2] or "x86_64") for t in args.targets)
        rows = [] if args.tools == [] else run_peers(
            targets, args.tools, runs=args.runs or (3 if args.quick else 7), budget=budget,
            workroot=workroot, cache_root=cache_root)
    finally:
        shutil.rmtree(workroot, ignore_errors=True)
    result["rows"] = [asdict(r) for r in rows]
    result["machine"]["loadavg_end"] = machine_description()["loadavg"]
    return result


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="python3.12 x86_64 only, 3 cold starts, "
                        "a 15-minute budget")
    parser.add_argument("--json", metavar="OUT", help="write the whole result as JSON")
    parser.add_argument("--markdown", metavar="OUT", help="write the tables as markdown")
    parser.add_argument("--plot", metavar="PNG", help="write the size/cold-start plot")
    parser.add_argument("--from-json", metavar="IN", help="render a saved result instead of running")
    parser.add_argument("--tools", nargs="*", choices=RUN_ORDER, help="only these peers; no value: none")
    parser.add_argument("--targets", nargs="*", metavar="RUNTIME:ARCH", help="e.g. python3.11:x86_64")
    parser.add_argument("--areas", nargs="*", choices=AREAS, help="only these bench_<area>.py; no value: none")
    parser.add_argument("--runs", type=int, help="fresh processes per cold-start median")
    parser.add_argument("--cache-dir", help="tool virtualenvs and work files (default ~/.cache/lambdapack-bench)")
    args = parser.parse_args(argv)
    for spec in args.targets or ():
        runtime, _, arch = spec.partition(":")
        try:
            Target.for_runtime(runtime, arch or "x86_64")
        except LambdapackError as exc:
            parser.error(f"--targets {spec}: {exc.message}")
    return args


def main(argv: Sequence[str] | None = None, *, collector: Callable[..., dict[str, Any]] = collect) -> int:
    args = parse_args(argv)
    if args.from_json:
        result = json.loads(Path(args.from_json).read_text())
    else:
        command = "python bench/run.py " + " ".join(sys.argv[1:] if argv is None else argv)
        start = time.perf_counter()
        result = collector(args, command.strip())
        result["wall_seconds"] = round(time.perf_counter() - start, 1)
    report = render_report(result)
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2, default=str) + "\n")
    if args.markdown:
        Path(args.markdown).write_text(report)
    if args.plot:
        plot(result, Path(args.plot))
    sys.stdout.write(report)
    if not args.from_json:
        log(f"done in {result['wall_seconds']:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
