"""A fresh runtime in the local emulator, and the figures many of them make: what the cold-start benches share.

``cold_start`` opens one function in a new runtime process (``open_function``), invokes it once
and then ``warm_calls`` times, checks every answer and returns a :class:`Sample` (the REPORT's
Init Duration, the first round trip, Max Memory Used, the warm calls' medians). ``summary`` and
``paired_difference`` turn samples into the medians the goals judge; ``machine``, ``git_commit``
and ``load_text`` describe the run's conditions. Used by ``bench_coldstart``, ``function_rounds``
(``bench_zoo``, ``bench_boosters``).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
RUNTIME = "python3.12"
ARCH = "x86_64"
EMPTY_HANDLER = "def lambda_handler(e, c):\n    return e\n"


def lambdapack_command(*args: str, cwd: Path) -> str:
    """One lambdapack command as a user types it; its stdout (``--json``'s document), kept out of the bench's."""
    done = subprocess.run([sys.executable, "-m", "lambdapack", *args], cwd=cwd, capture_output=True, text=True,
                          check=False)
    if done.returncode != 0:
        tail = "\n".join((done.stderr or done.stdout).strip().splitlines()[-5:])
        raise RuntimeError(f"lambdapack {' '.join(args)} failed:\n{tail}")
    return done.stdout


@dataclass(frozen=True)
class Sample:
    """One fresh runtime: its first invoke and the warm calls after it."""

    init_ms: float
    first_response_ms: float
    first_duration_ms: float
    max_memory_mb: int
    warm_ms: float
    warm_duration_ms: float = 0.0  # the warm calls' median REPORT Duration: the handler's time, as Lambda bills it


def _discard(_: bytes) -> None:
    pass


def cold_start(spec: Any, event: bytes, expected: object, warm_calls: int) -> Sample:
    """A new runtime of ``spec``: its first invoke and ``warm_calls`` more, each answer checked against ``expected``."""
    from lambdapack.emulator.session import open_function

    with open_function(spec, log_sink=_discard) as function:
        first = function.invoke(event)
        warm = [function.invoke(event) for _ in range(warm_calls)]
    for result in (first, *warm):
        if not result.ok or result.payload != expected:
            raise RuntimeError(f"{spec.function_name} answered {result.payload!r} ({result.status})")
    if first.init_ms is None:
        raise RuntimeError(f"{spec.function_name}: the first invoke reported no Init Duration")
    return Sample(
        init_ms=first.init_ms, first_response_ms=first.round_trip_ms, first_duration_ms=first.duration_ms,
        # each REPORT states the runtime's peak so far: the last one covers init, first and warm calls
        max_memory_mb=(warm[-1] if warm else first).max_memory_mb,
        warm_ms=statistics.median(r.round_trip_ms for r in warm) if warm else first.round_trip_ms,
        warm_duration_ms=statistics.median(r.duration_ms for r in warm) if warm else first.duration_ms)


def p90(values: Sequence[float]) -> float:
    """The 90th percentile (inclusive quantiles); the value itself for one sample."""
    if len(values) < 2:
        return values[0]
    return statistics.quantiles(values, n=10, method="inclusive")[-1]


def summary(values: Sequence[float]) -> dict[str, float]:
    return {"p50": round(statistics.median(values), 2), "p90": round(p90(values), 2),
            "min": round(min(values), 2), "max": round(max(values), 2)}


def paired_difference(ours: Sequence[float], floor: Sequence[float]) -> dict[str, float]:
    """Median and quartiles of ``ours[i] - floor[i]``, samples taken in the same round."""
    diffs = [a - b for a, b in zip(ours, floor, strict=True)]
    quartiles = statistics.quantiles(diffs, n=4, method="inclusive") if len(diffs) > 1 else [diffs[0]] * 3
    return {"median_ms": round(statistics.median(diffs), 1), "q1_ms": round(quartiles[0], 1),
            "q3_ms": round(quartiles[2], 1)}


def load_text(values: Sequence[float]) -> str:
    return " / ".join(f"{v:.2f}" for v in values)


def cpu_name() -> str:
    """The CPU's model name from /proc/cpuinfo: what every bench records beside its figures."""
    import platform

    try:
        text = Path("/proc/cpuinfo").read_text(encoding="utf-8")
    except OSError:
        return platform.processor() or "unknown CPU"
    names = [line.split(":", 1)[1].strip() for line in text.splitlines() if line.startswith("model name")]
    return names[0] if names else platform.processor() or "unknown CPU"


def machine() -> dict[str, Any]:
    import platform

    mem_gb = None
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal"):
            mem_gb = round(int(line.split()[1]) / 1024 / 1024, 1)
    return {"cpu": cpu_name(), "cores": os.cpu_count(), "memory_gb": mem_gb,
            "os": f"{platform.system()} {platform.release()} ({platform.machine()})"}


def git_commit() -> str:
    done = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=BENCH_DIR, capture_output=True, text=True,
                          check=False)
    return done.stdout.strip() or "?"


def positive(text: str) -> int:
    """An argparse type: a whole number, at least 1."""
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value
