"""docs/reliability.md's hand-made tables against what the suite runs: counts of hostile cases per
reader, the hostile archives' own figures, and the load test's levels and bounds.

The page's run figures are generated sections (the soak, the deploy faults); these are the suite's
own parameters and case counts, checked here so a case added to the suite, or a level changed in
the load test, fails until the page says so.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import hostile
import test_hostile_archives as archives
import test_hostile_commands as commands
import test_hostile_wheels as wheels
import test_load as load

PAGE = Path(__file__).resolve().parents[2] / "docs" / "reliability.md"
MIB = 1024 * 1024


def _page() -> str:
    return " ".join(PAGE.read_text(encoding="utf-8").split())  # a quote may wrap across lines


def _row(label: str, tried: int) -> str:
    return f"| {label} | {tried} | {tried} | 0 |"


def test_the_reader_table_counts_the_cases_each_reader_is_given() -> None:
    zips = len(archives.ZIP_CASES)
    listing_only = zips - len(archives.NEEDS_EXTRACTION)
    assert commands.EXTRACTION_ONLY == archives.NEEDS_EXTRACTION and len(commands.ZIP_CASES) == zips
    rows = {
        "`archive.safe_extract` (every unzip in lambdapack)": zips,
        "`archive.validate_members` alone (list, don't extract)": listing_only,
        f"wheel installer (`lambdapack.wheels.install`, {zips} zips as wheels + "
        f"{len(wheels.WHEEL_CASES) - zips} wheel cases)": len(wheels.WHEEL_CASES),
        "`check-layer` (archive check fails, nothing unpacked)": zips,
        "`package --layer` (exit 1, `error:` + `hint:`, no zip written)": zips,
        "emulator: layers into `/opt`, function into the task root": 2 * zips,
        "`deploy` pre-flight, layer and function (before any AWS call)": 2 * listing_only,
    }
    page = _page()
    for label, tried in rows.items():
        assert _row(label, tried) in page, label
    total = sum(rows.values())
    assert f"| **total** | **{total}** | **{total}** | **0** |" in page
    assert f"the {len(archives.NEEDS_EXTRACTION)} cases only an extraction can see" in page


def test_the_bomb_cases_are_described_by_their_own_figures(hostile_dir: Path) -> None:
    figures = {}
    for case in hostile.cases():
        if case.name.startswith("bomb-") and case.name != "bomb-lying-size":
            path = hostile_dir / f"{case.name}.zip"
            with zipfile.ZipFile(path) as archive:
                infos = archive.infolist()
            unpacked = sum(i.file_size for i in infos)
            figures[case.name] = (len(infos), unpacked, unpacked // sum(i.compress_size for i in infos),
                                  path.stat().st_size)
    page = _page()
    members, unpacked, ratio, _ = figures["bomb-ratio"]
    assert members == 1 and f"one member, {unpacked // MIB} MiB of zeros, {ratio}:1" in page
    members, unpacked, _, size = figures["bomb-total"]
    assert f"{members:,} members of just under 1 MiB" in page
    assert f"{unpacked / 1024 ** 3:.1f} GiB from {size / 1e6:.1f} MB" in page
    members, _, ratio, _ = figures["bomb-overall-ratio"]
    assert f"{members} such members: under the 1 GiB cap, {ratio}:1 overall" in page


def test_the_load_tables_are_the_load_tests_parameters() -> None:
    page = _page()
    for clients, requests in load.LEVELS:
        assert f"| {clients} | {requests:,} |" in page
    assert f"| {load.SOAK_CLIENTS} (soak) | {load.DEFAULT_SOAK_REQUESTS:,} |" in page
    assert (f"less than {load.RSS_GROWTH_LIMIT_KB // 1024} MB over the "
            f"{load.DEFAULT_SOAK_REQUESTS:,}-request soak") in page
    assert f"a handler keeping {load.LEAK_KB} kB per request trips it within {load.LEAK_REQUESTS} requests" in page
