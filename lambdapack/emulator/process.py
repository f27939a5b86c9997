"""One sandbox: a Runtime API server and the function's runtime in a child process.

The child is the layer's CPython minor version run as ``python -I -S -B _bootstrap.py``
with an environment built from scratch (Lambda's variables, nothing from the host: no
PYTHONPATH, no host credentials), its own process group, and a death signal so it dies
with lambdapack even on ``kill -9``. Its stdout and stderr go to a log file the invoker
drains at each checkpoint, which keeps the function's lines between START and END.

A sandbox is single-use: once its runtime is killed (timeout, memory, crash) the invoker
builds a new one, like Lambda does.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import ctypes.util
import os
import resource
import signal
import subprocess
import tempfile
import threading
import time
import uuid
import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from lambdapack import defaults
from lambdapack.emulator.runtime_api import Invocation, RuntimeAPIServer
from lambdapack.errors import EmulatorError

BOOTSTRAP = Path(__file__).with_name("_bootstrap.py")
ACCOUNT_ID = "012345678912"  # the account the AWS runtime interface emulator reports
# how often a running invocation is checked for memory and for a dead runtime
_POLL_S = 0.005
# A ceiling on address space far above the memory limit: the RSS checks enforce the limit;
# this only stops an absurd single allocation. It stays generous because virtual size is not
# memory: OpenBLAS and glibc arenas reserve per thread, gigabytes on a many-core host.
_ADDRESS_SPACE_HEADROOM = 16 * 1024 ** 3
_PR_SET_PDEATHSIG = 1

_libc_prctl: Callable[..., int] | None
try:
    _libc_prctl = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True).prctl
except (OSError, AttributeError):
    _libc_prctl = None


@dataclass(frozen=True)
class SandboxConfig:
    """Everything a sandbox needs to start the function's runtime."""

    python: Path
    python_version: str  # "3.12"
    task_root: Path
    opt_dir: Path
    runtime_dir: Path
    handler: str = defaults.HANDLER
    function_name: str = "lambdapack-local"
    memory_mb: int = defaults.MEMORY_MB
    timeout_s: float = defaults.TIMEOUT_S
    region: str = "us-east-1"
    runtime: str = "python3.12"
    environment: Mapping[str, str] = field(default_factory=dict)

    @property
    def function_arn(self) -> str:
        return f"arn:aws:lambda:{self.region}:{ACCOUNT_ID}:function:{self.function_name}"

    @property
    def memory_bytes(self) -> int:
        return self.memory_mb * 1024 * 1024


def lambda_environment(config: SandboxConfig, runtime_api: str, log_stream: str) -> dict[str, str]:
    """The variables Lambda sets for a Python function; the host's environment is not inherited."""
    env = {
        "PATH": os.pathsep.join([str(config.python.parent), "/usr/local/bin", "/usr/bin", "/bin",
                                 str(config.opt_dir / "bin")]),
        "LD_LIBRARY_PATH": os.pathsep.join([str(config.task_root), str(config.task_root / "lib"),
                                            str(config.opt_dir / "lib")]),
        "LANG": "en_US.UTF-8",
        "TZ": ":UTC",
        "LAMBDA_TASK_ROOT": str(config.task_root),
        "LAMBDA_RUNTIME_DIR": str(config.runtime_dir),
        "_HANDLER": config.handler,
        "AWS_EXECUTION_ENV": f"AWS_Lambda_{config.runtime}",
        "AWS_LAMBDA_FUNCTION_NAME": config.function_name,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(config.memory_mb),
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
        "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{config.function_name}",
        "AWS_LAMBDA_LOG_STREAM_NAME": log_stream,
        "AWS_LAMBDA_RUNTIME_API": runtime_api,
        "AWS_REGION": config.region,
        "AWS_DEFAULT_REGION": config.region,
    }
    # the user's own function configuration (``--env``) wins, as on Lambda
    env.update(config.environment)
    return env


# Every live sandbox, so an exiting lambdapack takes its runtimes with it.
_LIVE: weakref.WeakSet[Sandbox] = weakref.WeakSet()


@atexit.register
def _kill_all() -> None:
    for sandbox in list(_LIVE):
        sandbox.close()


def _parse_status(data: bytes) -> dict[str, int]:
    """VmRSS / VmHWM in bytes from the text of ``/proc/PID/status``."""
    out: dict[str, int] = {}
    for key in (b"VmRSS:", b"VmHWM:"):
        at = data.find(key)
        if at >= 0:
            out[key[:-1].decode()] = int(data[at + len(key):data.index(b"kB", at)]) * 1024
    return out


def _child_setup(address_space: int) -> Callable[[], None]:
    prctl = _libc_prctl

    def setup() -> None:
        # runs in the child between fork and exec: no imports, no allocation-heavy work
        if prctl is not None:
            prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_AS, (address_space, address_space))

    return setup


class _Spawner:
    """Starts children from one long-lived thread.

    The death signal fires when the *thread* that forked the child exits; request threads of
    ``serve`` come and go, so every child is forked by this thread instead.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._jobs: list[tuple[Callable[[], subprocess.Popen[bytes]], threading.Event, list[object]]] = []
        self._wake = threading.Condition(self._lock)
        self._thread: threading.Thread | None = None

    def spawn(self, make: Callable[[], subprocess.Popen[bytes]]) -> subprocess.Popen[bytes]:
        if threading.current_thread() is threading.main_thread():
            return make()
        done = threading.Event()
        box: list[object] = []
        with self._wake:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="lambdapack-spawner", daemon=True)
                self._thread.start()
            self._jobs.append((make, done, box))
            self._wake.notify()
        done.wait()
        result = box[0]
        if isinstance(result, BaseException):
            raise result
        return result  # type: ignore[return-value]

    def _run(self) -> None:
        while True:
            with self._wake:
                while not self._jobs:
                    self._wake.wait()
                make, done, box = self._jobs.pop(0)
            try:
                box.append(make())
            except BaseException as exc:  # handed back to the caller's thread  # noqa: BLE001
                box.append(exc)
            done.set()


_SPAWNER = _Spawner()


@dataclass(frozen=True)
class InitOutcome:
    status: str  # "ready" | "init-error" | "exited" | "timeout" | "oom"
    init_ms: float
    returncode: int | None = None


@dataclass(frozen=True)
class RunOutcome:
    status: str  # "response" | "error" | "too-large" | "exited" | "timeout" | "oom"
    duration_ms: float
    returncode: int | None = None


class Sandbox:
    """One runtime process and its Runtime API server (single-use)."""

    def __init__(self, config: SandboxConfig, log_sink: Callable[[bytes], None]) -> None:
        self.config = config
        self._log_sink = log_sink
        self.api = RuntimeAPIServer().start()
        self.log_stream = f"{time.strftime('%Y/%m/%d', time.gmtime())}/[$LATEST]{uuid.uuid4().hex}"
        fd, log_path = tempfile.mkstemp(prefix="lambdapack-runtime-", suffix=".log")
        os.unlink(log_path)  # anonymous: nothing to clean up if we die
        self._log_fd = fd
        self._log_offset = 0
        self._closed = False
        self._last_peak = 0
        self._status_fd: int | None = None
        self.spawned_at = time.perf_counter()
        env = lambda_environment(config, self.api.address, self.log_stream)
        cmd = [str(config.python), "-I", "-S", "-B", str(BOOTSTRAP), str(config.opt_dir), config.python_version]
        address_space = config.memory_bytes + _ADDRESS_SPACE_HEADROOM

        def make() -> subprocess.Popen[bytes]:
            return subprocess.Popen(
                cmd, cwd=config.task_root, env=env, stdin=subprocess.DEVNULL, stdout=fd,
                stderr=subprocess.STDOUT, start_new_session=True,
                preexec_fn=_child_setup(address_space),
            )

        try:
            self.proc = _SPAWNER.spawn(make)
        except OSError as exc:
            self.api.close()
            os.close(fd)
            raise EmulatorError(f"cannot start the runtime with {config.python}: {exc.strerror or exc}",
                                hint="check that the interpreter runs, or pass another with --python") from None
        _LIVE.add(self)

    @property
    def pid(self) -> int:
        return self.proc.pid

    @property
    def alive(self) -> bool:
        return not self._closed and self.proc.poll() is None

    def _status(self) -> dict[str, int]:
        # one open descriptor, re-read from offset 0: /proc regenerates the text on each read
        if self._status_fd is None:
            try:
                self._status_fd = os.open(f"/proc/{self.proc.pid}/status", os.O_RDONLY)
            except OSError:
                return {}
        try:
            return _parse_status(os.pread(self._status_fd, 4096, 0))
        except (OSError, ValueError):
            return {}

    def peak_memory_bytes(self) -> int:
        """The runtime's peak RSS so far (remembered past its death)."""
        if not self._closed and self.proc.returncode is None:
            self._last_peak = max(self._last_peak, self._status().get("VmHWM", 0))
        return self._last_peak

    def drain_logs(self) -> None:
        """Forward what the runtime wrote since the last checkpoint to the log sink."""
        if self._closed:
            return
        while True:
            chunk = os.pread(self._log_fd, 1 << 16, self._log_offset)
            if not chunk:
                return
            self._log_offset += len(chunk)
            self._log_sink(chunk)

    def _over_memory(self) -> bool:
        status = self._status()
        self._last_peak = max(self._last_peak, status.get("VmHWM", 0))
        return max(status.get("VmRSS", 0), self._last_peak) > self.config.memory_bytes

    def wait_ready(self, limit_s: float) -> InitOutcome:
        """Wait for the runtime's first ``/next`` (init done), an init error, or its death."""
        deadline = self.spawned_at + limit_s
        while not self.api.init_done.wait(_POLL_S):
            if self.proc.poll() is not None:
                # it may have posted /init/error just before exiting
                if self.api.init_error is not None:
                    break
                return InitOutcome("exited", self._ms_since(self.spawned_at), self.proc.returncode)
            if self._over_memory():
                self.kill()
                return InitOutcome("oom", self._ms_since(self.spawned_at), self.proc.returncode)
            if time.perf_counter() >= deadline:
                self.kill()
                return InitOutcome("timeout", self._ms_since(self.spawned_at), self.proc.returncode)
        finished = self.api.init_finished_at or time.perf_counter()
        init_ms = (finished - self.spawned_at) * 1000
        if self.api.init_error is not None:
            # awslambdaric exits right after posting; reap it so the exit status is known
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(timeout=5)
            self.kill()
            return InitOutcome("init-error", init_ms, self.proc.returncode)
        if self.peak_memory_bytes() > self.config.memory_bytes:
            self.kill()
            return InitOutcome("oom", init_ms, self.proc.returncode)
        return InitOutcome("ready", init_ms)

    def run(self, invocation: Invocation, timeout_s: float) -> RunOutcome:
        """Hand ``invocation`` to the runtime and wait for its answer, enforcing timeout and memory."""
        submitted = time.perf_counter()
        self.api.submit(invocation)
        deadline = submitted + timeout_s
        done = invocation.done
        status: str | None = None
        if not done.wait(min(_POLL_S, timeout_s)):
            while not done.wait(_POLL_S):
                now = time.perf_counter()
                if self.proc.poll() is not None:
                    if done.is_set():
                        break
                    status = "exited"
                elif self._over_memory():
                    status = "oom"
                elif now >= deadline:
                    status = "timeout"
                if status is not None:
                    self.kill()
                    started = invocation.delivered_at or submitted
                    ms = timeout_s * 1000 if status == "timeout" else self._ms_since(started)
                    return RunOutcome(status, ms, self.proc.returncode)
        started = invocation.delivered_at or submitted
        duration_ms = ((invocation.completed_at or time.perf_counter()) - started) * 1000
        # the peak between two polls still counts: Lambda's cgroup would have killed it
        if self.peak_memory_bytes() > self.config.memory_bytes:
            self.kill()
            return RunOutcome("oom", duration_ms, self.proc.returncode)
        return RunOutcome(invocation.outcome or "error", duration_ms)

    @staticmethod
    def _ms_since(start: float) -> float:
        return (time.perf_counter() - start) * 1000

    def kill(self) -> None:
        """Kill the runtime's whole process group (it may have started children of its own)."""
        self.peak_memory_bytes()
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        with contextlib.suppress(ProcessLookupError):
            self.proc.kill()
        self.proc.wait()
        self.api.abandon()

    def close(self) -> None:
        if self._closed:
            return
        self.kill()
        self.drain_logs()
        self._closed = True
        _LIVE.discard(self)
        self.api.close()
        os.close(self._log_fd)
        if self._status_fd is not None:
            os.close(self._status_fd)
            self._status_fd = None

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
