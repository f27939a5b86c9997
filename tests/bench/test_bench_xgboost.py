"""bench_xgboost.py's goals and tables on synthetic results, and on the recorded run."""

from __future__ import annotations

import json
from pathlib import Path

from bench_support import load_bench

bench = load_bench("bench_xgboost")
RECORDED = Path(__file__).resolve().parents[2] / "docs" / "bench" / "xgboost.json"


def _result(warm_us: float = 400.0, init_ms: float = 20.0, mismatches: int = 0, ulps: int = 0) -> dict:
    result = {
        "date": "2026-12-06T00:00:00Z", "seconds": 60, "command": "python bench/bench_xgboost.py",
        "machine": {"cpu": "test CPU", "cores": 2}, "load_before": [1.0, 1.0, 1.0],
        "versions": {"xgboost": "3.2.0", "scikit-learn": "1.9.1"},
        "model": {"package_s": 30.0, "predictor_bytes": 853_500, "proof": {
            "rows": 30_000, "leaves": 16_000, "trees": 500, "missing_nodes": 15_000, "missing_unreached": 2_000}},
        "probe_rows": {"training": 2000, "on_a_split": 1500, "half_missing": 1500},
        "agreement": {"rows": 5000, "label_mismatches": mismatches, "margins_bit_identical": 5000,
                      "probabilities_bit_identical": 5000 if not ulps else 4990, "probability_max_ulps": ulps,
                      "python_expf": {"bit_identical": 4999, "max_ulps": 1}},
        "timing": {"python": "3.12.1", "layer_modules": [], "inits": 21, "rounds": 400, "init_ms": init_ms,
                   "empty_init_ms": 0.1, "handler_us": {"median": warm_us, "p90": warm_us * 1.2},
                   "predictor_us": {"median": warm_us * 0.8, "p90": warm_us}},
    }
    result["goals"] = bench.goals(result)
    return result


def test_the_goals_are_met_by_a_fast_exact_run_and_missed_otherwise() -> None:
    assert [g["verdict"] for g in _result()["goals"]] == ["met"] * 4
    slow = _result(warm_us=1500.0, init_ms=80.0, mismatches=1, ulps=3)
    assert [g["verdict"] for g in slow["goals"]] == ["missed"] * 4
    table = bench.render_markdown(slow)
    assert "| warm single row through the handler | ≤ 1 ms | 1.500 ms | **missed** |" in table
    assert "| init above an empty handler | ≤ 50 ms | +79.9 ms | **missed** |" in table


def test_the_table_says_what_was_compared_on_how_many_rows() -> None:
    table = bench.render_markdown(_result())
    assert "| probe rows (training, on a split, half missing) | 5,000 (2,000, 1,500, 1,500) |" in table
    assert "| probabilities bit-identical | 5,000 of 5,000 rows (largest distance 0 float32 ulp) |" in table
    assert "13,000 of 15,000 nodes" in table
    assert "modules of a layer imported: none" in table


def test_the_recorded_run_meets_every_goal_with_no_layer() -> None:
    recorded = json.loads(RECORDED.read_text())
    assert [g["verdict"] for g in recorded["goals"]] == ["met"] * 4
    assert recorded["timing"]["layer_modules"] == [] and recorded["agreement"]["rows"] == 5000
    assert bench.goals(recorded) == recorded["goals"]
