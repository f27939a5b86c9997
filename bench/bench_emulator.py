"""The local emulator's cost: warm round trip over the bare handler call, and serve throughput.

1. **Warm round-trip overhead.** The same tiny handler (it returns the guide's answer) is
   timed called directly in this process, and invoked through the emulator (event in,
   payload out: Runtime API long-poll, awslambdaric in the child, response POST, the
   invoker's checks). Overhead = median emulated round trip - median bare call. Target:
   at most 1 ms. The handler's own ``Duration`` as the REPORT line states it is shown too.
2. **serve throughput.** Requests per second through the HTTP front with 1 and N warm
   runtimes, for a trivial handler (the front's own ceiling) and a handler that waits
   10 ms (what a pool of runtimes buys when the function, not the front, is the bottleneck).
   Clients keep N connections busy.

Runs with the host's own Python (no download): the runtime directory comes from the
installed awslambdaric.

    python bench/bench_emulator.py [--quick]
    python bench/bench_emulator.py --from-json docs/bench/full-run.json   # render a recorded full run's area
"""

from __future__ import annotations

import http.client
import json
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

from lambdapack.archive import ZipEntry, write_zip
from lambdapack.emulator.gateway import start_gateway
from lambdapack.emulator.session import LocalFunctionSpec, open_function
from lambdapack.targets import host_arch

HANDLER = '''
import time

def lambda_handler(event, context):
    if event.get("wait_ms"):
        time.sleep(event["wait_ms"] / 1000)
    return {"statusCode": 200, "body": "virginica"}
'''
WEB_HANDLER = '''
import time

def lambda_handler(event, context):
    if "wait" in (event.get("rawPath") or ""):
        time.sleep(0.010)
    return {"statusCode": 200, "headers": {"Content-Type": "text/plain"}, "body": "virginica"}
'''
EVENT = {"sl": 6.9, "sw": 3.1, "pl": 5.1, "pw": 2.3}


def _zips(root: Path, source: str) -> tuple[Path, Path]:
    python = "{}.{}".format(*sys.version_info[:2])
    function_zip = root / f"function-{abs(hash(source))}.zip"
    write_zip(function_zip, [ZipEntry("lambda_function.py", source.encode())])
    layer = root / "layer.zip"
    write_zip(layer, [ZipEntry("lambdapack-layer.json", json.dumps(
        {"schema": "lambdapack.layer/1", "runtime": f"python{python}", "arch": host_arch(),
         "python_version": python, "packages": []}).encode()),
        ZipEntry(f"python/lib/python{python}/site-packages/.keep", b"")])
    return function_zip, layer


def _bare_call_us(runs: int) -> float:
    namespace: dict[str, object] = {}
    exec(compile(HANDLER, "lambda_function.py", "exec"), namespace)
    handler = namespace["lambda_handler"]
    samples = []
    for _ in range(runs):
        # the emulator's round trip includes decoding the event and encoding the answer: so does this
        started = time.perf_counter()
        json.dumps(handler(json.loads(json.dumps(EVENT)), None))  # type: ignore[operator]
        samples.append(time.perf_counter() - started)
    return statistics.median(samples) * 1e6


def round_trip(root: Path, runs: int) -> dict[str, float]:
    function_zip, layer = _zips(root, HANDLER)
    event = json.dumps(EVENT).encode()
    with open_function(LocalFunctionSpec(function_zip, (layer,)), log_sink=lambda _b: None) as function:
        cold = function.invoke(event)
        for _ in range(20):
            function.invoke(event)
        results = [function.invoke(event) for _ in range(runs)]
    bare_us = _bare_call_us(runs)
    trip_ms = statistics.median(r.round_trip_ms for r in results)
    return {
        "runs": runs,
        "bare_handler_call_us": round(bare_us, 1),
        "emulated_round_trip_ms": round(trip_ms, 3),
        "emulated_round_trip_p90_ms": round(statistics.quantiles([r.round_trip_ms for r in results], n=10)[-1], 3),
        "report_duration_ms": round(statistics.median(r.duration_ms for r in results), 3),
        "overhead_ms": round(trip_ms - bare_us / 1000, 3),
        "target_overhead_ms": 1.0,
        "cold_start_ms": round(cold.round_trip_ms, 1),
    }


def _hammer(url: str, path: str, connections: int, seconds: float) -> float:
    host, port = url.removeprefix("http://").split(":")
    counts = [0] * connections
    stop = time.perf_counter() + seconds

    def client(i: int) -> None:
        conn = http.client.HTTPConnection(host, int(port), timeout=30)
        while time.perf_counter() < stop:
            conn.request("POST", path, body=b'{"sl":6.9,"sw":3.1,"pl":5.1,"pw":2.3}',
                         headers={"Content-Type": "application/json"})
            response = conn.getresponse()
            response.read()
            if response.status == 200:
                counts[i] += 1
        conn.close()

    threads = [threading.Thread(target=client, args=(i,)) for i in range(connections)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sum(counts) / (time.perf_counter() - started)


def throughput(root: Path, pool_sizes: tuple[int, ...], seconds: float) -> dict[str, dict[str, float]]:
    function_zip, layer = _zips(root, WEB_HANDLER)
    out: dict[str, dict[str, float]] = {}
    for size in pool_sizes:
        with start_gateway(LocalFunctionSpec(function_zip, (layer,)), port=0, concurrency=size,
                           log_sink=lambda _b: None) as (_, info):
            _hammer(info.url, "/predict", size, 0.3)  # first request per runtime carries its init
            out[f"runtimes_{size}"] = {
                "trivial_rps": round(_hammer(info.url, "/predict", size, seconds), 1),
                "wait_10ms_rps": round(_hammer(info.url, "/wait", size, seconds), 1),
            }
    return out


def run(quick: bool) -> dict:
    with tempfile.TemporaryDirectory(prefix="bench-emulator-") as tmp:
        root = Path(tmp)
        trip = round_trip(root, runs=200 if quick else 2000)
        pools = throughput(root, (1, 4), seconds=1.0 if quick else 4.0)
    return {"round_trip": trip, "serve_throughput": pools,
            "python": "{}.{}.{}".format(*sys.version_info[:3]), "quick": quick}


def report(full_run: dict) -> str:
    """The emulator area of a recorded ``bench/run.py`` result (its ``areas.emulator``) as markdown."""
    area, machine = full_run["areas"]["emulator"], full_run["machine"]
    trip, pools = area["round_trip"], area["serve_throughput"]
    one, four = pools["runtimes_1"], pools["runtimes_4"]
    met = "met" if trip["overhead_ms"] <= trip["target_overhead_ms"] else "missed"
    return "\n".join([
        f"Run {full_run['date']} on {machine['summary']}, Python {area['python']}; load average "
        f"{machine['loadavg']} at the start of the whole run.",
        "",
        "| figure | median |",
        "|---|---|",
        f"| bare handler call (decode event, call, encode answer) | {trip['bare_handler_call_us']:g} µs |",
        f"| warm round trip through the emulator ({trip['runs']} invokes) | {trip['emulated_round_trip_ms']:g} ms "
        f"(p90 {trip['emulated_round_trip_p90_ms']:g} ms) |",
        f"| **emulator overhead** (target ≤ {trip['target_overhead_ms']:g} ms: {met}) | "
        f"**{trip['overhead_ms']:g} ms** |",
        f"| the handler's `Duration` as REPORT states it | {trip['report_duration_ms']:g} ms |",
        f"| `serve`, trivial handler: 1 runtime / 4 runtimes | {one['trivial_rps']:.0f} / {four['trivial_rps']:.0f} "
        "requests/s |",
        f"| `serve`, handler waiting 10 ms: 1 runtime / 4 runtimes | {one['wait_10ms_rps']:.0f} / "
        f"{four['wait_10ms_rps']:.0f} requests/s ({four['wait_10ms_rps'] / one['wait_10ms_rps']:.1f}×) |",
    ])


if __name__ == "__main__":
    if "--from-json" in sys.argv:
        print(report(json.loads(Path(sys.argv[sys.argv.index("--from-json") + 1]).read_text(encoding="utf-8"))))
    else:
        print(json.dumps(run(quick="--quick" in sys.argv), indent=2))
