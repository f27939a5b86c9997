"""bench_zoo.py: its row specs, figures, goals and tables on synthetic runs, and its rounds in the real emulator."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from bench_support import load_bench

fresh = load_bench("fresh_runtime")
zoo = load_bench("bench_zoo")
zoo_models = load_bench("zoo_models")
rounds = load_bench("function_rounds")


def _samples(init: list[float], warm: float, memory: int = 17) -> list:
    return [fresh.Sample(init_ms=v, first_response_ms=v + 3, first_duration_ms=1.0, max_memory_mb=memory,
                             warm_ms=2.0, warm_duration_ms=warm) for v in init]


def _model(key: str, serving: str, init: dict[str, list[float]], warm: dict[str, float],
           budget: float = 30.0) -> dict:
    facts = {"label": key.replace("_", " "), "data": "iris", "family": "ensemble", "estimator": "sklearn.X",
             "inputs": ["a: number"], "init_budget_ms": budget, "serving": serving,
             "reason": "proven on 100 rows: predictions identical" if serving == "predictor"
             else "sklearn.neighbors.KNeighborsClassifier is not a model the predictor covers",
             "claim": {"rows": 100, "predict": "identical labels and values", "probabilities": "bit-identical",
                       "exact": True} if serving == "predictor" else None,
             "function_zip_bytes": 120_000, "joblib_zip_bytes": 90_000,
             "predictor_bytes": 56_000 if serving == "predictor" else None, "model_bytes": 80_000,
             "layer": "layer-1"}
    samples = {path: _samples(values, warm[path]) for path, values in init.items()}
    return {**facts, **rounds.model_figures(samples, facts)}


def _result(models: dict) -> dict:
    return {"schema": zoo.SCHEMA, "date": "2026-12-06T03:00:00Z", "seconds": 600,
            "command": "python bench/bench_zoo.py", "machine": {"cpu": "test CPU", "cores": 2, "memory_gb": 8},
            "load_before": [0.2, 0.3, 0.4], "load_after": [0.5, 0.4, 0.4], "load_during": [0.3, 0.6],
            "python": {"host": "3.11.7", "function": "3.12.1"},
            "lambdapack": "0.1.0", "git": "abc1234", "rounds": 3, "warm_calls": 20,
            "layers": {"layer-1": {"packages": {"scikit-learn": "1.9.1", "numpy": "2.4.6"}, "zip_bytes": 61_600_000,
                                   "unzipped_bytes": 185_300_000}},
            "models": models, "goals": rounds.tally(models)}


FAST = _model("forest", "predictor",
              {"empty": [40, 50, 60], "predictor": [45, 58, 61], "joblib": [1200, 1300, 1400]},
              {"empty": 0.2, "predictor": 0.35, "joblib": 13.0})
SLOW = _model("booster", "predictor",
              {"empty": [40, 50, 60], "predictor": [130, 150, 160], "joblib": [2000, 2100, 2200]},
              {"empty": 0.2, "predictor": 1.4, "joblib": 20.0}, budget=50.0)
UNCOVERED = _model("kneighbors", "joblib", {"joblib": [1100, 1150, 1180]}, {"joblib": 1.9})


def test_the_predictor_is_judged_by_its_paired_difference_with_the_empty_handler() -> None:
    assert FAST["predictor_minus_empty"] == {"median_ms": 5.0, "q1_ms": 3.0, "q3_ms": 6.5}
    assert FAST["minus_empty"]["joblib"]["median_ms"] == 1250.0
    assert FAST["predictor_vs_joblib"] == round(58 / 1300, 4)
    assert FAST["goals"]["init"] == {"target_ms": 30.0, "measured_ms": 5.0, "met": True}
    assert FAST["goals"]["warm"]["met"] is True
    # +100 ms over a +50 ms budget, 1.4 ms over the 1 ms budget
    assert SLOW["goals"]["init"]["met"] is False and SLOW["goals"]["warm"]["met"] is False
    assert "goals" not in UNCOVERED and "minus_empty" not in UNCOVERED
    assert rounds.tally({"f": FAST, "s": SLOW, "k": UNCOVERED}) == {"init": {"met": 1, "of": 2},
                                                                 "warm": {"met": 1, "of": 2}}


def test_the_tables_show_coverage_the_proof_and_every_goal() -> None:
    text = zoo.render_markdown(_result({"forest": FAST, "booster": SLOW, "kneighbors": UNCOVERED}))
    assert "2 of 3 models served by the predictor. Goals met: Init ≤ empty handler + budget 1 of 2; " \
           "warm Duration ≤ 1 ms 1 of 2." in text
    assert "load average (1/5/15 min) before 0.20 / 0.30 / 0.40, after 0.50 / 0.40 / 0.40" in text
    assert "| forest (iris) | ensemble | **predictor** | 100 rows, predictions identical; probabilities " \
           "bit-identical | 0.1 MB | 56 kB | layer-1: 61.6 MB / 185.3 MB |" in text
    assert "| kneighbors (iris) | ensemble | joblib | joblib path: sklearn.neighbors.KNeighborsClassifier is not " \
           "a model the predictor covers |" in text
    assert "| forest | 58.0 ms | 1,300 ms | 50.0 ms | +5.0 ms (+3.0 … +6.5), goal ≤ +30 | 0.045× | 0.35 ms | " \
           "13.0 ms | 17 MB / 17 MB | met | met |" in text
    assert "| booster | 150 ms | 2,100 ms | 50.0 ms | +100.0 ms (+95.0 … +100.0), goal ≤ +50 |" in text
    assert text.count("**missed**") == 2
    assert "| kneighbors | – | 1,150 ms | – | – | – | – | 1.9 ms | – / 17 MB | – | – |" in text
    assert "- layer-1: scikit-learn 1.9.1, numpy 2.4.6" in text


def test_a_linear_models_claim_is_shown_as_proven_not_as_identical() -> None:
    ridge = {**FAST, "label": "ridge", "claim": {
        "rows": 545, "predict": "within 2 ulp of the dot product's magnitude (bound 64) on 545 rows",
        "scores": "within 2 ulp of the dot product's magnitude (bound 64)", "exact": False}}
    logistic = {**FAST, "label": "logistic", "claim": {"rows": 907, "predict": "identical on 907 rows",
                                                        "scores": "within 1 ulp of the dot product's magnitude"}}
    text = zoo.render_markdown(_result({"ridge": ridge, "logistic": logistic}))
    assert "| 545 rows, predictions within 2 ulp of the dot product's magnitude (bound 64); scores within 2 ulp" in text
    assert "| 907 rows, predictions identical; scores within 1 ulp" in text
    assert "545 rows, predictions identical" not in text


def test_main_re_renders_a_saved_run_and_writes_nothing(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    saved = tmp_path / "zoo.json"
    saved.write_text(json.dumps(_result({"forest": FAST})))
    before = sorted(tmp_path.iterdir())
    assert zoo.main(["--from-json", str(saved)]) == 0
    assert "| forest | 58.0 ms |" in capsys.readouterr().out
    assert sorted(tmp_path.iterdir()) == before


def test_main_hands_the_collector_the_models_and_writes_the_json_where_told(tmp_path: Path) -> None:
    asked = []

    def collector(keys: object, rounds: int, warm_calls: int, command: str) -> dict:
        asked.append((keys, rounds, warm_calls, command))
        return _result({"forest": FAST})

    out = tmp_path / "docs" / "zoo.json"
    assert zoo.main(["--quick", "--json", str(out)], collector=collector) == 0
    # a temporary directory is not part of the recorded command
    command = "python bench/bench_zoo.py --quick --json zoo.json"
    assert asked == [(list(zoo_models.QUICK), 2, zoo.DEFAULT_WARM_CALLS, command)]
    assert json.loads(out.read_text())["models"]["forest"]["serving"] == "predictor"
    with pytest.raises(SystemExit, match="unknown model"):
        zoo.main(["--models", "no_such_model"], collector=collector)


def test_the_zoo_has_one_row_spec_per_family_and_every_shape_the_brief_names() -> None:
    keys = [m.key for m in zoo_models.MODELS]
    assert len(keys) == len(set(keys))
    assert set(zoo_models.QUICK) <= set(keys)
    families = {m.family for m in zoo_models.MODELS}
    assert families == {"tree", "ensemble", "pipeline", "linear", "xgboost", "lightgbm", "uncovered"}
    boosters = [m for m in zoo_models.MODELS if m.family in ("xgboost", "lightgbm")]
    assert all(m.init_budget_ms == zoo_models.BOOSTER_INIT_BUDGET_MS for m in boosters)
    assert all(m.init_budget_ms == zoo_models.INIT_BUDGET_MS for m in zoo_models.MODELS if m not in boosters)
    assert [m.key for m in zoo_models.by_key(["kneighbors", "random_forest"])] == ["random_forest", "kneighbors"]
    with pytest.raises(ValueError, match="unknown model"):
        zoo_models.by_key(["nope"])


def test_a_fit_gives_the_estimator_its_inputs_and_a_request() -> None:
    fitted = zoo_models.decision_tree()
    assert len(fitted.features) == 30 and fitted.features[0] == "mean_radius"
    assert list(fitted.event) == fitted.features
    assert fitted.estimator.predict([[fitted.event[f] for f in fitted.features]]).shape == (1,)
    with_missing = zoo_models.hist_gradient_boosting()
    assert None in with_missing.event.values()  # the request carries a missing value as null


def test_a_missing_library_stops_the_bench_with_its_name() -> None:
    with pytest.raises(rounds.MissingLibraries, match=r"bench_zoo needs no_such_library_here in this Python .*"
                       r"requirements-models"):
        rounds.require(["json", "no_such_library_here"], "bench_zoo")
    rounds.require(["json"], "bench_zoo")  # all there: no complaint


def test_rounds_interleave_fresh_runtimes_in_the_real_emulator(tmp_path: Path) -> None:
    """The harness's loop on a real predictor-served function and the empty handler: one Sample per path and
    round, each checked against the path's own first answer, and figures from them."""
    from lambdapack.archive import ZipEntry, write_zip
    from lambdapack.emulator.session import LocalFunctionSpec
    from lambdapack.function.package import package_function
    from lambdapack.model.train import train

    train(dataset="iris", estimator="random_forest", params={"n_estimators": "5"}, out=tmp_path / "model")
    package_function(tmp_path / "model", tmp_path / "function.zip", None)
    write_zip(tmp_path / "empty.zip", [ZipEntry("lambda_function.py", fresh.EMPTY_HANDLER.encode())])
    specs = {"empty": LocalFunctionSpec(tmp_path / "empty.zip", runtime="python3.12"),
             "predictor": LocalFunctionSpec(tmp_path / "function.zip", runtime="python3.12")}
    spec = zoo_models.MODELS[1]
    built = rounds.first_answers(rounds.Built(spec, json.dumps({"sl": 6.9, "sw": 3.1, "pl": 5.1, "pw": 2.3}).encode(),
                                        {"serving": "predictor", "init_budget_ms": 30.0}, specs,
                                        ("empty", "predictor")))
    assert built.expected["predictor"] == {"statusCode": 200, "body": "virginica"}
    samples, load = rounds.measure([built], rounds=2, warm_calls=2)
    assert len(load) == 2 and [len(samples[spec.key][p]) for p in ("empty", "predictor")] == [2, 2]
    figures = rounds.model_figures(samples[spec.key], built.facts)
    assert figures["paths"]["predictor"]["init_ms"]["p50"] > 0
    assert set(figures["goals"]) == {"init", "warm"} and "predictor_vs_joblib" not in figures


def test_a_refused_request_or_a_failed_build_is_shown_not_timed() -> None:
    body = '{"error": "invalid_value", "detail": "city must be a number"}'
    assert rounds.refusal({"statusCode": 400, "body": body}) == f"answered 400: {body}"
    assert rounds.refusal({"statusCode": 200, "body": "1"}) is None and rounds.refusal({"sl": 6.9}) is None
    spec = zoo_models.MODELS[0]
    broken = rounds.failed_model(spec, "lambdapack model import failed: no such file")
    refused = {**UNCOVERED, "failed": {"joblib": "answered 400: city must be a number"}, "paths": {}}
    text = zoo.render_markdown(_result({"tree": broken, "lgbm": refused}))
    assert f"| {spec.label} ({spec.data}) | tree | **failed** | lambdapack model import failed: no such file | – | – " \
           "| – |" in text
    assert "- kneighbors, package --no-predictor + layer: answered 400: city must be a number" in text
    assert "0 of 2 models served by the predictor" in text
