"""Reliability figures: the soak on ``lambdapack serve`` and the hostile-archive tally.

1. **Soak.** The guide's model, trained in a real python3.12 scikit-learn layer and packaged,
   served by ``lambdapack serve --concurrency 2`` on 127.0.0.1; 10,000 seeded requests
   (``--quick``: 1,000), about a third invalid, from 8 client threads on keep-alive
   connections (``tests/reliability/loadgen.py``). Reported: status counts, 5xx count,
   failed connections, requests per second, each runtime's RSS after a 300-request warm-up
   and after every 1,000 requests, then Ctrl-C (SIGINT) and the processes left.
2. **Hostile archives.** Every archive of ``tests/reliability/hostile.py`` against
   ``lambdapack.archive.safe_extract`` (zips) and the wheel installer (wheels): tried, refused.

    python bench/bench_reliability.py [--quick]
    python bench/bench_reliability.py --faults-from docs/bench/deploy-faults.jsonl   # render a recorded fault run
"""

from __future__ import annotations

import json
import signal
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
for _path in (ROOT, ROOT / "tests" / "reliability"):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

import hostile  # noqa: E402
from loadgen import mixed_requests, run_load, start_serve, stop_serve  # noqa: E402

from lambdapack.archive import safe_extract  # noqa: E402
from lambdapack.errors import LambdapackError  # noqa: E402


def _service(work: Path) -> tuple[Path, Path]:
    from lambdapack.function.package import package_function
    from lambdapack.layer.build import LayerOptions, build_layer
    from lambdapack.model.train import train

    layer = work / "layer-python3.12-x86_64.zip"
    build_layer(LayerOptions(runtime="python3.12", arch="x86_64", compile=False, check=False, out=layer))
    train(out=work / "model", layer=layer)
    package_function(work / "model", work / "function.zip", layer=layer)
    return work / "function.zip", layer


def soak(requests: int, work: Path) -> dict[str, Any]:
    function_zip, layer = _service(work)
    server = start_serve(function_zip, layer, concurrency=2, cwd=work)
    samples: list[dict[str, int]] = []
    totals: dict[int, int] = {}
    errors = 0
    seconds = 0.0
    try:
        run_load(server.url, mixed_requests(300, seed=1), concurrency=8)
        samples.append({str(k): v for k, v in server.runtime_rss_kb().items()})
        chunk = 1000
        for start in range(0, requests, chunk):
            result = run_load(server.url, mixed_requests(min(chunk, requests - start), seed=start + 11),
                              concurrency=8)
            seconds += result.seconds
            errors += result.connection_errors
            for status, n in result.statuses.items():
                totals[status] = totals.get(status, 0) + n
            samples.append({str(k): v for k, v in server.runtime_rss_kb().items()})
    finally:
        code, _stderr, survivors = stop_serve(server, signal.SIGINT)
    served = sum(totals.values())
    first, last = samples[0], samples[-1]
    return {
        "requests": requests,
        "served": served,
        "statuses": {str(k): v for k, v in sorted(totals.items())},
        "server_errors_5xx": sum(v for k, v in totals.items() if k >= 500),
        "connection_errors": errors,
        "requests_per_second": round(served / seconds, 1) if seconds else None,
        "rss_kb_samples": samples,
        "rss_growth_kb": {pid: last.get(pid, 0) - kb for pid, kb in first.items()},
        "sigint_exit_code": code,
        "processes_left_after_sigint": len(survivors),
    }


def hostile_tally(work: Path) -> dict[str, Any]:
    from lambdapack.wheels.install import install_wheels

    tried = refused = 0
    names: list[str] = []
    for case in hostile.cases():
        if "layer" in case.kinds:
            tried += 1
            try:
                safe_extract(hostile.build_case(case, work / "zips"), work / "out" / case.name)
            except LambdapackError:
                refused += 1
            else:
                names.append(case.name)
        if "wheel" in case.kinds:
            tried += 1
            try:
                install_wheels([hostile.as_wheel(case, work / "wheels")], work / "site" / case.name)
            except LambdapackError:
                refused += 1
            else:
                names.append(f"{case.name} (wheel)")
    return {"cases": len(hostile.cases()), "tried": tried, "refused": refused, "accepted": names}


def run(quick: bool) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="lambdapack-bench-reliability-") as tmp:
        work = Path(tmp)
        started = time.perf_counter()
        result: dict[str, Any] = {"hostile": hostile_tally(work / "hostile")}
        result["soak"] = soak(1000 if quick else 10_000, work / "soak")
        result["seconds"] = round(time.perf_counter() - started, 1)
    return result


def faults_table(jsonl: Path) -> str:
    """The deploy-fault run recorded by ``tests/reliability/test_deploy_faults.py``
    (``LAMBDAPACK_RELIABILITY_REPORT=FILE``) as a markdown table: faults and convergences per front and phase."""
    trials = [t for t in map(json.loads, jsonl.read_text(encoding="utf-8").splitlines()) if t.get("kind") == "fault"]
    keys = list(dict.fromkeys((t["api"], t["phase"]) for t in trials))

    def count(rows: list[dict[str, Any]], mode: str, converged: bool | None = None) -> int:
        return sum(1 for t in rows if t["mode"] == mode and (converged is None or t["converged"] == converged))

    lines = ["| front | phase | writes failed (refused) | converged | writes failed (answer lost) | converged |",
             "|---|---|---:|---:|---:|---:|"]
    for api, phase in keys:
        rows = [t for t in trials if (t["api"], t["phase"]) == (api, phase)]
        lines.append(f"| {api} | {phase} | {count(rows, 'refused')} | {count(rows, 'refused', True)} | "
                     f"{count(rows, 'lost')} | {count(rows, 'lost', True)} |")
    lines.append(f"| **all** | | **{count(trials, 'refused')}** | **{count(trials, 'refused', True)}** | "
                 f"**{count(trials, 'lost')}** | **{count(trials, 'lost', True)}** |")
    operations = {t["call"] for t in trials if t["call"]}
    converged = sum(1 for t in trials if t["converged"])
    return (f"{len(trials)} faults injected over {len(operations)} distinct AWS operations, {converged} converged.\n\n"
            + "\n".join(lines))


if __name__ == "__main__":
    if "--faults-from" in sys.argv:
        print(faults_table(Path(sys.argv[sys.argv.index("--faults-from") + 1])))
    else:
        print(json.dumps(run("--quick" in sys.argv), indent=2))
