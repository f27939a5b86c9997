"""Bounded load on a local ``lambdapack serve`` (127.0.0.1 only), and process bookkeeping via /proc.

Used by ``test_load.py`` (the CI-sized run) and ``bench/bench_reliability.py`` (the soak run
whose figures go to docs/reliability.md). Requests are a seeded mix of valid predictions
(POST JSON, GET query string, batches) and invalid bodies (malformed JSON, missing and
unknown features, NaN, strings, oversize batches, base64 garbage); each is sent on a
persistent connection per client thread.
"""

from __future__ import annotations

import http.client
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections import Counter, deque
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

GUIDE = {"sl": 6.9, "sw": 3.1, "pl": 5.1, "pw": 2.3}


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    body: bytes | None
    valid: bool
    kind: str


def _features(rng: random.Random) -> dict[str, float]:
    return {k: round(rng.uniform(0.1, 8.0), 2) for k in ("sl", "sw", "pl", "pw")}


def mixed_requests(count: int, seed: int = 7, invalid_share: float = 0.3) -> list[Request]:
    rng = random.Random(seed)
    out: list[Request] = []
    for _ in range(count):
        if rng.random() >= invalid_share:
            choice = rng.randrange(4)
            if choice == 0:
                out.append(Request("POST", "/predict", json.dumps(_features(rng)).encode(), True, "post-json"))
            elif choice == 1:
                q = "&".join(f"{k}={v}" for k, v in _features(rng).items())
                out.append(Request("GET", f"/predict?{q}", None, True, "get-query"))
            elif choice == 2:
                rows = [list(_features(rng).values()) for _ in range(rng.randint(2, 20))]
                out.append(Request("POST", "/predict", json.dumps({"instances": rows}).encode(), True, "batch"))
            else:
                out.append(Request("GET", "/health", None, True, "health"))
            continue
        bad = rng.randrange(9)
        bodies: list[tuple[bytes | None, str]] = [
            (b'{"sl": 6.9, "sw": 3.1,', "truncated-json"),
            (json.dumps({"sl": 6.9, "sw": 3.1, "pl": 5.1}).encode(), "missing-feature"),
            (json.dumps({**GUIDE, "zz": 1}).encode(), "unknown-feature"),
            (b'{"sl": NaN, "sw": 3.1, "pl": 5.1, "pw": 2.3}', "nan"),
            (json.dumps({**GUIDE, "sl": "six"}).encode(), "string-value"),
            (json.dumps({"instances": [[1, 2, 3, 4]] * 1500}).encode(), "oversize-batch"),
            (b"\xff\xfe\x00garbage", "binary"),
            (b"", "empty"),
            (json.dumps({"instances": [[1, 2, 3]]}).encode(), "wrong-length"),
        ]
        body, kind = bodies[bad]
        out.append(Request("POST", "/predict", body, False, kind))
    return out


@dataclass
class LoadResult:
    requests: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    valid_non_200: list[str] = field(default_factory=list)
    invalid_5xx: list[str] = field(default_factory=list)
    connection_errors: int = 0
    seconds: float = 0.0

    @property
    def server_errors(self) -> int:
        return sum(n for status, n in self.statuses.items() if status >= 500)


def run_load(url: str, requests: list[Request], concurrency: int, timeout: float = 60) -> LoadResult:
    host, port = url.removeprefix("http://").rstrip("/").split(":")
    assert host == "127.0.0.1", "load only ever goes to loopback"
    result = LoadResult()
    lock = threading.Lock()
    local = threading.local()

    def connection() -> http.client.HTTPConnection:
        if getattr(local, "conn", None) is None:
            local.conn = http.client.HTTPConnection(host, int(port), timeout=timeout)
        return local.conn

    def send(req: Request) -> None:
        for attempt in range(2):
            conn = connection()
            try:
                headers = {"Content-Type": "application/json"} if req.body is not None else {}
                conn.request(req.method, req.path, body=req.body, headers=headers)
                response = conn.getresponse()
                response.read()
                status = response.status
                break
            except (ConnectionError, http.client.HTTPException, OSError):
                conn.close()
                local.conn = None
                if attempt == 1:
                    with lock:
                        result.connection_errors += 1
                    return
        with lock:
            result.requests += 1
            result.statuses[status] += 1
            if req.valid and status != 200:
                result.valid_non_200.append(f"{req.kind} {req.method} {req.path[:60]} -> {status}")
            if not req.valid and status >= 500:
                result.invalid_5xx.append(f"{req.kind} -> {status}")

    start = time.monotonic()
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        list(pool.map(send, requests))
    result.seconds = time.monotonic() - start
    return result


# ---------------------------------------------------------------------------- processes


def children_of(pid: int) -> list[int]:
    """Every live descendant of ``pid`` (from /proc, Linux)."""
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="utf-8") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
            parents[int(entry)] = int(fields[1])
        except (OSError, IndexError, ValueError):
            continue
    out: list[int] = []
    frontier = [pid]
    while frontier:
        current = frontier.pop()
        kids = [p for p, parent in parents.items() if parent == current]
        out += kids
        frontier += kids
    return out


def rss_kb(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/status", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def alive(pid: int) -> bool:
    """Running, not a zombie waiting to be reaped."""
    try:
        with open(f"/proc/{pid}/stat", encoding="utf-8") as fh:
            state = fh.read().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@dataclass
class Server:
    proc: subprocess.Popen[str]
    url: str
    info: dict[str, object]
    # serve logs a line per request on stderr: drained by a thread, or the pipe fills and serve blocks
    stderr_tail: deque[str] = field(default_factory=lambda: deque(maxlen=200))
    readers: list[threading.Thread] = field(default_factory=list)

    def drain(self) -> None:
        def pump(stream: object, keep: bool) -> None:
            for line in stream:  # type: ignore[attr-defined]
                if keep:
                    self.stderr_tail.append(line)

        for stream, keep in ((self.proc.stdout, False), (self.proc.stderr, True)):
            thread = threading.Thread(target=pump, args=(stream, keep), daemon=True)
            thread.start()
            self.readers.append(thread)

    def runtimes(self) -> list[int]:
        """The emulated runtimes: descendants running the function (python processes)."""
        return [p for p in children_of(self.proc.pid) if alive(p)]

    def runtime_rss_kb(self) -> dict[int, int]:
        return {p: kb for p in self.runtimes() if (kb := rss_kb(p)) is not None}


def _sigint_ignored() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _sigint_default() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def start_serve(function_zip: Path, layer: Path, concurrency: int, cwd: Path,
                env: dict[str, str] | None = None, timeout: float = 300, sigint_ignored: bool = False) -> Server:
    """``lambdapack serve --json`` as a child, once it is ready. ``sigint_ignored``: started the way a
    script's background job (``lambdapack serve &``) starts it, with SIGINT ignored from birth;
    otherwise with SIGINT at its default, as from a terminal, whatever this process inherited."""
    cmd = [sys.executable, "-m", "lambdapack", "serve", "--port", "0", "--concurrency", str(concurrency),
           "--function", str(function_zip), "--layer", str(layer), "--json"]
    proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=_sigint_ignored if sigint_ignored else _sigint_default)
    assert proc.stdout is not None
    lines: list[str] = []
    deadline = time.monotonic() + timeout
    # --json prints one document once the server is ready
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            err = proc.stderr.read() if proc.stderr else ""
            raise RuntimeError(f"serve exited before it was ready: {err[-2000:]}")
        lines.append(line)
        try:
            info = json.loads("".join(lines))
        except ValueError:
            continue
        server = Server(proc, str(info["url"]), info)
        server.drain()
        return server
    proc.kill()
    raise TimeoutError("serve did not become ready")


class Stopped(NamedTuple):
    exit_code: int
    stderr: str
    survivors: list[int]  # descendants still alive after serve exited
    seconds: float  # from the signal to serve's exit (the harness's timeout when it had to kill it)


def stop_serve(server: Server, sig: int = signal.SIGINT, timeout: float = 60) -> Stopped:
    """Send ``sig`` (Ctrl-C by default) and wait for serve to exit; SIGKILL after ``timeout`` seconds."""
    before = children_of(server.proc.pid)
    sent = time.monotonic()
    server.proc.send_signal(sig)
    try:
        server.proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        server.proc.kill()
        server.proc.wait()
    seconds = time.monotonic() - sent
    for reader in server.readers:
        reader.join(timeout=10)
    time.sleep(0.2)
    return Stopped(server.proc.returncode, "".join(server.stderr_tail), [p for p in before if alive(p)], seconds)


def iterate_chunks(items: list[Request], size: int) -> Iterator[list[Request]]:
    for i in range(0, len(items), size):
        yield items[i:i + size]
