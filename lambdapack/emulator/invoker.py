"""Lambda's invoke semantics on top of a sandbox: init, warm reuse, timeout, memory, reports.

:class:`LocalFunction` keeps one warm sandbox. The first invoke starts the runtime and
waits for its init (``Init Duration``); later invokes reuse it. A timeout, a memory
overrun or a runtime that exits kills the sandbox, and the next invoke starts a fresh one,
like Lambda. Each invoke writes ``START`` / ``END`` / ``REPORT`` lines around the
function's own output, and returns an :class:`InvokeResult` whose payload is exactly what
Lambda's Invoke API would return, error payloads included.
"""

from __future__ import annotations

import json
import math
import re
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from lambdapack.emulator.process import InitOutcome, RunOutcome, Sandbox, SandboxConfig
from lambdapack.emulator.runtime_api import MAX_PAYLOAD, Invocation

# Lambda's on-demand init phase limit; past it Lambda retries init within the invoke's own
# timeout, so the emulator lets init run for this plus the function timeout.
INIT_LIMIT_S = 10.0
MIB = 1024 * 1024

LogSink = Callable[[bytes], None]
_LONE_CR = re.compile(rb"\r(?!\n)")
# how Lambda (Go's os/exec) names the signal that ended a runtime
_SIGNAL_WORDS = {signal.SIGKILL: "killed", signal.SIGSEGV: "segmentation fault", signal.SIGABRT: "aborted",
                 signal.SIGTERM: "terminated", signal.SIGBUS: "bus error", signal.SIGILL: "illegal instruction",
                 signal.SIGFPE: "floating point exception"}


def stderr_sink(data: bytes) -> None:
    # awslambdaric ends the lines of a multi-line error with \r so CloudWatch keeps them as
    # one event; on a terminal they would overwrite each other
    sys.stderr.buffer.write(_LONE_CR.sub(b"\n", data))
    sys.stderr.buffer.flush()


@dataclass(frozen=True)
class InvokeResult:
    """One invocation, as Lambda would report it."""

    request_id: str
    payload: Any
    status: str  # success | error | timeout | oom | exited | init-error
    function_error: str | None  # "Unhandled" when the payload is an error, like X-Amz-Function-Error
    error_type: str | None
    cold: bool
    init_ms: float | None
    duration_ms: float
    billed_ms: int
    memory_mb: int
    max_memory_mb: int
    round_trip_ms: float  # as seen by the caller: event in, payload out
    pid: int
    _raw: bytes = field(default=b"", repr=False, compare=False)

    @property
    def ok(self) -> bool:
        return self.function_error is None

    @property
    def payload_text(self) -> str:
        """The payload as one JSON document (``json.dumps`` spacing), or the raw text if not JSON."""
        if isinstance(self.payload, _RawPayload):
            return self.payload.text
        return json.dumps(self.payload)


class _RawPayload(str):
    """A non-JSON payload (a handler that returned bytes)."""

    @property
    def text(self) -> str:
        return str(self)


@dataclass(frozen=True)
class _Verdict:
    status: str
    error_type: str | None
    payload: Any


def _error_payload(request_id: str, error_type: str, message: str) -> dict[str, str]:
    # the shape Lambda gives errors the runtime itself cannot report
    return {"errorType": error_type, "errorMessage": f"RequestId: {request_id} Error: {message}"}


def _exit_message(returncode: int | None) -> str:
    if returncode is not None and returncode < 0:
        try:
            sig = signal.Signals(-returncode)
        except ValueError:
            return f"Runtime exited with error: signal: {-returncode}"
        return f"Runtime exited with error: signal: {_SIGNAL_WORDS.get(sig, sig.name.lower())}"
    return f"Runtime exited with error: exit status {returncode}"


def _decode(body: bytes) -> Any:
    try:
        return json.loads(body)
    except ValueError:
        return _RawPayload(body.decode("utf-8", "replace"))


class LocalFunction:
    """A function running in the local emulator: one warm sandbox, Lambda's invoke semantics."""

    def __init__(self, config: SandboxConfig, log_sink: LogSink | None = None) -> None:
        self.config = config
        self._sink = log_sink or stderr_sink
        self._sandbox: Sandbox | None = None
        self._closed = False
        self._prewarmed_init_ms: float | None = None

    @property
    def pid(self) -> int | None:
        return self._sandbox.pid if self._sandbox and self._sandbox.alive else None

    def _log(self, line: str) -> None:
        self._sink((line + "\n").encode())

    def _discard_sandbox(self) -> None:
        if self._sandbox is not None:
            self._sandbox.close()
            self._sandbox = None

    def _start(self) -> tuple[Sandbox, InitOutcome]:
        self._discard_sandbox()
        sandbox = Sandbox(self.config, self._sink)
        self._sandbox = sandbox
        self._log(f"INIT_START Runtime Version: {self.config.runtime.replace('python', 'python:')}.local\t"
                  f"Runtime Version ARN: local")
        outcome = sandbox.wait_ready(INIT_LIMIT_S + self.config.timeout_s)
        sandbox.drain_logs()
        return sandbox, outcome

    def warm(self) -> InitOutcome | None:
        """Start the runtime now (``serve`` keeps a pool warm); None if it is already running."""
        if self._sandbox is not None and self._sandbox.alive:
            return None
        _, outcome = self._start()
        if outcome.status != "ready":
            self._discard_sandbox()
        else:
            self._prewarmed_init_ms = outcome.init_ms
        return outcome

    def invoke(self, event: bytes, *, client_context: str | None = None,
               cognito_identity: str | None = None) -> InvokeResult:
        if self._closed:
            raise RuntimeError("invoke on a closed LocalFunction")
        started = time.perf_counter()
        config = self.config
        cold = False
        init: InitOutcome | None = None
        sandbox = self._sandbox
        if sandbox is None or not sandbox.alive:
            sandbox, init = self._start()
            cold = True
        elif self._prewarmed_init_ms is not None:
            # the first invoke on a pre-warmed runtime still reports its init, as Lambda does
            init = InitOutcome("ready", self._prewarmed_init_ms)
            cold = True
        self._prewarmed_init_ms = None
        invocation = Invocation(payload=event, deadline_ms=int(time.time() * 1000 + config.timeout_s * 1000),
                                function_arn=config.function_arn, client_context=client_context,
                                cognito_identity=cognito_identity)
        rid = invocation.request_id
        if init is not None and init.status != "ready":
            verdict = self._init_failure(sandbox, init, rid)
            status_text = "timeout" if init.status == "timeout" else f"error\tError Type: {verdict.error_type}"
            self._log(f"INIT_REPORT Init Duration: {init.init_ms:.2f} ms\tPhase: init\tStatus: {status_text}")
            self._log(f"START RequestId: {rid} Version: $LATEST")
            if verdict.status == "timeout":
                self._log(f"{_timestamp()} {rid} {verdict.payload['errorMessage'].split('Error: ', 1)[1]}")
            duration_ms = 0.0
            self._discard_sandbox()
        else:
            self._log(f"START RequestId: {rid} Version: $LATEST")
            outcome = sandbox.run(invocation, config.timeout_s)
            duration_ms = outcome.duration_ms
            sandbox.drain_logs()
            verdict = self._run_verdict(outcome, invocation)
            if outcome.status in ("timeout", "oom", "exited"):
                self._discard_sandbox()
        status, error_type, payload = verdict.status, verdict.error_type, verdict.payload
        extra = ""
        if status == "timeout":
            extra = "Status: timeout\t"
        elif status in ("oom", "exited", "init-error"):
            extra = f"Status: error\tError Type: {error_type}\t"
        peak = sandbox.peak_memory_bytes()
        max_memory_mb = min(math.ceil(peak / MIB), config.memory_mb) if peak else 0
        init_ms = init.init_ms if init is not None else None
        billed_ms = math.ceil(duration_ms + (init_ms or 0.0))
        report = (f"END RequestId: {rid}\n"
                  f"REPORT RequestId: {rid}\tDuration: {duration_ms:.2f} ms\tBilled Duration: {billed_ms} ms\t"
                  f"Memory Size: {config.memory_mb} MB\tMax Memory Used: {max_memory_mb} MB\t")
        if init_ms is not None:
            report += f"Init Duration: {init_ms:.2f} ms\t"
        self._log(report + extra)
        function_error = None if status == "success" else "Unhandled"
        return InvokeResult(
            request_id=rid, payload=payload, status=status, function_error=function_error,
            error_type=error_type, cold=cold, init_ms=init_ms, duration_ms=round(duration_ms, 3),
            billed_ms=billed_ms, memory_mb=config.memory_mb, max_memory_mb=max_memory_mb,
            round_trip_ms=round((time.perf_counter() - started) * 1000, 3), pid=sandbox.pid,
            _raw=invocation.body,
        )

    def _run_verdict(self, outcome: RunOutcome, invocation: Invocation) -> _Verdict:
        rid = invocation.request_id
        if outcome.status == "response":
            return _Verdict("success", None, _decode(invocation.body))
        if outcome.status == "error":
            payload = _decode(invocation.body)
            error_type = invocation.error_type or (payload.get("errorType") if isinstance(payload, dict) else None)
            return _Verdict("error", error_type, payload)
        if outcome.status == "too-large":
            return _Verdict("error", "Function.ResponseSizeTooLarge", {
                "errorMessage": f"Response payload size exceeded maximum allowed payload size ({MAX_PAYLOAD} bytes).",
                "errorType": "Function.ResponseSizeTooLarge"})
        if outcome.status == "timeout":
            return self._timed_out(rid)
        if outcome.status == "oom":
            return _Verdict("oom", "Runtime.OutOfMemory",
                            _error_payload(rid, "Runtime.OutOfMemory", _exit_message(-signal.SIGKILL)))
        return _Verdict("exited", "Runtime.ExitError",
                        _error_payload(rid, "Runtime.ExitError", _exit_message(outcome.returncode)))

    def _timed_out(self, rid: str, log: bool = True) -> _Verdict:
        message = f"Task timed out after {self.config.timeout_s:.2f} seconds"
        if log:
            self._log(f"{_timestamp()} {rid} {message}")
        return _Verdict("timeout", "Sandbox.Timedout", _error_payload(rid, "Sandbox.Timedout", message))

    def _init_failure(self, sandbox: Sandbox, init: InitOutcome, rid: str) -> _Verdict:
        if init.status == "init-error" and sandbox.api.init_error is not None:
            payload = _decode(sandbox.api.init_error.body)
            error_type = sandbox.api.init_error.error_type
            if isinstance(payload, dict):
                error_type = payload.get("errorType") or error_type
            return _Verdict("init-error", error_type, payload)
        if init.status == "timeout":
            return self._timed_out(rid, log=False)  # logged after START, where Lambda puts it
        if init.status == "oom":
            return _Verdict("oom", "Runtime.OutOfMemory",
                            _error_payload(rid, "Runtime.OutOfMemory", _exit_message(-signal.SIGKILL)))
        return _Verdict("exited", "Runtime.ExitError",
                        _error_payload(rid, "Runtime.ExitError", _exit_message(init.returncode)))

    def close(self) -> None:
        self._closed = True
        self._discard_sandbox()

    def __enter__(self) -> LocalFunction:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _timestamp() -> str:
    now = time.time()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + f".{int(now % 1 * 1000):03d}Z"
