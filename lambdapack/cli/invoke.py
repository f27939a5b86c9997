"""``lambdapack invoke``: run the function once (or ``--repeat N`` times) and print its payload.

``--local`` runs it in lambdapack's emulator; the remote branch (``--name``, on AWS) joins
this same command, sharing the event options below.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
from rich.console import Console

from lambdapack import defaults
from lambdapack.cli.deploy import aws_options
from lambdapack.cli.main import json_option


def event_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """``--event`` and the feature flags, shared by the local and remote invoke."""
    options = [
        click.option("--event", "event", metavar="FILE|-|seed|JSON",
                     help="The event: a JSON file, '-' for stdin, 'seed' for the guide's iris event, or inline JSON."),
        click.option("--sl", type=float, help="Feature sl (sepal length, cm)."),
        click.option("--sw", type=float, help="Feature sw (sepal width, cm)."),
        click.option("--pl", type=float, help="Feature pl (petal length, cm)."),
        click.option("--pw", type=float, help="Feature pw (petal width, cm)."),
        click.option("--feature", "features", multiple=True, metavar="NAME=VALUE",
                     help="Any feature (repeatable); merged into the event."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def build_event(event: str | None, sl: float | None, sw: float | None, pl: float | None, pw: float | None,
                features: tuple[str, ...]):  # type: ignore[no-untyped-def]
    from lambdapack.events import load_event, parse_feature

    pairs: list[tuple[str, Any]] = [(n, v) for n, v in (("sl", sl), ("sw", sw), ("pl", pl), ("pw", pw))
                                    if v is not None]
    pairs.extend(parse_feature(item) for item in features)
    return load_event(event, pairs)


def remote_invoke_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """The options of ``invoke --name``: a deployed stack, and how to call it."""
    for option in reversed([
        click.option("--name", default=None, help="Invoke the deployed stack NAME on AWS (instead of --local)."),
        click.option("--http", "via_http", is_flag=True,
                     help="With --name: call the stack's API URL, not the Lambda API."),
        click.option("--logs", is_flag=True, help="With --name: print the decoded execution log tail (stderr)."),
    ]):
        func = option(func)
    return aws_options(func)


@click.command("invoke")
@click.option("--local", "local", is_flag=True, help="Run in the local Lambda emulator (no AWS, no Docker).")
@click.option("--layer", "layers", multiple=True, type=click.Path(path_type=Path), metavar="LAYER.zip",
              help="Layer zip (repeatable, in order). Default: dist/layer-python3.12-x86_64.zip or the only "
                   "layer in dist/.")
@click.option("--no-layer", "no_layer", is_flag=True,
              help="Run without any layer: for a function served by its stdlib predictor (see `package`).")
@click.option("--function", "function_zip", type=click.Path(path_type=Path), default=defaults.FUNCTION_ZIP,
              show_default=True, help="The function package.")
@click.option("--handler", default=defaults.HANDLER, show_default=True, help="MODULE.FUNCTION.")
@event_options
@click.option("--repeat", type=click.IntRange(1, 10_000), default=1, show_default=True,
              help="Invoke N times: one cold start, then warm runs.")
@click.option("--timeout", "timeout_s", type=float, default=float(defaults.TIMEOUT_S), show_default=True,
              help="Function timeout in seconds (enforced).")
@click.option("--memory", "memory_mb", type=int, default=defaults.MEMORY_MB, show_default=True,
              help="Memory size in MB (enforced on the runtime's resident memory).")
@click.option("--python", type=click.Path(path_type=Path), metavar="PATH",
              help="Interpreter of the layer's Python version (default: PATH, then pyenv).")
@click.option("--env", "env_vars", multiple=True, metavar="KEY=VALUE",
              help="Function environment variable (repeatable).")
@remote_invoke_options
@json_option
def invoke_command(local: bool, layers: tuple[Path, ...], no_layer: bool, function_zip: Path, handler: str,
                   event: str | None, sl: float | None, sw: float | None, pl: float | None, pw: float | None,
                   features: tuple[str, ...], repeat: int, timeout_s: float, memory_mb: int, python: Path | None,
                   env_vars: tuple[str, ...], name: str | None, via_http: bool, logs: bool, region: str | None,
                   profile: str | None, endpoint_url: str | None, as_json: bool) -> None:
    """Invoke the function and print its response payload (JSON) on stdout.

    Logs (START/END/REPORT and the function's own output) go to stderr.
    With --repeat, the first run is a cold start and the rest are warm.

    \b
    Examples:
      lambdapack invoke --local --event seed
      lambdapack invoke --local --sl 6.9 --sw 3.1 --pl 5.1 --pw 2.3 --repeat 5
      lambdapack invoke --local --no-layer --event seed
      lambdapack invoke --local --event examples/events/http-api-v2-post.json
      echo '{"instances": [[5.1, 3.5, 1.4, 0.2]]}' | lambdapack invoke --local --event -
      lambdapack invoke --local --layer dist/layer-python3.11-x86_64.zip --timeout 3 --memory 256
      lambdapack invoke --name iris --event seed --logs
      lambdapack invoke --name iris --http --event examples/events/http-api-v2-post.json
    """
    if local and name:
        raise click.UsageError("--local runs the function here and --name calls it on AWS: give one of them")
    if not (local or name):
        raise click.UsageError("give --local (the emulator, no AWS) or --name NAME (the stack deployed as NAME)")
    if name and (layers or no_layer or repeat != 1 or env_vars):
        raise click.UsageError("--layer, --no-layer, --repeat and --env set up a local run: drop them with --name")
    from lambdapack.invocation import LocalInvoke, RemoteInvoke, environment, function_error, invoke
    from lambdapack.ui import emit

    target: LocalInvoke | RemoteInvoke
    if name:
        target = RemoteInvoke(name, via_http=via_http, logs=logs, region=region, profile=profile,
                              endpoint_url=endpoint_url)
    else:
        target = LocalInvoke(function_zip, tuple(layers), no_layer, handler, memory_mb, timeout_s, python,
                             environment(env_vars), repeat)
    result = invoke(target, build_event(event, sl, sw, pl, pw, features))
    emit(result, as_json, _render_remote if name else _render)
    error = function_error(result)
    if error is not None:
        raise error


def _render_remote(result: Any, out: Console) -> None:
    import json

    payload = result.payload
    click.echo(payload if isinstance(payload, str) else json.dumps(payload))
    where = result.url if result.via == "http" else "the Lambda API"
    if result.via == "lambda" and result.qualifier:
        where += f" (alias {result.qualifier})"
    out.print(f"{result.name}: status {result.status_code} through {where}"
              + (f", function error {result.function_error}" if result.function_error else ""))
    if result.logs:
        out.print(result.logs.rstrip("\n"), markup=False, highlight=False)


def _render(report, console: Console) -> None:  # type: ignore[no-untyped-def]
    import statistics

    out = functools.partial(console.print, soft_wrap=True, highlight=False)
    click.echo(report.last.payload_text)
    first, rest = report.invocations[0], report.invocations[1:]
    out(f"{report.runtime} (Python {report.python_version}), {report.memory_mb} MB, timeout {report.timeout_s:g} s")
    init = f"init {first.init_ms:.0f} ms, " if first.init_ms is not None else ""
    out(f"  {'cold' if first.cold else 'first'}  {report.cold_ms:.1f} ms round trip ({init}duration "
        f"{first.duration_ms:.2f} ms)")
    if rest:
        trips = [r.round_trip_ms for r in rest]
        durations = statistics.median(r.duration_ms for r in rest)
        out(f"  warm  {report.warm_ms:.2f} ms median round trip of {len(rest)} (min {min(trips):.2f}, "
            f"max {max(trips):.2f}; duration {durations:.2f} ms median)")
    out(f"  max memory used {max(r.max_memory_mb for r in report.invocations)} of {report.memory_mb} MB")
