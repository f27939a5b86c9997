"""One entry point for every lambdapack benchmark: the peer comparison plus each area's figures.

    python bench/run.py [--quick] [--json OUT] [--markdown OUT] [--plot PNG]
    python bench/run.py --from-json OUT.json --markdown results.md --plot docs/benchmarks.png

For ``scikit-learn joblib`` it builds the layer with the guide's recipe, AWS's documented
``pip install --target``, AWS SAM CLI, Chalice and lambdapack, for python3.12 x86_64 (and,
without ``--quick``, python3.11 x86_64 and python3.12 arm64), measures every zip the same
way (``bench/measure.py``), then runs ``bench/bench_<area>.py`` for the areas that have one.
Tables go to stdout as markdown; progress to stderr. Ratios only compare figures from the
same run: this machine is shared, absolute times are indicative only.
"""


from __future__ import annotations

import argparse
import datetime as dt
import importlib
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
# the bench's sibling modules, and lambdapack itself when run from a checkout
for _path in (BENCH_DIR.parent, BENCH_DIR):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

from layer_rows import RUN_ORDER, Budget, log, run_peers  # noqa: E402
from run_report import plot, render_report  # noqa: E402

from lambdapack.errors import LambdapackError  # noqa: E402
from lambdapack.targets import Target  # noqa: E402

QUICK_TARGETS = (("python3.12", "x86_64"),)
FULL_TARGETS = (("python3.12", "x86_64"), ("python3.11", "x86_64"), ("python3.12", "arm64"))
AREAS = ("layer", "handler", "emulator", "coldstart", "reliability", "zoo", "boosters")
# --quick: after SOFT the remaining tools skip their warm rebuild and cold-start runs; after
# HARD no new tool starts (a cold build plus the checks take ~2 min on a busy 2-core machine)
QUICK_SOFT_BUDGET_S = 10 * 60
QUICK_HARD_BUDGET_S = 12.5 * 60
# what --quick leaves out, and why: bench_layer's figures (zip vs the guide's way, import with/without
# pycs, warm rebuild vs pip --target) are the peer rows' layer goals, not measured twice; the model
# benches need the bench venv's libraries and compile every model (docs/benchmarks.md)
QUICK_SKIPS_AREAS = {
    "layer": "its figures are the peer rows' layer goals above; `--areas layer` or a full run measures them again",
    "zoo": "it fits and packages every model family (a quarter of an hour) in the bench venv; `--areas zoo` runs it",
    "boosters": "it converts 500-tree boosters with every peer (half an hour) in the bench venv; `--areas boosters` "
                "runs it",
}


def machine_description() -> dict[str, Any]:
    import fresh_runtime

    described = fresh_runtime.machine()
    load = os.getloadavg() if hasattr(os, "getloadavg") else (0.0, 0.0, 0.0)
    return {
        **described, "cores": described["cores"] or 0,
        "python": platform.python_version(),
        "loadavg": " / ".join(f"{x:.1f}" for x in load),
        "summary": f"{described['cores']} × {described['cpu']}, {described['memory_gb']} GB RAM, "
                   f"{platform.system()} {platform.machine()}",
    }


def run_area(name: str, quick: bool) -> dict[str, Any]:
    """``bench/bench_<name>.py``'s ``run(quick)``, or why it could not be had."""
    path = BENCH_DIR / f"bench_{name}.py"
    if not path.is_file():
        return {"unavailable": f"bench/bench_{name}.py does not exist yet"}
    start = time.perf_counter()
    try:
        module = importlib.import_module(f"bench_{name}")
        result = module.run(quick)
    except Exception as exc:  # noqa: BLE001 - one broken area must not sink the others; the error is reported
        return {"error": f"{type(exc).__name__}: {exc}"}
    if not isinstance(result, Mapping):
        return {"error": f"run() returned {type(result).__name__}, not a dict"}
    return {**result, "bench_seconds": round(time.perf_counter() - start, 1)}


def collect(args: argparse.Namespace, command: str) -> dict[str, Any]:
    budget = Budget(QUICK_SOFT_BUDGET_S, QUICK_HARD_BUDGET_S) if args.quick else Budget(None)
    result: dict[str, Any] = {
        "date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "command": command, "quick": args.quick, "machine": machine_description(),
    }
    result["areas"] = {}
    for name in AREAS if args.areas is None else [a for a in AREAS if a in args.areas]:
        if args.quick and args.areas is None and name in QUICK_SKIPS_AREAS:
            result["areas"][name] = {"skipped": f"by --quick: {QUICK_SKIPS_AREAS[name]}"}
            continue
        log(f"area {name}")
        result["areas"][name] = run_area(name, args.quick)
    from peer_tools import default_cache_root

    cache_root = Path(args.cache_dir) if args.cache_dir else default_cache_root()
    cache_root.mkdir(parents=True, exist_ok=True)
    workroot = Path(tempfile.mkdtemp(prefix="work-", dir=cache_root))
    try:
        targets = QUICK_TARGETS if args.quick else FULL_TARGETS
        if args.targets:
            targets = tuple((t.partition(":")[0], t.partition(":")[2] or "x86_64") for t in args.targets)
        rows = [] if args.tools == [] else run_peers(
            targets, args.tools, runs=args.runs or (3 if args.quick else 7), budget=budget,
            workroot=workroot, cache_root=cache_root)
    finally:
        shutil.rmtree(workroot, ignore_errors=True)
    result["rows"] = [asdict(r) for r in rows]
    result["machine"]["loadavg_end"] = machine_description()["loadavg"]
    return result


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="python3.12 x86_64 only, 3 cold starts, "
                        "a 15-minute budget")
    parser.add_argument("--json", metavar="OUT", help="write the whole result as JSON")
    parser.add_argument("--markdown", metavar="OUT", help="write the tables as markdown")
    parser.add_argument("--plot", metavar="PNG", help="write the size/cold-start plot")
    parser.add_argument("--from-json", metavar="IN", help="render a saved result instead of running")
    parser.add_argument("--tools", nargs="*", choices=RUN_ORDER, help="only these peers; no value: none")
    parser.add_argument("--targets", nargs="*", metavar="RUNTIME:ARCH", help="e.g. python3.11:x86_64")
    parser.add_argument("--areas", nargs="*", choices=AREAS, help="only these bench_<area>.py; no value: none")
    parser.add_argument("--runs", type=int, help="fresh processes per cold-start median")
    parser.add_argument("--cache-dir", help="tool virtualenvs and work files (default ~/.cache/lambdapack-bench)")
    args = parser.parse_args(argv)
    for spec in args.targets or ():
        runtime, _, arch = spec.partition(":")
        try:
            Target.for_runtime(runtime, arch or "x86_64")
        except LambdapackError as exc:
            parser.error(f"--targets {spec}: {exc.message}")
    return args


def main(argv: Sequence[str] | None = None, *, collector: Callable[..., dict[str, Any]] = collect) -> int:
    args = parse_args(argv)
    if args.from_json:
        result = json.loads(Path(args.from_json).read_text())
    else:
        command = "python bench/run.py " + " ".join(sys.argv[1:] if argv is None else argv)
        start = time.perf_counter()
        result = collector(args, command.strip())
        result["wall_seconds"] = round(time.perf_counter() - start, 1)
    report = render_report(result)
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2, default=str) + "\n")
    if args.markdown:
        Path(args.markdown).write_text(report)
    if args.plot:
        plot(result, Path(args.plot))
    sys.stdout.write(report)
    if not args.from_json:
        log(f"done in {result['wall_seconds']:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
