"""bench_reliability's soak report and its goals, on synthetic results (the real soak is the bench's)."""

from __future__ import annotations

import json
from pathlib import Path

from bench_support import load_bench

reliability = load_bench("bench_reliability")
RECORDED = Path(__file__).resolve().parents[2] / "docs" / "bench" / "soak.json"


def _result(growth_kb: int, stop_seconds: list[float], exit_code: int = 0) -> dict:
    recorded = json.loads(RECORDED.read_text(encoding="utf-8"))
    samples = [{"requests": n, "runtimes_kb": {"11": 17_000 + (growth_kb if n == 100_000 else 0), "12": 17_000},
                "serve_kb": 38_000} for n in (0, 10_000, 50_000, 100_000)]
    recorded["soak"]["samples"] = samples
    recorded["stops"] = [{"after_requests": 10_000, "sigint_inherited": "ignored" if i % 2 else "default",
                          "seconds": s, "exit_code": exit_code, "processes_left": 0, "traceback": False}
                         for i, s in enumerate(stop_seconds)]
    return recorded


def test_flat_memory_and_quick_stops_meet_both_goals() -> None:
    report = reliability.soak_report(_result(1024, [0.3] * 20))
    assert "from request 10,000 to 100,000: at most +1,024 kB | +1,024 kB, +0 kB | met |" in report
    assert "| 20 of 20 (slowest 0.30 s, median 0.30 s) | met |" in report
    assert "10 of them on a serve started with SIGINT ignored" in report


def test_growth_past_a_megabyte_or_one_slow_stop_misses() -> None:
    assert "+1,025 kB, +0 kB | missed |" in reliability.soak_report(_result(1025, [0.3] * 20))
    slow = reliability.soak_report(_result(0, [0.3] * 19 + [60.0]))
    assert "| 19 of 20 (slowest 60.00 s, median 0.30 s) | missed |" in slow
    killed = reliability.soak_report(_result(0, [0.3] * 20, exit_code=-9))
    assert "| 0 of 20 (" in killed and "| missed |" in killed


def test_the_recorded_soak_renders_and_meets_its_goals() -> None:
    report = reliability.soak_report(json.loads(RECORDED.read_text(encoding="utf-8")))
    assert report.count("| met |") == 2 and "missed" not in report
