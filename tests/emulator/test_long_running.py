"""What a long-running ``serve`` depends on: a runtime that keeps nothing per invocation, and a stop
that works however the process was started.

The figures (RSS over 100,000 requests, stop times) are the reliability bench's
(``bench/bench_reliability.py``); these tests check the two causes it found, functionally.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

from emulator_support import make_function, make_layer

from lambdapack.emulator.gateway import StopSignals
from lambdapack.emulator.invoker import LocalFunction
from lambdapack.emulator.session import LocalFunctionSpec, open_function

# Reports this invocation's _X_AMZN_TRACE_ID as Python, the C library and a child process see it,
# and where the C environment keeps the string.
TRACE_HANDLER = '''
import ctypes, os, subprocess

_libc = ctypes.CDLL(None)
_libc.getenv.restype = ctypes.c_void_p
_libc.getenv.argtypes = [ctypes.c_char_p]

def lambda_handler(event, context):
    address = _libc.getenv(b"_X_AMZN_TRACE_ID")
    seen = {"python": os.environ.get("_X_AMZN_TRACE_ID"), "address": address,
            "c": ctypes.string_at(address).decode() if address else None}
    if event.get("child"):
        seen["child"] = subprocess.run(["printenv", "_X_AMZN_TRACE_ID"], capture_output=True,
                                       text=True).stdout.strip()
    return seen
'''


def test_each_invocations_trace_id_is_seen_everywhere_without_a_copy_kept_per_invocation(tmp_path: Path) -> None:
    """awslambdaric sets _X_AMZN_TRACE_ID through os.environ, i.e. C setenv, and glibc keeps every
    distinct value it was given: ~160 bytes a runtime never gave back per invocation, the growth
    a 10,000-request soak once showed. The bootstrap rewrites the variable in one of two buffers
    instead: every invocation's id reaches Python, the C library and child processes, and the C
    environment's string stays at one of two addresses however many ids there were."""
    spec = LocalFunctionSpec(make_function(tmp_path, TRACE_HANDLER), (make_layer(tmp_path),))
    with open_function(spec, log_sink=lambda _data: None) as function:
        seen = [_payload(function, b"{}") for _ in range(300)]
        with_child = _payload(function, b'{"child": true}')
    ids = [s["python"] for s in seen]
    assert all(i and i.startswith("Root=1-") for i in ids)
    assert len(set(ids)) == len(ids), "every invocation has its own trace id"
    assert all(s["c"] == s["python"] for s in seen)
    assert len({s["address"] for s in seen}) <= 2, "the C environment got a new copy per invocation"
    assert with_child["child"] == with_child["python"] == with_child["c"]


def _payload(function: LocalFunction, event: bytes) -> dict:
    result = function.invoke(event)
    assert result.ok, result.payload
    return result.payload


STOP_SCRIPT = textwrap.dedent('''
    import signal, sys
    from lambdapack.emulator.gateway import StopSignals

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # as a background job of a script inherits it
    before = signal.getsignal(signal.SIGTERM)
    with StopSignals(poll_s=0.05) as stop:
        stop.serving()  # before saying so: a signal sent on "waiting" must find it serving
        print("waiting", flush=True)
        received = stop.wait()
    print(signal.Signals(received).name, signal.getsignal(signal.SIGINT) == signal.SIG_IGN,
          signal.getsignal(signal.SIGTERM) == before, flush=True)
''')


def _stop_script(send: Callable[[subprocess.Popen[str]], None]) -> list[str]:
    proc = subprocess.Popen([sys.executable, "-c", STOP_SCRIPT], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline() == "waiting\n"
        send(proc)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err
    return out.split()


def test_stop_signals_stop_on_sigint_even_when_it_was_ignored_and_restore_the_handlers() -> None:
    assert _stop_script(lambda proc: proc.send_signal(signal.SIGINT)) == ["SIGINT", "True", "True"]
    assert _stop_script(lambda proc: proc.send_signal(signal.SIGTERM)) == ["SIGTERM", "True", "True"]


def test_ctrl_c_while_the_runtimes_start_still_interrupts() -> None:
    """Before serving there is nothing to wait for: SIGINT raises KeyboardInterrupt, as it always did."""
    with StopSignals() as _stop:
        try:
            signal.raise_signal(signal.SIGINT)
        except KeyboardInterrupt:
            interrupted = True
        else:
            interrupted = False
    assert interrupted
