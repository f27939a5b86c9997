"""``invoke``: one entry point for the function in the local emulator and for a deployed stack.

The command parses its options into a :class:`LocalInvoke` or a :class:`RemoteInvoke` and hands
it to :func:`invoke` with the event; the result is the emulator's report or the deployed
function's answer, and :func:`function_error` says whether the function itself failed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lambdapack import defaults
from lambdapack.errors import LambdapackError

if TYPE_CHECKING:
    from lambdapack.deploy.remote import RemoteInvokeResult
    from lambdapack.emulator.session import LocalInvokeReport
    from lambdapack.events import Event


@dataclass(frozen=True)
class LocalInvoke:
    """Run the function zip in the emulator, with the layers (or none) and Lambda's settings."""

    function_zip: Path
    layers: tuple[Path, ...] = ()
    no_layer: bool = False
    handler: str = defaults.HANDLER
    memory_mb: int = defaults.MEMORY_MB
    timeout_s: float = defaults.TIMEOUT_S
    python: Path | None = None
    environment: Mapping[str, str] = field(default_factory=dict)
    repeat: int = 1


@dataclass(frozen=True)
class RemoteInvoke:
    """Call the stack deployed as ``name``: through the Lambda API, or its HTTP URL with ``via_http``."""

    name: str
    via_http: bool = False
    logs: bool = False
    region: str | None = None
    profile: str | None = None
    endpoint_url: str | None = None


def invoke(target: LocalInvoke | RemoteInvoke, event: Event) -> LocalInvokeReport | RemoteInvokeResult:
    """Invoke ``target`` with ``event``: the emulator's report, or the deployed function's answer."""
    if isinstance(target, RemoteInvoke):
        return _remote(target, event.payload)
    return _local(target, event.body)


def _local(target: LocalInvoke, body: bytes) -> LocalInvokeReport:
    from lambdapack.emulator.session import LocalFunctionSpec, function_layers, invoke_local

    layers, runtime = function_layers(target.function_zip, target.layers, target.no_layer)
    spec = LocalFunctionSpec(function_zip=target.function_zip, layers=layers, handler=target.handler,
                        memory_mb=target.memory_mb, timeout_s=target.timeout_s, python=target.python,
                        runtime=runtime, environment=dict(target.environment))
    return invoke_local(spec, body, repeat=target.repeat)


def _remote(target: RemoteInvoke, payload: Any) -> RemoteInvokeResult:
    from lambdapack.deploy.remote import invoke_http, invoke_lambda

    if target.via_http:
        return invoke_http(target.name, payload)
    return invoke_lambda(target.name, payload, logs=target.logs, region=target.region, profile=target.profile,
                         endpoint_url=target.endpoint_url)


def function_error(result: LocalInvokeReport | RemoteInvokeResult) -> LambdapackError | None:
    """The error to exit with when the function itself failed (its payload says why), else None."""
    from lambdapack.deploy.remote import RemoteInvokeResult

    if isinstance(result, RemoteInvokeResult):
        if result.function_error:
            return LambdapackError(f"the function returned an error ({result.function_error})",
                                   hint="its payload says why; add --logs for the execution log")
        return None
    failed = next((r for r in result.invocations if not r.ok), None)
    if failed is not None:
        return LambdapackError(f"the function returned an error ({failed.error_type})",
                               hint="its payload and the logs above say why")
    return None


def environment(items: Sequence[str]) -> dict[str, str]:
    """``KEY=VALUE`` items as a mapping; an item without ``=`` is refused with an example."""
    out: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise LambdapackError(f"--env {item!r} is not KEY=VALUE", hint="for example --env LOG_LEVEL=debug")
        out[key] = value
    return out
