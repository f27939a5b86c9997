"""bench_boosters.py: its probe rows, ulp counts, comparisons, the peers' handlers and tables, on synthetic data."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import numpy as np
import pytest
from bench_support import load_bench

boosters = load_bench("bench_boosters")
probes = load_bench("booster_probes")
peers = load_bench("booster_peers")


def test_ulps_count_representable_steps_in_the_outputs_precision() -> None:
    a = np.array([1.0, 1.0, 0.0, -0.0, np.nan, np.nan, 1e-45], dtype=np.float32)
    b = np.array([1.0, np.nextafter(np.float32(1), np.float32(2)), -0.0, 0.0, np.nan, 1.0, -1e-45], dtype=np.float32)
    assert probes.ulps(a, b).tolist() == [0, 1, 0, 0, 0, math.inf, 2]
    one = np.array([0.1])
    assert probes.ulps(one, np.nextafter(one, 1.0)).tolist() == [1]  # float64 counts float64 steps
    assert probes.ulps(np.array([-1e308]), np.array([1e308])).tolist() == [2 * float(np.array(1e308).view(np.int64))]


def test_a_binary_peers_p_becomes_the_librarys_row_in_its_precision() -> None:
    ref = np.array([[0.75, 0.25]], dtype=np.float32)
    got = probes.as_reference([0.25], ref, "classification")
    assert got.dtype == np.float32 and got.tolist() == [[0.75, 0.25]]
    assert probes.as_reference([[0.1, 0.9]], ref, "classification").dtype == np.float32
    assert probes.as_reference([3.0, 4.0], np.array([3.0, 4.0]), "regression").tolist() == [3.0, 4.0]


def test_compare_counts_mismatches_identical_rows_and_where_they_differ() -> None:
    ref = np.array([[0.9, 0.1], [0.4, 0.6], [0.5, 0.5]])
    got = np.array([[0.9, 0.1], [0.6, 0.4], [0.5, np.nextafter(0.5, 0)]])
    result = probes.compare(np.array([0, 1, 0]), ref, None, got, "classification", ["training", "threshold", "special"])
    assert result["rows"] == 3 and result["identical_rows"] == 1 and result["precision"] == "float64"
    assert result["max_abs_difference"] == pytest.approx(0.2)
    assert result["label_mismatches"] == 1 and result["mismatches_by_kind"] == {"threshold": 1}
    assert result["differing_rows_by_kind"] == {"threshold": 1, "special": 1}
    values = probes.compare(None, np.array([1.0, 2.0]), None, [1.0, 2.0], "regression", ["training", "training"])
    assert values["identical_rows"] == 2 and values["max_ulps"] == 0 and "label_mismatches" not in values


def test_threshold_rows_sit_on_the_split_in_the_librarys_comparison_precision() -> None:
    t = float(np.float32(0.1))
    xgb = probes.threshold_values("xgboost", 0.1)
    assert xgb[0] == t and np.float32(xgb[1]) < np.float32(t) < np.float32(xgb[2])
    # the doubles either side of the float32 split: float32 rounding puts them on it, a double comparison does not
    assert xgb[3] < t < xgb[4] and np.float32(xgb[3]) == np.float32(t) == np.float32(xgb[4])
    lgb = probes.threshold_values("lightgbm", 0.1)
    assert lgb[:3] == [0.1, np.nextafter(0.1, 0.0), np.nextafter(0.1, 1.0)] and lgb[3] == t


def _fitted(library: str, categories: dict | None = None) -> object:
    rng = np.random.default_rng(1)
    train = rng.normal(size=(300, 4))
    if categories:
        train[:, 3] = rng.integers(0, 3, 300)
    return probes.Fitted("m", "a model", library, "classification", None, ("a", "b", "c", "d"), categories or {},
                         train, train[0])


@pytest.mark.parametrize("library", ["xgboost", "lightgbm"])
def test_probe_rows_are_shared_out_by_kind(library: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # the booster's split list comes from the library; here two splits stand in for it
    monkeypatch.setattr(probes, "split_thresholds", lambda fitted: [(0, 0.25), (2, -1.5)])
    fitted = _fitted(library, {3: ["x", "y", "z"]})
    X, kinds = probes.probe_rows(fitted, n=1000)
    assert X.shape == (1000, 4) and len(kinds) == 1000
    assert {k: kinds.count(k) for k in probes.SHARES} == {"training": 300, "threshold": 400, "half_missing": 200,
                                                          "special": 100}
    on_split = X[np.array(kinds) == "threshold"]
    assert all(row[0] in probes.threshold_values(library, 0.25) or row[2] in probes.threshold_values(library, -1.5)
               for row in on_split)
    half = X[np.array(kinds) == "half_missing"]
    assert 0.35 < np.isnan(half).mean() < 0.65
    special = X[np.array(kinds) == "special"][:, :3]
    allowed = probes.LIGHTGBM_ZEROS if library == "lightgbm" else probes.XGBOOST_SPECIALS
    assert np.isin(special, allowed).any(axis=1).all()  # every special row has such values…
    assert set(np.unique(X[:, 3][~np.isnan(X[:, 3])])) <= {0.0, 1.0, 2.0}  # …and categories stay codes
    again, _ = probes.probe_rows(fitted, n=1000)
    assert np.array_equal(X, again, equal_nan=True)  # a fixed seed: the same rows every run


def test_rows_in_lambdapacks_inputs_space_and_the_request_event() -> None:
    fitted = _fitted("lightgbm", {3: ["x", "y", "z"]})
    X = np.array([[1.5, np.nan, 0.0, 2.0], [0.0, 1.0, 2.0, np.nan]])
    rows = fitted.input_rows(X)
    assert rows[0][:1] == [1.5] and math.isnan(rows[0][1]) and rows[0][3] == "z" and rows[1][3] is None
    event = probes.Fitted("m", "m", "lightgbm", "classification", None, ("a", "b", "c", "d"), {3: ["x", "y", "z"]},
                          X, X[0]).event()
    assert event == {"a": 1.5, "b": None, "c": 0.0, "d": "z"}


def test_a_converters_refusal_reads_as_its_message() -> None:
    error = RuntimeError("[04:11:53] /project/src/model_loader/delegated_handler.cc:810: Check failed: "
                         "output.enc.empty() && output.sorted_idx.empty(): Treelite does not yet support XGBoost "
                         "models with categorical splits.")
    assert peers.refusal_text(error) == "RuntimeError: Treelite does not yet support XGBoost models with " \
                                        "categorical splits."
    assert peers.refusal_text(AssertionError("Unexpected comparison op")) == \
        "AssertionError: Unexpected comparison op"


def test_xgboosts_base_score_is_read_as_m2cgen_needs_it() -> None:
    assert peers.parse_base_score("[6.274165E-1]") == pytest.approx(0.6274165)
    assert peers.parse_base_score("5E-1") == 0.5
    with pytest.raises(ValueError, match="2 values"):
        peers.parse_base_score("[1E-1,2E-1]")


def test_the_m2cgen_handler_sends_the_event_as_the_modules_row(tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """The shipped handler, run on a stand-in generated module: inputs in order, categories as codes, null NaN."""
    facts = peers.ModelFacts("lightgbm", "classification", ("age", "city"), {1: ["Braga", "Porto"]})
    (tmp_path / "inputs.json").write_bytes(peers.inputs_json(facts))
    (tmp_path / "model.py").write_text("def score(input):\n    return list(input)\n")
    (tmp_path / "lambda_function.py").write_text(peers.M2CGEN_HANDLER)
    monkeypatch.syspath_prepend(str(tmp_path))
    for name in ("lambda_function", "model"):
        sys.modules.pop(name, None)
    import lambda_function

    assert lambda_function.lambda_handler({"age": 40, "city": "Porto"}, None) == {"value": [40.0, 1.0]}
    answer = lambda_function.lambda_handler({"age": None, "city": None}, None)["value"]
    assert all(math.isnan(v) for v in answer)
    for name in ("lambda_function", "model"):
        sys.modules.pop(name, None)


def _result() -> dict:
    def path(init: float, warm: float) -> dict:
        return {"init_ms": {"p50": init}, "warm_duration_ms": {"p50": warm}}

    accuracy = {"rows": 5000, "lambdapack": {"rows": 5000, "identical_rows": 5000, "max_ulps": 0.0,
                                             "max_abs_difference": 0.0,
                                             "precision": "float32", "label_mismatches": 0,
                                             "differing_rows_by_kind": {}},
                "tl2cgen": {"rows": 5000, "identical_rows": 4990, "max_ulps": 3.0, "max_abs_difference": 1.8e-7,
                            "precision": "float32",
                            "label_mismatches": 2, "differing_rows_by_kind": {"threshold": 10}}}
    model = {"label": "XGBClassifier, 500 trees", "library": "xgboost", "task": "classification",
             "serving": "predictor", "reason": "proven", "accuracy": accuracy,
             "contenders": {"lambdapack": {"dependencies": "none (stdlib predictor)",
                                           "function_unzipped_bytes": 900_000},
                            "library": {"dependencies": "xgboost (the layer)", "layer": "layer-1",
                                        "function_unzipped_bytes": 400_000},
                            "m2cgen": {"error": "RecursionError: maximum recursion depth exceeded"},
                            "tl2cgen": {"dependencies": "none", "function_unzipped_bytes": 2_000_000, "note": "gcc"},
                            "onnxruntime": {"error": "RuntimeError: categorical splits"}},
             "paths": {"empty": path(50, 0.2), "lambdapack": path(70, 0.6), "library": path(2200, 3.0),
                       "tl2cgen": path(60, 0.3)},
             "minus_empty": {"lambdapack": {"median_ms": 20.0}, "library": {"median_ms": 2150.0},
                             "tl2cgen": {"median_ms": 9.5}}}
    return {"date": "2026-12-06T04:00:00Z", "seconds": 900, "command": "python bench/bench_boosters.py",
            "machine": {"cores": 2, "cpu": "test CPU", "memory_gb": 8}, "load_before": [0.1, 0.2, 0.3],
            "load_after": [0.4, 0.3, 0.3], "load_during": [0.2], "python": {"function": "3.12.1"}, "rounds": 10,
            "warm_calls": 20, "probes": 5000, "versions": {"xgboost-cpu": "3.2.0"},
            "layers": {"layer-1": {"unzipped_bytes": 250_000_000}}, "models": {"xgb_classifier": model}}


def test_the_tables_name_every_contender_its_refusal_or_its_figures() -> None:
    text = boosters.render_markdown(_result())
    assert "5,000 probe rows per model" in text and "Libraries: xgboost-cpu 3.2.0." in text
    assert "| XGBClassifier, 500 trees | lambdapack predictor | 0 | 5,000 of 5,000 (float32) | 0 | 0 | none |" in text
    assert "| XGBClassifier, 500 trees | TL2cgen (C, ctypes) | 2 | 4,990 of 5,000 (float32) | 3 | 1.8e-07 | " \
           "threshold 10 |" in text
    assert "| m2cgen (Python) | refused: RecursionError: maximum recursion depth exceeded |" in text
    assert "| XGBClassifier, 500 trees | the library itself (layer) | xgboost (the layer) | 0.4 MB | 250.0 MB | " \
           "2,200 ms | +2150.0 ms | 3.0 ms |" in text
    assert "| XGBClassifier, 500 trees | lambdapack predictor | none (stdlib predictor) | 0.9 MB | – | 70.0 ms | " \
           "+20.0 ms | 0.60 ms |" in text
    assert "| XGBClassifier, 500 trees | empty handler | – | – | – | 50.0 ms | – | 0.20 ms |" in text
    assert "- XGBClassifier, 500 trees, TL2cgen (C, ctypes): gcc" in text


def test_main_re_renders_a_saved_run_and_a_missing_peer_stops_a_run(tmp_path: Path, capsys: pytest.CaptureFixture,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    saved = tmp_path / "boosters.json"
    saved.write_text(json.dumps(_result()))
    assert boosters.main(["--from-json", str(saved)]) == 0
    assert "| lambdapack predictor |" in capsys.readouterr().out
    assert sorted(tmp_path.iterdir()) == [saved]
    monkeypatch.setattr(boosters, "REQUIRED", ("json", "m2cgen_not_installed_here"))
    with pytest.raises(SystemExit, match="error: bench_boosters needs m2cgen_not_installed_here in this Python"):
        boosters.main(["--models", "xgb_regressor"])


def _judged(**changes: object) -> dict:
    model = _result()["models"]["xgb_classifier"]
    model["minus_empty"]["lambdapack"] = {"median_ms": 20.0, "q1_ms": 18.0, "q3_ms": 23.0}
    return {**model, **changes}


def test_lambdapacks_goals_are_judged_per_model_and_shown() -> None:
    met = boosters.goals(_judged())
    assert [(g["goal"].split(",")[0], g["measured"], g["met"]) for g in met] == [
        ("Init Duration − empty handler", "+20.0 ms (+18.0 … +23.0)", True),
        ("warm single-row Duration", "0.60 ms", True),
        ("label mismatches on the probe rows", "0", True),
        ("probabilities", "0 ulp", True),
        ("rows bit-identical", "5,000 against 4,990", True)]
    assert met[0]["target"] == "≤ +50 ms" and met[3]["target"] == "≤ 2 ulp (float32)"
    slow = _judged(paths={**_judged()["paths"], "lambdapack": {"init_ms": {"p50": 200}, "warm_duration_ms":
                                                                {"p50": 1.5}}})
    slow["minus_empty"]["lambdapack"] = {"median_ms": 150.0, "q1_ms": 140.0, "q3_ms": 160.0}
    assert [g["met"] for g in boosters.goals(slow)] == [False, False, True, True, True]
    # a tie with Treelite is not more rows (said as a tie when both are exact on every row);
    # a refusing Treelite answered none
    exact_tie = _judged(accuracy={**_judged()["accuracy"], "tl2cgen": {**_judged()["accuracy"]["lambdapack"]}})
    assert (boosters.goals(exact_tie)[-1]["met"], boosters.goals(exact_tie)[-1].get("tied")) == (False, True)
    partial = {**_judged()["accuracy"]["lambdapack"], "identical_rows": 4990}
    partial_tie = _judged(accuracy={**_judged()["accuracy"], "lambdapack": partial, "tl2cgen": partial})
    assert (boosters.goals(partial_tie)[-1]["met"], boosters.goals(partial_tie)[-1].get("tied")) == (False, None)
    alone = _judged(accuracy={k: v for k, v in _judged()["accuracy"].items() if k != "tl2cgen"},
                    contenders={**_judged()["contenders"], "tl2cgen": {"error": "RuntimeError: categorical splits"}})
    assert boosters.goals(alone)[-1]["measured"] == "5,000 against none (TL2cgen: RuntimeError)"
    refused = _judged(serving="joblib", reason="not covered",
                      accuracy={k: v for k, v in _judged()["accuracy"].items() if k != "lambdapack"})
    assert boosters.goals(refused) == [{"goal": "served by the predictor, no layer", "target": "predictor",
                                        "measured": "joblib: not covered", "met": False}]
    result = _result()
    result["models"] = {"a": {**_judged(), "goals": met}, "b": {**refused, "goals": boosters.goals(refused)}}
    result["goals"] = boosters.tally(result["models"])
    assert result["goals"] == {"met": 5, "of": 6, "tied": 0}
    text = boosters.render_markdown(result)
    assert "lambdapack's goals met: 5 of 6." in text
    assert "| XGBClassifier, 500 trees | label mismatches on the probe rows | 0 | 0 | met |" in text
    assert "| XGBClassifier, 500 trees | served by the predictor, no layer | predictor | joblib: not covered | " \
           "**missed** |" in text
    result["models"]["c"] = {**exact_tie, "goals": boosters.goals(exact_tie)}
    result["goals"] = boosters.tally(result["models"])
    text = boosters.render_markdown(result)
    assert "(1 not met by a tie: the peer also bit-identical on every row)" in text
    assert "| 5,000 against 5,000 | **not met**: tied, both bit-identical on every row |" in text
