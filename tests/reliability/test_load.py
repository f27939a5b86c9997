"""Load and soak on the local endpoint: ``lambdapack serve`` under bounded concurrent load.

CI size (a couple of minutes): a few thousand seeded requests, a third of them invalid,
at several client concurrency levels, against ``serve --concurrency 2`` on 127.0.0.1.
Checked: no 5xx at all (valid input gets 200, invalid gets a 4xx), no connection errors,
the runtimes' memory stays flat once warm, and Ctrl-C (SIGINT) leaves no process behind.
``LAMBDAPACK_SOAK_REQUESTS`` raises the soak count; the long soak (100,000 requests, RSS sampled
every 10,000, 20 timed stops) is the reliability bench's: ``bench/bench_reliability.py --soak``.
"""

from __future__ import annotations

import json
import os
import signal
from collections.abc import Callable
from pathlib import Path

import pytest
from loadgen import alive, mixed_requests, run_load, start_serve, stop_serve

pytestmark = pytest.mark.slow

# (client threads, seeded requests) at each level, then the soak's; docs/reliability.md lists them
LEVELS = ((1, 300), (4, 600), (16, 900))
SOAK_CLIENTS = 8
DEFAULT_SOAK_REQUESTS = 3000
SOAK_REQUESTS = int(os.environ.get("LAMBDAPACK_SOAK_REQUESTS", DEFAULT_SOAK_REQUESTS))
# A warm CPython runtime may still grow a little (allocator arenas, caches filling);
# a leak of even 1 kB per request would show as 10 MB over 10,000 requests.
RSS_GROWTH_LIMIT_KB = 8 * 1024
# the leaking handler that proves the bound is not vacuous: what it keeps per request, and how many
LEAK_KB, LEAK_REQUESTS = 32, 600


@pytest.fixture(scope="module")
def service(real_layer: Callable[..., Path], tmp_path_factory: pytest.TempPathFactory,
            python312: Path) -> tuple[Path, Path]:
    """(function.zip, layer.zip): the guide's model trained in a real python3.12 layer, packaged."""
    from lambdapack.function.package import package_function
    from lambdapack.model.train import train

    root = tmp_path_factory.mktemp("load")
    layer = real_layer(runtime="python3.12", arch="x86_64", compile=False)
    train(out=root / "model", layer=layer)
    package_function(root / "model", root / "function.zip", layer=layer)
    return root / "function.zip", layer


def test_serve_under_mixed_concurrent_load_then_ctrl_c(service: tuple[Path, Path], tmp_path: Path) -> None:
    function_zip, layer = service
    # started as a script's `lambdapack serve &` starts it: SIGINT ignored from birth, Ctrl-C must still stop it
    server = start_serve(function_zip, layer, concurrency=2, cwd=tmp_path, sigint_ignored=True)
    figures: dict[str, object] = {"levels": []}
    try:
        runtimes = server.runtimes()
        assert runtimes, "serve started no runtime process"
        # warm-up, then the memory baseline
        warm = run_load(server.url, mixed_requests(300, seed=1), concurrency=4)
        assert warm.server_errors == 0, warm.statuses
        baseline = server.runtime_rss_kb()

        for level, count in LEVELS:
            result = run_load(server.url, mixed_requests(count, seed=level), concurrency=level)
            assert result.connection_errors == 0, f"concurrency {level}: {result.connection_errors} failed connections"
            assert result.server_errors == 0, f"concurrency {level}: {dict(result.statuses)}"
            assert result.valid_non_200 == [], result.valid_non_200[:5]
            assert result.requests == count
            assert all(400 <= s < 500 for s in result.statuses if s != 200)
            figures["levels"].append({"concurrency": level, "requests": count, "statuses": dict(result.statuses),
                                      "seconds": round(result.seconds, 2)})

        soak = run_load(server.url, mixed_requests(SOAK_REQUESTS, seed=99), concurrency=SOAK_CLIENTS)
        assert soak.server_errors == 0 and soak.connection_errors == 0, soak.statuses
        assert soak.valid_non_200 == []
        after = server.runtime_rss_kb()
        assert set(after) == set(baseline), "a runtime was replaced during the soak (a crash?)"
        growth = {pid: after[pid] - baseline[pid] for pid in baseline}
        assert max(growth.values()) < RSS_GROWTH_LIMIT_KB, f"runtime RSS grew {growth} kB over {SOAK_REQUESTS} requests"
        figures.update(soak_requests=SOAK_REQUESTS, soak_statuses=dict(soak.statuses),
                       soak_seconds=round(soak.seconds, 2), rss_baseline_kb=baseline, rss_after_kb=after)
    finally:
        stopped = stop_serve(server, signal.SIGINT)
    assert stopped.survivors == [], f"processes left after Ctrl-C: {stopped.survivors}"
    assert all(not alive(pid) for pid in runtimes)
    assert stopped.exit_code in (0, 130), stopped.stderr[-2000:]
    assert "Traceback" not in stopped.stderr
    _record(figures)


def test_sigterm_also_leaves_no_runtime_behind(service: tuple[Path, Path], tmp_path: Path) -> None:
    function_zip, layer = service
    server = start_serve(function_zip, layer, concurrency=3, cwd=tmp_path)
    runtimes = server.runtimes()
    assert len(runtimes) >= 3
    assert run_load(server.url, mixed_requests(60, seed=5), concurrency=6).server_errors == 0
    stopped = stop_serve(server, signal.SIGTERM)
    assert stopped.survivors == [] and all(not alive(pid) for pid in runtimes), stopped.survivors
    assert stopped.exit_code == 0 and "Traceback" not in stopped.stderr


def _record(figures: dict[str, object]) -> None:
    target = os.environ.get("LAMBDAPACK_RELIABILITY_REPORT")
    if target:
        with open(target, "a", encoding="utf-8") as fh:
            fh.write(json.dumps({"kind": "load", **figures}, default=str) + "\n")


LEAKY_HANDLER = '''
import json
_kept = []

def lambda_handler(event, context):
    _kept.append(bytearray(LEAK_KB * 1024))  # kept per request: a leak
    return {"statusCode": 200, "headers": {"Content-Type": "application/json"},
            "body": json.dumps({"kept": len(_kept)})}
'''.replace("LEAK_KB", str(LEAK_KB))


def test_the_memory_check_catches_a_leaking_handler(tmp_path: Path) -> None:
    """The flat-memory assertion above is not vacuous: a handler keeping LEAK_KB per request trips it."""
    import platform
    import sys

    from lambdapack.archive import ZipEntry, write_zip

    python = f"{sys.version_info[0]}.{sys.version_info[1]}"
    arch = {"x86_64": "x86_64", "aarch64": "arm64"}.get(platform.machine(), platform.machine())
    site = f"python/lib/python{python}/site-packages"
    layer = tmp_path / "layer.zip"
    write_zip(layer, [ZipEntry(f"{site}/helper.py", b"X = 1\n"), ZipEntry("lambdapack-layer.json", json.dumps({
        "schema": "lambdapack.layer/1", "runtime": f"python{python}", "arch": arch, "python_version": python,
        "site_packages": site, "packages": []}).encode())])
    function_zip = tmp_path / "function.zip"
    write_zip(function_zip, [ZipEntry("lambda_function.py", LEAKY_HANDLER.encode())])
    server = start_serve(function_zip, layer, concurrency=1, cwd=tmp_path)
    try:
        run_load(server.url, mixed_requests(50, seed=3, invalid_share=0), concurrency=2)
        baseline = server.runtime_rss_kb()
        result = run_load(server.url, mixed_requests(LEAK_REQUESTS, seed=4, invalid_share=0), concurrency=4)
        assert result.server_errors == 0
        after = server.runtime_rss_kb()
    finally:
        stop_serve(server, signal.SIGINT)
    growth = max(after[pid] - baseline[pid] for pid in baseline)
    assert growth >= RSS_GROWTH_LIMIT_KB, f"a {LEAK_KB * LEAK_REQUESTS} kB leak grew RSS by only {growth} kB"
