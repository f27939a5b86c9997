"""bench_coldstart.py's and bench_handler.py's figures, goals, tables and plots on synthetic results (their
figures, profile and rendering modules included)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from bench_support import load_bench

coldstart = load_bench("bench_coldstart")
figures = load_bench("coldstart_figures")
render = load_bench("coldstart_render")
fresh = load_bench("fresh_runtime")
handler = load_bench("bench_handler")
handler_render = load_bench("handler_render")

# init ms per round for each function; the predictor sits 10 ms above the empty handler in every round
INIT = {"empty": [50, 60, 70, 80], "guide": [300, 320, 340, 360], "joblib": [1500, 1600, 1700, 1800],
        "predictor": [60, 70, 80, 90], "predictor_no_layer": [55, 65, 75, 85]}
MEMORY = {"empty": 16, "guide": 137, "joblib": 138, "predictor": 20, "predictor_no_layer": 20}


def _result(init: dict[str, list[float]] = INIT) -> dict:
    samples = {key: [fresh.Sample(init_ms=v, first_response_ms=v + (2000 if key == "guide" else 5),
                                      first_duration_ms=1.0, max_memory_mb=MEMORY[key], warm_ms=1.0 if key != "guide"
                                      else 50.0) for v in values] for key, values in init.items()}
    variants = figures.figures(samples)
    return {"date": "2026-11-29T07:00:00Z", "seconds": 100, "command": "python bench/bench_coldstart.py",
            "machine": {"cpu": "test CPU", "cores": 2, "memory_gb": 8, "os": "Linux"},
            "load_before": [1.0, 1.0, 1.0], "load_after": [2.0, 1.5, 1.0], "load_during": [1.0, 2.0],
            "python": {"host": "3.11.7", "function": "3.12.1"}, "layer": {"versions": {"scikit-learn": "1.9.1"}},
            "lambdapack": "0.1.0", "git": "abc1234", "runs": 4, "warm_calls": 2, "memory_mb": 512,
            "variants": variants, "ratios": figures.ratios(variants), "paired": figures.paired(variants),
            "goals": figures.goals(variants), "profile": {}}


def test_ratios_and_goals_come_from_the_medians_of_one_run() -> None:
    result = _result()
    assert result["variants"]["predictor"]["init_ms"]["p50"] == 75
    assert result["ratios"]["predictor_init_minus_empty_ms"] == 10.0
    assert result["ratios"]["predictor_init_vs_joblib"] == round(75 / 1650, 3)
    assert result["ratios"]["predictor_memory_vs_joblib"] == round(20 / 138, 3)
    assert result["paired"]["predictor"] == {"median_ms": 10.0, "q1_ms": 10.0, "q3_ms": 10.0}
    assert [g["verdict"] for g in result["goals"]] == ["met", "met", "met", "met"]


def test_a_slow_predictor_misses_the_goals_and_the_table_says_so() -> None:
    slow = {**INIT, "predictor": [v + 400 for v in INIT["empty"]]}
    result = _result(slow)
    assert [g["verdict"] for g in result["goals"]] == ["missed", "missed", "missed", "met"]
    table = render.goals_table(result)
    assert "| +400.0 ms | **missed** |" in table


def test_markdown_has_the_conditions_every_function_and_the_paired_difference() -> None:
    text = render.render_markdown(_result())
    assert "Load average (1/5/15 min) before 1.00 / 1.00 / 1.00, after 2.00 / 1.50 / 1.00" in text
    assert "| package (predictor) + layer | 75.0 ms |" in text
    assert "| the guide's handler + layer | 330 ms |" in text
    assert "paired by round: median (quartiles) | +10.0 ms (+10.0 … +10.0)" in text
    assert "init phase" not in text  # no profile, no profile table


def test_main_re_renders_a_saved_run_and_draws_the_plot_only_when_asked(tmp_path: Path, capsys) -> None:
    saved = tmp_path / "coldstart.json"
    saved.write_text(json.dumps(_result()))
    assert coldstart.main(["--from-json", str(saved), "--out", str(tmp_path)]) == 0
    assert "| empty handler, no layer |" in capsys.readouterr().out
    assert sorted(p.name for p in tmp_path.iterdir()) == ["coldstart.json"]  # re-rendering writes nothing
    assert coldstart.main(["--from-json", str(saved), "--plot", str(tmp_path / "plot.png")]) == 0
    assert (tmp_path / "plot.png").stat().st_size > 10_000


def test_runs_must_be_positive() -> None:
    with pytest.raises(SystemExit):
        coldstart.parse_args(["--runs", "0"])
    assert coldstart.parse_args([]).runs == 20


def _sizes(pairs: dict[int, tuple[float, float]]) -> dict:
    return {str(n): {"predictor": {"median_us": p}, "estimator": {"median_us": e}} for n, (p, e) in pairs.items()}


def test_crossover_is_where_the_estimator_stays_faster() -> None:
    # the estimator wins once at 20 rows by noise, loses at 50, then wins for good from 100
    sizes = _sizes({1: (100, 20000), 20: (2000, 1900), 50: (5000, 5200), 100: (10000, 5000), 1000: (100000, 9000)})
    found = handler.crossover(sizes)
    assert found["batch"] == 100 and found["between"] == [50, 100]
    assert 50 < found["interpolated"] <= 100
    assert handler.crossover(_sizes({1: (1, 2), 10: (5, 9)}))["batch"] is None
    assert handler.crossover(_sizes({1: (3, 2), 10: (30, 9)}))["between"] is None


def test_handler_markdown_shows_both_paths_and_the_crossover() -> None:
    sizes = _sizes({1: (100, 20000), 100: (10000, 5000)})
    result = {"date": "2026-11-29T07:00:00Z", "command": "python bench/bench_handler.py", "seconds": 10,
              "machine": {"cpu": "test CPU", "cores": 2}, "load_before": [1, 1, 1], "load_after": [1, 1, 1],
              "python": "3.12.1", "versions": {"scikit-learn": "1.9.1", "numpy": "2.5.5"}, "layer": "layer.zip",
              "warm_single_row": {"rounds": 3, "median_ms": {"guide": 40.0, "predictor": 0.4, "estimator": 20.0},
                                  "p90_ms": {"guide": 41.0, "predictor": 0.5, "estimator": 21.0}},
              "models": {"m": {"description": "a forest", "sizes": {k: {**v, "estimator_vs_predictor": 0.5}
                                                                   for k, v in sizes.items()},
                               "crossover": handler.crossover(sizes),
                               "first_estimator": {"init_s": 0.012, "first_estimator_s": 1.8}}}}
    text = handler_render.render_markdown(result)
    assert "| lambdapack, default (stdlib predictor) | 0.400 ms | 0.500 ms | 100.0× |" in text
    assert "| 100 | 10.0 ms / 5.00 ms (0.50) |" in text
    assert "between 1 and 100 rows (≈" in text
    assert "| first estimator batch, once per runtime | 1.80 s |" in text
