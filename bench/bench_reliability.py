"""Reliability figures: the long soak on ``lambdapack serve``, its stops, and the hostile-archive tally.

1. **Soak.** The guide's model, trained in a real python3.12 scikit-learn layer and packaged,
   served by ``lambdapack serve --concurrency 2`` on 127.0.0.1; 100,000 seeded requests
   (``--quick``: 2,000), about a third invalid, from 8 client threads on keep-alive connections,
   new connections every 1,000 requests (``tests/reliability/loadgen.py``). Recorded: status
   counts, 5xx, failed connections, requests per second, each runtime's RSS and serve's own
   after a 300-request warm-up and every 10,000 requests (``--quick``: 1,000).
2. **Stops.** SIGINT (Ctrl-C) after the soak, then after each of 19 more soaks of 10,000
   requests (``--quick``: 1 of 500), timed from the signal to serve's exit, with the processes
   left. Every other serve is started the way a script's ``lambdapack serve &`` starts it,
   SIGINT ignored from birth.
3. **Cause, alone.** 100,000 distinct ``_X_AMZN_TRACE_ID`` values set in the layer's Python,
   through ``os.environ`` as awslambdaric does it, then through the emulator bootstrap's
   in-place rewrite: the RSS each way leaves behind.
4. **Hostile archives.** Every archive of ``tests/reliability/hostile.py`` against
   ``lambdapack.archive.safe_extract`` (zips) and the wheel installer (wheels): tried, refused.

    python bench/bench_reliability.py [--quick]                  # 1-4 as JSON (bench/run.py's area)
    python bench/bench_reliability.py --soak --json docs/bench/soak.json   # 1-3, recorded
    python bench/bench_reliability.py --soak-from docs/bench/soak.json     # render a recorded soak
    python bench/bench_reliability.py --faults-from docs/bench/deploy-faults.jsonl   # render a fault run
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
for _path in (ROOT, ROOT / "bench", ROOT / "tests" / "reliability"):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

import hostile  # noqa: E402
from loadgen import Server, mixed_requests, rss_kb, run_load, start_serve, stop_serve  # noqa: E402

from lambdapack.archive import safe_extract  # noqa: E402
from lambdapack.errors import LambdapackError  # noqa: E402

RSS_GOAL_KB = 1024  # a runtime's RSS may grow this much from the first sample past WARM_SAMPLE to the last
WARM_SAMPLE = 10_000  # requests after which the runtimes count as warm
STOP_GOAL_S = 5.0
CHUNK = 1_000  # requests per batch of new client connections


def _service(work: Path) -> tuple[Path, Path]:
    from lambdapack.function.package import package_function
    from lambdapack.layer.build import LayerOptions, build_layer
    from lambdapack.model.train import train

    layer = work / "layer-python3.12-x86_64.zip"
    build_layer(LayerOptions(runtime="python3.12", arch="x86_64", compile=False, check=False, out=layer))
    train(out=work / "model", layer=layer)
    package_function(work / "model", work / "function.zip", layer=layer)
    return work / "function.zip", layer


def _load(server: Server, requests: int, seed: int, tally: Counter[str]) -> float:
    """``requests`` seeded requests in batches of ``CHUNK`` (new connections each); seconds spent."""
    seconds = 0.0
    for start in range(0, requests, CHUNK):
        result = run_load(server.url, mixed_requests(min(CHUNK, requests - start), seed=seed + start), concurrency=8)
        seconds += result.seconds
        tally["connection_errors"] += result.connection_errors
        for status, n in result.statuses.items():
            tally[str(status)] += n
    return seconds


def _sample(server: Server, served: int) -> dict[str, Any]:
    runtimes = server.runtime_rss_kb()
    return {"requests": served, "runtimes_kb": {str(pid): kb for pid, kb in sorted(runtimes.items())},
            "serve_kb": rss_kb(server.proc.pid)}


def _stop(server: Server, sigint_ignored: bool, after: int) -> dict[str, Any]:
    stopped = stop_serve(server, signal.SIGINT)
    return {"after_requests": after, "sigint_inherited": "ignored" if sigint_ignored else "default",
            "seconds": round(stopped.seconds, 3), "exit_code": stopped.exit_code,
            "processes_left": len(stopped.survivors), "traceback": "Traceback" in stopped.stderr}


def soak(function_zip: Path, layer: Path, work: Path, requests: int, sample_every: int) -> dict[str, Any]:
    """The long soak: RSS every ``sample_every`` requests, then a timed SIGINT."""
    server = start_serve(function_zip, layer, concurrency=2, cwd=work, sigint_ignored=True)
    tally: Counter[str] = Counter()
    seconds = 0.0
    samples: list[dict[str, Any]] = []
    try:
        _load(server, 300, 1, Counter())
        samples.append(_sample(server, 0))
        for done in range(0, requests, sample_every):
            seconds += _load(server, min(sample_every, requests - done), 11 + done, tally)
            samples.append(_sample(server, min(done + sample_every, requests)))
    finally:
        stop = _stop(server, True, requests)
    statuses = {k: v for k, v in sorted(tally.items()) if k.isdigit()}
    served = sum(statuses.values())
    return {
        "requests": requests, "served": served, "statuses": statuses,
        "server_errors_5xx": sum(v for k, v in statuses.items() if int(k) >= 500),
        "connection_errors": tally["connection_errors"],
        "requests_per_second": round(served / seconds, 1) if seconds else None,
        "samples": samples, "runtimes_replaced": len({tuple(s["runtimes_kb"]) for s in samples}) > 1,
        "stop": stop,
    }


def more_stops(function_zip: Path, layer: Path, work: Path, count: int, requests: int) -> list[dict[str, Any]]:
    """``count`` more serves, each soaked with ``requests`` requests then stopped with SIGINT."""
    stops = []
    for i in range(count):
        ignored = i % 2 == 1  # the long soak's serve was started with SIGINT ignored: alternate from there
        server = start_serve(function_zip, layer, concurrency=2, cwd=work, sigint_ignored=ignored)
        try:
            _load(server, requests, 1_000_000 * (i + 1), Counter())
        finally:
            stops.append(_stop(server, ignored, requests))
    return stops


SETENV_PROBE = r'''
import importlib.util, json, os, platform, sys

def rss_kb():
    with open("/proc/self/status") as fh:
        return next(int(line.split()[1]) for line in fh if line.startswith("VmRSS:"))

def trace_ids(n):
    for i in range(n):
        noise = os.urandom(20).hex()
        yield f"Root=1-{i:08x}-{noise[:24]};Parent={noise[24:]};Sampled=0;Lineage=local"

spec = importlib.util.spec_from_file_location("bootstrap", sys.argv[1])
bootstrap = importlib.util.module_from_spec(spec)
spec.loader.exec_module(bootstrap)
count = int(sys.argv[2])
out = {"values": count, "python": platform.python_version(), "libc": " ".join(platform.libc_ver())}
for way in ("os_environ", "in_place"):
    if way == "in_place":
        os.putenv = bootstrap._TraceIdInPlace(os.putenv)
        os.environ["_X_AMZN_TRACE_ID"] = "Root=1-warm"  # its first use imports ctypes: not per value
    before = rss_kb()
    for value in trace_ids(count):
        os.environ["_X_AMZN_TRACE_ID"] = value
    out[way + "_kb"] = rss_kb() - before
print(json.dumps(out))
'''


def setenv_probe(count: int) -> dict[str, Any]:
    """The cause alone: RSS left by ``count`` distinct trace ids, through os.environ and in place."""
    from lambdapack.emulator.process import BOOTSTRAP
    from lambdapack.interpreters import require_python

    python = require_python((3, 12))
    done = subprocess.run([str(python), "-I", "-c", SETENV_PROBE, str(BOOTSTRAP), str(count)],
                          capture_output=True, text=True, check=True, timeout=300)
    return json.loads(done.stdout)


def soak_run(quick: bool) -> dict[str, Any]:
    """Soak, stops and the cause alone, as recorded in ``docs/bench/soak.json``."""
    from run import machine_description

    started = time.perf_counter()
    machine = machine_description()
    with tempfile.TemporaryDirectory(prefix="lambdapack-bench-soak-") as tmp:
        work = Path(tmp)
        function_zip, layer = _service(work)
        long = soak(function_zip, layer, work, 2_000 if quick else 100_000, 1_000 if quick else WARM_SAMPLE)
        stops = [long.pop("stop"), *more_stops(function_zip, layer, work, 1 if quick else 19,
                                               500 if quick else 10_000)]
    machine["loadavg_end"] = machine_description()["loadavg"]
    return {
        "date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "command": "python bench/bench_reliability.py --soak" + (" --quick" if quick else ""),
        "machine": machine, "soak": long, "stops": stops,
        "setenv": setenv_probe(10_000 if quick else 100_000),
        "seconds": round(time.perf_counter() - started, 1),
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
    """bench/run.py's reliability area: the hostile tally, then the soak with its stops."""
    with tempfile.TemporaryDirectory(prefix="lambdapack-bench-reliability-") as tmp:
        started = time.perf_counter()
        result: dict[str, Any] = {"hostile": hostile_tally(Path(tmp) / "hostile")}
        result["soak"] = soak_run(quick)
        result["seconds"] = round(time.perf_counter() - started, 1)
    return result


# ---------------------------------------------------------------------------- rendering


def _kb(n: int | None) -> str:
    return "-" if n is None else f"{n:,}"


def _signed_kb(n: int) -> str:
    return f"{n:+,} kB"


def _warm_growth(samples: list[dict[str, Any]]) -> tuple[int, dict[str, int]]:
    """(requests at the warm sample, each runtime's RSS growth from there to the last sample)."""
    warm = next((s for s in samples if s["requests"] >= WARM_SAMPLE), samples[0])
    last = samples[-1]
    return warm["requests"], {pid: last["runtimes_kb"][pid] - kb for pid, kb in warm["runtimes_kb"].items()
                              if pid in last["runtimes_kb"]}


def soak_report(result: dict[str, Any]) -> str:
    """A recorded soak (``--soak --json``) as markdown: the run, RSS per sample, the goals, the stops."""
    soak, stops, setenv = result["soak"], result["stops"], result["setenv"]
    pids = list(soak["samples"][0]["runtimes_kb"])
    statuses = ", ".join(f"{n:,} × {code}" for code, n in soak["statuses"].items())
    lines = [f"Run {result['date']} on {result['machine']['summary']}; `{result['command']}`; load average "
             f"{result['machine']['loadavg']} at the start, {result['machine']['loadavg_end']} at the end.", "",
             f"**{soak['served']:,} requests**: {statuses}; {soak['server_errors_5xx']} × 5xx, "
             f"{soak['connection_errors']} failed connections, {soak['requests_per_second']:,.0f} requests/s; "
             f"runtimes replaced during the soak: {'yes' if soak['runtimes_replaced'] else 'none'}.", "",
             "| requests served | " + " | ".join(f"runtime {i + 1} RSS (kB)" for i in range(len(pids)))
             + " | serve's own RSS (kB) |",
             "|---:|" + "---:|" * (len(pids) + 1)]
    for sample in soak["samples"]:
        label = "after warm-up" if sample["requests"] == 0 else f"{sample['requests']:,}"
        cells = [_kb(sample["runtimes_kb"].get(pid)) for pid in pids]
        lines.append(f"| {label} | " + " | ".join(cells) + f" | {_kb(sample['serve_kb'])} |")
    warm_at, growth = _warm_growth(soak["samples"])
    rss_met = bool(growth) and max(growth.values()) <= RSS_GOAL_KB
    durations = [s["seconds"] for s in stops]
    within = sum(1 for s in stops if s["seconds"] <= STOP_GOAL_S and s["exit_code"] == 0
                 and s["processes_left"] == 0 and not s["traceback"])
    ignored = sum(1 for s in stops if s["sigint_inherited"] == "ignored")
    lines += ["", "| goal | measured | verdict |", "|---|---|---|",
              f"| each runtime's RSS from request {warm_at:,} to {soak['samples'][-1]['requests']:,}: "
              f"at most {_signed_kb(RSS_GOAL_KB)} | "
              + ", ".join(_signed_kb(g) for g in growth.values()) + f" | {'met' if rss_met else 'missed'} |",
              f"| SIGINT after a soak: serve exits 0 within {STOP_GOAL_S:g} s, no process left | "
              f"{within} of {len(stops)} (slowest {max(durations):.2f} s, median {statistics.median(durations):.2f} s)"
              f" | {'met' if within == len(stops) else 'missed'} |",
              "", f"Stops: {len(stops)}, the first after the soak above, the others after "
              f"{stops[-1]['after_requests']:,} requests each on a fresh serve; {ignored} of them on a serve started "
              "with SIGINT ignored, as a script's `lambdapack serve &` starts it.", "",
              f"The cause alone, in CPython {setenv['python']} ({setenv['libc']}): {setenv['values']:,} distinct "
              f"`_X_AMZN_TRACE_ID` values set through `os.environ` left {setenv['os_environ_kb']:,} kB behind "
              f"({setenv['os_environ_kb'] * 1024 / setenv['values']:.0f} bytes each); through the bootstrap's "
              f"in-place rewrite, {setenv['in_place_kb']:,} kB."]
    return "\n".join(lines)


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


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="2,000-request soak, 2 stops")
    parser.add_argument("--soak", action="store_true", help="the soak, its stops and the cause alone; nothing else")
    parser.add_argument("--json", type=Path, metavar="OUT", help="also write the result as JSON")
    parser.add_argument("--soak-from", type=Path, metavar="IN", help="render a recorded soak; nothing is run")
    parser.add_argument("--faults-from", type=Path, metavar="IN", help="render a recorded deploy-fault run")
    args = parser.parse_args(argv)
    if args.faults_from:
        print(faults_table(args.faults_from))
        return 0
    if args.soak_from:
        print(soak_report(json.loads(args.soak_from.read_text(encoding="utf-8"))))
        return 0
    result = soak_run(args.quick) if args.soak else run(args.quick)
    text = json.dumps(result, indent=2)
    if args.json:
        args.json.write_text(text + "\n", encoding="utf-8")
    print(soak_report(result) if args.soak else text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
