"""bench/run.py's tables, ratios, goals and plot on synthetic results (no peer is built here): run_report.py
renders, layer_rows.py holds the rows and the --quick budget."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from bench_support import load_bench

run = load_bench("run")
report = load_bench("run_report")
layer_rows = load_bench("layer_rows")
measure = load_bench("measure")

TARGET = "python3.12-x86_64"
VERSIONS = {"scikit-learn": "1.9.1", "numpy": "2.5.5", "scipy": "1.18.1"}


def _row(tool: str, **fields):
    base = {"tool": tool, "label": tool, "target": TARGET, "status": "ok", "versions": VERSIONS,
            "runtime_glibc": "2.34", "max_glibc": "2.27", "glibc_ok": True, "foreign_elf": 0, "imports": "ok",
            "cold_start_runs": 3}
    return layer_rows.Row(**{**base, **fields})


ROWS = [
    _row("guide", label="guide (manylinux1)", status="failed",
         error="ERROR: No matching distribution found for scikit-learn", versions={}),
    _row("guide-tags", zip_bytes=60_000_000, unzipped_bytes=200_000_000, cold_start_s=2.0, import_s=1.9,
         build_cold_s=20.0, build_warm_s=10.0),
    _row("pip-target", zip_bytes=62_000_000, unzipped_bytes=210_000_000, cold_start_s=2.1, import_s=2.0,
         build_cold_s=30.0, build_warm_s=16.0, max_glibc="2.35", glibc_ok=False),
    _row("lambdapack", zip_bytes=60_000_000, unzipped_bytes=180_000_000, cold_start_s=0.8, import_s=0.7,
         build_cold_s=10.0, build_warm_s=4.0),
    _row("lambdapack-no-compile", zip_bytes=50_000_000, unzipped_bytes=150_000_000, cold_start_s=2.0,
         import_s=1.9, build_cold_s=8.0, build_warm_s=3.0),
    _row("chalice", status="n/a", note="chalice must run under Python 3.12; none here", versions={}),
]


def test_layer_table_shows_every_row_and_flags_problems() -> None:
    table = report.layer_table(ROWS)
    lines = table.splitlines()
    assert len(lines) == 2 + len(ROWS)
    assert "| guide (manylinux1) | python3.12-x86_64 | **failed** | – |" in table
    assert "1.9.1 / 2.5.5 / 1.18.1" in table
    assert "**2.35 > 2.34**" in table  # a layer needing a newer glibc than the runtime's is called out
    assert "2.27 ≤ 2.34" in table
    assert "800 ms (n=3)" in table and "2.00 s (n=3)" in table
    assert "| 60.0 (S3) | 200.0 |" in table  # over 50 MiB zipped: upload through S3
    assert "| 50.0 | 150.0 |" in table
    over = report.layer_table([_row("pip-target", zip_bytes=82_000_000, unzipped_bytes=268_100_000)])
    assert "**268.1 > limit**" in over


def test_the_glibc_cell_compares_the_versions_it_shows() -> None:
    """The verdict is the comparison of the two versions printed, numerically, whatever a row's flag says."""
    assert report.fmt_glibc(_row("a", max_glibc="2.28", glibc_ok=False)) == "2.28 ≤ 2.34"
    assert report.fmt_glibc(_row("b", max_glibc="2.35", glibc_ok=True)) == "**2.35 > 2.34**"
    assert report.fmt_glibc(_row("c", max_glibc="2.10", runtime_glibc="2.9")) == "**2.10 > 2.9**"
    assert report.fmt_glibc(_row("d", max_glibc="2.34")) == "2.34 ≤ 2.34"
    assert report.fmt_glibc(_row("e", max_glibc=None)) == "none ≤ 2.34"
    assert report.fmt_glibc(_row("f", runtime_glibc=None)) == "2.27 (the runtime's is unknown)"
    assert report.fmt_glibc(_row("g", status="failed")) == "–"


def test_notes_carry_the_error_a_user_sees() -> None:
    notes = report.notes_list(ROWS)
    assert "`ERROR: No matching distribution found for scikit-learn`" in notes
    assert "chalice must run under Python 3.12" in notes
    assert "guide-tags" not in notes  # nothing to say about a clean row


def test_ratios_are_relative_to_lambdapack_on_the_same_target() -> None:
    other_target = _row("lambdapack", target="python3.11-x86_64", zip_bytes=1, cold_start_s=1.0)
    table = report.ratio_table([*ROWS, other_target])
    guide = next(line for line in table.splitlines() if line.startswith("| guide-tags |"))
    # 60/60 MB zip, 200/180 MB unzipped, 2.0/0.8 s cold start, 20/10 s and 10/4 s builds
    assert guide == "| guide-tags | python3.12-x86_64 | 1.00× | 1.11× | 2.50× | 2.00× | 2.50× |"
    assert "guide (manylinux1)" not in table  # a failed build has no ratio
    broken = _row("chalice", zip_bytes=900_000, imports="failed", import_failures={"sklearn": "not in the layer"})
    assert "chalice" not in report.ratio_table([*ROWS, broken])  # nor has a layer that doesn't import


def test_ratio_table_without_a_baseline_says_so() -> None:
    assert "no lambdapack row" in report.ratio_table([r for r in ROWS if not r.tool.startswith("lambdapack")])


def test_claims_check_the_layer_and_build_goals() -> None:
    verdicts = [(round(c.measured, 3), c.verdict) for c in report.claims(ROWS)]
    assert verdicts == [
        (0.5, "met"),  # cold build 10 s vs the guide's way done cold 20 s: ≤ 0.75
        (0.5, "met"),  # vs the fastest other tool whose layer imports (guide-tags, 20 s)
        (4.0, "**missed**"),  # rebuild 4 s: over 0.5 s
        (round(50 / 60, 3), "met"),  # zip vs the guide's way: 0.833 ≤ 0.85
        (round(0.7 / 1.9, 3), "met"),  # import with pycs vs without
        (0.25, "met"),  # warm rebuild 4 s vs pip's 16 s
        (round(50_000_000 / 52_428_800, 3), "met"),  # fits the direct upload
    ]
    assert "| 4.00 s | **missed** |" in report.claims_table(report.claims(ROWS))
    slow = [r if r.tool != "lambdapack" else layer_rows.Row(**{**r.__dict__, "build_warm_s": 8.0}) for r in ROWS]
    warm = next(c for c in report.claims(slow) if c.what.startswith("warm"))
    assert (warm.measured, warm.verdict) == (0.5, "**missed**")
    missing = report.claims([r for r in ROWS if r.tool != "pip-target"])
    assert next(c for c in missing if c.what.startswith("warm")).verdict == "not measured"
    # a faster peer whose layer imports makes lambdapack miss; one whose layer does not import is no rival
    rivals = [*ROWS, _row("chalice", build_cold_s=9.0), _row("sam", build_cold_s=1.0, imports="failed")]
    fastest = next(c for c in report.claims(rivals) if "fastest" in c.what)
    assert (round(fastest.measured, 3), fastest.verdict) == (round(10 / 9, 3), "**missed**")


def test_phases_are_listed_for_rows_that_report_them() -> None:
    rows = [*ROWS, _row("lambdapack", target="python3.11-x86_64", build_cold_s=9.5,
                        build_cold_phases={"resolve": 1.5, "zip": 2.25})]
    assert report.phases_list(rows) == "- lambdapack, python3.11-x86_64: resolve 1.50 s, zip 2.25 s (wall 9.50 s)"
    assert "by phase" in report.render_report({"rows": [r.__dict__ for r in rows]})


def test_area_results_of_any_shape_are_flattened() -> None:
    area = {"warm_ms": {"guide": 17.25, "lambdapack": 0.5}, "speedup": 34.5, "events": ["seed", "v2"]}
    table = report.area_table(area)
    assert "| warm_ms.guide | 17.25 |" in table
    assert "| speedup | 34.5 |" in table
    assert "| events | seed, v2 |" in table
    assert report.area_table({"unavailable": "bench/bench_x.py does not exist yet"}).startswith("not available")
    assert report.area_table({"error": "ValueError: boom"}) == "**failed**: ValueError: boom"
    assert report.area_table({"skipped": "by --quick"}) == "skipped by --quick"


def test_quick_budget_has_a_soft_and_a_hard_limit() -> None:
    unlimited, spent, soft_only = layer_rows.Budget(None), layer_rows.Budget(0, 0), layer_rows.Budget(0, 3600)
    assert not unlimited.spent() and not unlimited.exhausted()
    assert spent.spent() and spent.exhausted()
    assert soft_only.spent() and not soft_only.exhausted()


def test_main_renders_a_saved_result_to_markdown_json_and_png(tmp_path: Path, capsys) -> None:
    from dataclasses import asdict

    result = {"date": "2026-11-25T17:00:00Z", "command": "python bench/run.py --quick",
              "machine": {"summary": "2 × test CPU", "loadavg": "1.0 / 1.0 / 1.0"},
              "rows": [asdict(r) for r in ROWS], "areas": {"handler": {"speedup": 12.0}}}

    def fake_collect(args, command):
        assert args.quick and command.startswith("python bench/run.py --quick --areas --json ")
        return result

    out_json, out_md, out_png = tmp_path / "r.json", tmp_path / "r.md", tmp_path / "r.png"
    assert run.main(["--quick", "--areas", "--json", str(out_json), "--markdown", str(out_md)],
                    collector=fake_collect) == 0
    printed = capsys.readouterr().out
    assert printed == out_md.read_text()
    assert "### bench_handler" in printed and "| speedup | 12 |" in printed

    assert run.main(["--from-json", str(out_json), "--plot", str(out_png)]) == 0
    assert capsys.readouterr().out == printed  # the saved JSON renders the same report
    assert out_png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert json.loads(out_json.read_text())["rows"][0]["error"].startswith("ERROR: No matching")


def test_versions_come_from_dist_info_build_record_and_wheel_names(tmp_path: Path) -> None:
    from lambdapack.targets import Target

    target = Target.for_runtime("python3.12", "x86_64")
    site = tmp_path / target.site_packages
    (site / "pkg-1.0.dist-info").mkdir(parents=True)
    from lambdapack.layer.record import RECORD_NAME, SCHEMA

    record = {"schema": SCHEMA, "packages": [{"name": "numpy", "version": "2.5.5"}]}
    (tmp_path / RECORD_NAME).write_text(json.dumps(record))
    assert measure.site_dirs(tmp_path, target) == [site, tmp_path / "python"]
    assert measure.versions_in(tmp_path, ["scikit_learn-1.9.1-cp312-cp312-manylinux_2_27_x86_64.whl"]) == {
        "pkg": "1.0", "numpy": "2.5.5", "scikit-learn": "1.9.1"}


@pytest.mark.parametrize("machine", ["x86_64", "aarch64"])
def test_elf_scan_reads_glibc_versions_and_machine(machine: str, tmp_path: Path) -> None:
    """This interpreter's own executable (an ELF linked against glibc), labelled for each Lambda
    machine in turn: scanned for its own machine it is judged, for the other one only counted."""
    import sys

    from lambdapack.targets import ELF_MACHINES

    e_machine = next(number for number, name in ELF_MACHINES.items() if name == machine)
    data = bytearray(Path(sys.executable).resolve().read_bytes())
    data[18:20] = e_machine.to_bytes(2, "little")  # e_machine; both Lambda machines are little endian
    (tmp_path / "python").write_bytes(bytes(data))
    highest, foreign = measure.scan_elf(tmp_path, machine)
    assert highest is not None and highest.startswith("2.")
    assert foreign == 0
    other = "aarch64" if machine == "x86_64" else "x86_64"
    assert measure.scan_elf(tmp_path, other) == (None, 1)  # a foreign file is counted, not judged


def test_chalice_missing_dependencies_warning_is_reported() -> None:
    peers = load_bench("peers")
    output = ("Creating shared layer deployment package.\n\nCould not install dependencies:\nscikit-learn==1.9.1\n"
              "scipy==1.17.1\nYou will have to build these yourself and vendor them in\nthe chalice vendor folder.\n")
    assert peers._chalice_warning(output) == (
        'chalice warned "Could not install dependencies: scikit-learn==1.9.1, scipy==1.17.1" and exited 0')
    assert peers._chalice_warning("Creating app deployment package.\n") == ""
