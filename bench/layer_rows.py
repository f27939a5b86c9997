"""The peer comparison's rows: every tool building the same layer for each target, measured the same way.

``run_peers`` drives each peer of ``bench/peers.py`` (cold build, warm rebuild, then
``bench/measure.py`` on the zip) and returns one :class:`Row` per tool and target; a ``--quick``
:class:`Budget` skips the optional steps once spent. ``bench/run_report.py`` renders the rows.
"""

from __future__ import annotations

import shutil
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from lambdapack.errors import LambdapackError
from lambdapack.targets import Target

RUN_ORDER = ("lambdapack", "lambdapack-no-compile", "pip-target", "guide-tags", "guide", "uv-recipe", "sam",
             "chalice")


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


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


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
    from peer_tools import ToolEnv

    env = ToolEnv(cache_root)
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
