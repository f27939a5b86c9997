"""Figures the docs quote in their prose and hand-made tables, checked against the committed runs.

Most benchmark figures sit in generated sections (test_generated_sections.py). These are the ones
written into a sentence or a table shaped for its page: each is recomputed here from the recorded
JSON and must appear in the page exactly as it is printed there, so a new run or an edited page
that disagree fail the suite.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _json(name: str) -> dict:
    return json.loads((ROOT / "docs" / "bench" / name).read_text(encoding="utf-8"))


def _build_layer_quotes() -> list[str]:
    area = _json("full-run.json")["areas"]["layer"]
    quotes = []
    for target in ("python3.12-x86_64", "python3.11-x86_64", "python3.12-arm64"):
        t = area["targets"][target]
        versions = t["versions"]
        quotes.append(f"| {target.replace('-', ' ')} (sklearn {versions['scikit-learn']}, numpy {versions['numpy']}, "
                      f"scipy {versions['scipy']}) | {t['guide_zip']:,} / {t['guide_unzipped']:,} | "
                      f"{t['no_compile_zip']:,} / {t['no_compile_unzipped']:,} | {t['zip_no_compile_vs_guide']:.3f} | "
                      f"{t['default_zip']:,} / {t['default_unzipped']:,} |")
    imp, rebuild, goals = area["import"], area["warm_rebuild"], area["goals"]
    quotes += [
        f"median of {imp['runs']} fresh `-I -S -B` processes: with pyc vs without | {imp['with_pyc_s']:.2f} s | "
        f"{imp['without_pyc_s']:.2f} s | {imp['import_with_pyc_vs_without']:.3f} | "
        f"≤ {goals['import_with_pyc_vs_without']:g} |",
        f"| {rebuild['lambdapack_s']:.2f} s | {rebuild['pip_target_s']:.2f} s | "
        f"{rebuild['warm_rebuild_vs_pip_target']:.3f} | ≤ {goals['warm_rebuild_vs_pip_target']:g} |",
        f"| {rebuild['lambdapack_no_layer_cache_s']:.2f} s | {rebuild['pip_target_s']:.2f} s | "
        f"{rebuild['no_layer_cache_vs_pip_target']:.3f} | |",
        f"ratio zipped (goal ≤ {goals['zip_no_compile_vs_guide']:g})",
    ]
    deflate = _json("layer-area.json")["areas"]["layer"]["zip"]
    quotes += [f"{deflate['reused_fraction'] * 100:.1f}% of the unzipped bytes",
               f"libdeflate, {1 / deflate['libdeflate_vs_zlib_time']:.1f}×",
               f"zlib's speed at {deflate['libdeflate_vs_zlib_size']:.3f}× its size"]
    return quotes


def _lightgbm_quotes() -> list[tuple[str, str]]:
    run = _json("lightgbm.json")
    exact, speed = run["exactness"], run["speed"]
    assert exact["label_mismatches"] == 0 and exact["max_ulps"] == 0  # what "bit-identical" in the prose says
    return [("docs/function.md", f"answers a warm row in {speed['warm_median_ms']:.2f} ms"),
            ("docs/function.md", f"bit-identical to LightGBM on {exact['rows']:,} rows"),
            ("docs/benchmarks.md", f"reads its {run['model']['predictor_bytes'] / 1e6:.1f} MB of tables at init in "
                                   f"about {speed['init_ms']:.0f} ms")]


QUOTES = [("docs/build-layer.md", quote) for quote in _build_layer_quotes()] + _lightgbm_quotes()


@pytest.mark.parametrize(("page", "quote"), QUOTES, ids=[f"{p}:{q[:40]}" for p, q in QUOTES])
def test_the_page_quotes_the_recorded_run(page: str, quote: str) -> None:
    text = " ".join((ROOT / page).read_text(encoding="utf-8").split())  # a quote may wrap across lines
    assert " ".join(quote.split()) in text, f"{page} does not show {quote!r}, which is what the recorded run says"
