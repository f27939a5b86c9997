"""From zip files to a running local function: the emulator's public entry points.

``open_function(spec)`` checks the layers (arch, Python), finds the interpreter of the
layer's minor version, fetches awslambdaric for it, lays the code out like Lambda and
returns a :class:`LocalFunction`; ``invoke_local(spec, event, repeat)`` is the whole
``invoke --local`` command as a library call.
"""

from __future__ import annotations

import contextlib
import os
import statistics
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from lambdapack import archive, defaults, interpreters, layer_python
from lambdapack.emulator import code, ric
from lambdapack.emulator.invoker import InvokeResult, LocalFunction, LogSink
from lambdapack.emulator.process import SandboxConfig
from lambdapack.errors import EmulatorError, InterpreterError
from lambdapack.targets import DEFAULT_ARCH, DEFAULT_RUNTIME, Target, get_runtime, host_arch


@dataclass(frozen=True)
class LocalFunctionSpec:
    """What to run locally and with which Lambda configuration."""

    function_zip: Path
    layers: tuple[Path, ...] = ()
    handler: str = defaults.HANDLER
    memory_mb: int = defaults.MEMORY_MB
    timeout_s: float = defaults.TIMEOUT_S
    python: Path | None = None  # the user's --python; otherwise found on PATH / pyenv
    runtime: str | None = None  # only needed when no layer says which Python
    function_name: str = "lambdapack-local"
    region: str | None = None
    environment: Mapping[str, str] = field(default_factory=dict)


def default_layer(dist: Path = defaults.DIST_DIR) -> Path:
    """``dist/layer-python3.12-<this machine's arch>.zip``, else the only layer in ``dist/``."""
    for arch in dict.fromkeys((host_arch(), DEFAULT_ARCH)):
        preferred = defaults.layer_zip(f"{DEFAULT_RUNTIME}-{arch}", dist)
        if preferred.is_file():
            return preferred
    found = sorted(dist.glob("layer-*.zip"))
    if len(found) == 1:
        return found[0]
    if not found:
        raise EmulatorError(f"no layer in {dist}/",
                            hint="build one with `lambdapack build-layer`, or pass --layer PATH")
    raise EmulatorError(f"several layers in {dist}/ ({', '.join(p.name for p in found)})",
                        hint="choose one with --layer PATH")


def _check_spec(spec: LocalFunctionSpec) -> None:
    if not spec.function_zip.is_file():
        raise EmulatorError(f"{spec.function_zip}: no such function package",
                            hint="build it with `lambdapack package`, or pass --function PATH")
    for layer in spec.layers:
        if not Path(layer).is_file():
            raise EmulatorError(f"{layer}: no such layer", hint="build it with `lambdapack build-layer`")
    low, high = defaults.MEMORY_RANGE_MB
    if not low <= spec.memory_mb <= high:
        raise EmulatorError(f"memory {spec.memory_mb} MB is outside Lambda's range", hint=f"choose {low}..{high} MB")
    longest = defaults.TIMEOUT_RANGE_S[1]
    # fractions of a second are allowed here, unlike on Lambda: a local run may test its own timeout quickly
    if not 0 < spec.timeout_s <= longest:
        raise EmulatorError(f"timeout {spec.timeout_s} s is outside Lambda's range",
                            hint=f"choose 1..{longest} seconds")
    if "." not in spec.handler:
        raise EmulatorError(f"handler {spec.handler!r} is not MODULE.FUNCTION",
                            hint=f"for example {defaults.HANDLER}")


@dataclass(frozen=True)
class Prepared:
    """The resolved pieces of a local function (shared by every runtime of a pool)."""

    config: SandboxConfig
    python_full_version: str


def _resolve_region(region: str | None) -> str:
    return region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"


@contextlib.contextmanager
def prepare(spec: LocalFunctionSpec) -> Iterator[Prepared]:
    """Check and lay out ``spec``; the task root lives as long as the context."""
    _check_spec(spec)
    infos = code.inspect_layers(spec.layers)
    version, runtime = layer_python.check_runnable(infos, spec.runtime, EmulatorError)
    if runtime is None:
        runtime = spec.runtime or DEFAULT_RUNTIME
    python_version = version or "{}.{}".format(*get_runtime(runtime).python)
    wanted = tuple(int(p) for p in python_version.split("."))
    python = _find_interpreter(wanted, spec.python, runtime)
    target = Target.for_runtime(runtime, host_arch())
    runtime_dir = ric.runtime_dir_for(target, python)
    opt_dir = layer_python.unpacked_layers(infos, EmulatorError)
    with archive.scratch_dir("task") as task_root:
        code.unpack_function(spec.function_zip, task_root)
        config = SandboxConfig(
            python=python, python_version=python_version, task_root=task_root, opt_dir=opt_dir,
            runtime_dir=runtime_dir, handler=spec.handler, function_name=spec.function_name,
            memory_mb=spec.memory_mb, timeout_s=spec.timeout_s, region=_resolve_region(spec.region),
            runtime=runtime, environment=dict(spec.environment))
        info = interpreters.interpreter_version(str(python))
        full = ".".join(map(str, info[0])) if info else python_version
        yield Prepared(config, full)


def _find_interpreter(version: tuple[int, ...], explicit: Path | None, runtime: str) -> Path:
    major, minor = version[0], version[1]
    try:
        found = interpreters.require_python((major, minor), explicit)
    except InterpreterError as exc:
        raise InterpreterError(
            f"{exc.message}; the layer is for {runtime}, which runs Python {major}.{minor}",
            hint=exc.hint) from None
    # a pyenv shim is a shell script that needs the host's environment: run the real binary
    return _real_executable(found)


def _real_executable(python: Path) -> Path:
    import subprocess

    try:
        out = subprocess.run([str(python), "-I", "-c", "import sys; print(sys.executable)"],
                             capture_output=True, text=True, timeout=30, check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError) as exc:
        raise InterpreterError(f"cannot run {python}: {exc}", hint="pass a working interpreter with --python") \
            from None
    return Path(out) if out else python


@contextlib.contextmanager
def open_function(spec: LocalFunctionSpec, log_sink: LogSink | None = None) -> Iterator[LocalFunction]:
    with prepare(spec) as prepared, LocalFunction(prepared.config, log_sink) as function:
        yield function


@dataclass(frozen=True)
class LocalInvokeReport:
    """``invoke --local``: every invocation, and the figures a user looks at."""

    function: Path
    layers: tuple[Path, ...]
    runtime: str
    python: Path
    python_version: str
    handler: str
    memory_mb: int
    timeout_s: float
    invocations: tuple[InvokeResult, ...]
    cold_ms: float  # first round trip, init included
    warm_ms: float | None  # median round trip of the rest

    @property
    def last(self) -> InvokeResult:
        return self.invocations[-1]

    @property
    def payload(self) -> object:
        return self.last.payload

    @property
    def ok(self) -> bool:
        return all(r.ok for r in self.invocations)


def invoke_local(spec: LocalFunctionSpec, event: bytes, repeat: int = 1,
                 log_sink: LogSink | None = None) -> LocalInvokeReport:
    """Invoke the function ``repeat`` times with ``event``: one cold start, then warm runs."""
    if repeat < 1:
        raise EmulatorError(f"--repeat {repeat} must be at least 1", hint="use --repeat 1 or more")
    results: list[InvokeResult] = []
    with prepare(spec) as prepared, LocalFunction(prepared.config, log_sink) as function:
        for _ in range(repeat):
            results.append(function.invoke(event))
    warm = [r.round_trip_ms for r in results[1:]]
    config = prepared.config
    return LocalInvokeReport(
        function=spec.function_zip, layers=tuple(spec.layers), runtime=config.runtime, python=config.python,
        python_version=prepared.python_full_version, handler=config.handler, memory_mb=config.memory_mb,
        timeout_s=config.timeout_s, invocations=tuple(results), cold_ms=results[0].round_trip_ms,
        warm_ms=round(statistics.median(warm), 3) if warm else None,
    )


def layer_list(layers: Sequence[Path] | None) -> tuple[Path, ...]:
    return tuple(Path(p) for p in layers) if layers else (default_layer(),)


def function_layers(function_zip: Path, layers: Sequence[Path] | None,
                    no_layer: bool = False) -> tuple[tuple[Path, ...], str | None]:
    """The layers a local run unpacks, and the runtime when no layer says which (``--no-layer``).

    A function that ``package`` compiled into the stdlib predictor runs with no layer at all, as
    it may on Lambda; one that needs scikit-learn is refused with the reason before anything starts.
    """
    if not no_layer:
        return layer_list(layers), None
    if layers:
        raise EmulatorError("--no-layer and --layer contradict each other", hint="give one or the other")
    from lambdapack.function.manifest import read_function_manifest, require_layer_free

    manifest = read_function_manifest(Path(function_zip))
    require_layer_free(manifest, Path(function_zip))
    return (), manifest.runtime or DEFAULT_RUNTIME
