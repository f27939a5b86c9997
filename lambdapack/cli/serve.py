"""``lambdapack serve``: a local API Gateway front over warm emulated runtimes."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from pathlib import Path

import click
from rich.console import Console

from lambdapack import defaults
from lambdapack.cli.main import json_option


@click.command("serve")
@click.option("--port", type=click.IntRange(0, 65535), default=3000, show_default=True,
              help="Port on 127.0.0.1 (0 picks a free one).")
@click.option("--concurrency", type=click.IntRange(1, 64), default=1, show_default=True,
              help="Warm runtimes serving requests in parallel.")
@click.option("--payload", "payload_version", type=click.Choice(["2.0", "1.0", "alb", "alb-multi"]), default="2.0",
              show_default=True, help="Event format: 2.0 = HTTP API, 1.0 = REST API proxy, alb = an ALB target "
                                      "group, alb-multi = one with multi-value headers.")
@click.option("--layer", "layers", multiple=True, type=click.Path(path_type=Path), metavar="LAYER.zip",
              help="Layer zip (repeatable). Default: dist/layer-python3.12-x86_64.zip or the only layer in dist/.")
@click.option("--no-layer", "no_layer", is_flag=True,
              help="Run without any layer: for a function served by its stdlib predictor (see `package`).")
@click.option("--function", "function_zip", type=click.Path(path_type=Path), default=defaults.FUNCTION_ZIP,
              show_default=True, help="The function package.")
@click.option("--handler", default=defaults.HANDLER, show_default=True, help="MODULE.FUNCTION.")
@click.option("--timeout", "timeout_s", type=float, default=float(defaults.TIMEOUT_S), show_default=True,
              help="Function timeout (s).")
@click.option("--memory", "memory_mb", type=int, default=defaults.MEMORY_MB, show_default=True,
              help="Memory size (MB).")
@click.option("--python", type=click.Path(path_type=Path), metavar="PATH",
              help="Interpreter of the layer's Python version (default: PATH, then pyenv).")
@click.option("--read-timeout", "read_timeout", type=click.FloatRange(0, min_open=True), default=10.0,
              show_default=True, help="Seconds a client may take to send a request; then 408.")
@json_option
def serve_command(port: int, concurrency: int, payload_version: str, layers: tuple[Path, ...], no_layer: bool,
                  function_zip: Path,
                  handler: str, timeout_s: float, memory_mb: int, python: Path | None, read_timeout: float,
                  as_json: bool) -> None:
    """Serve the function over HTTP on 127.0.0.1, like API Gateway, until Ctrl-C.

    Every request becomes an HTTP API (payload 2.0) event, a REST API proxy
    event with --payload 1.0, or an ALB target group event with --payload alb
    (alb-multi: multi-value headers on); the function's response becomes the HTTP
    response, or a 502 where that front would refuse it. Runtimes stay warm between requests. With --json, one JSON
    document describing the server is printed on stdout once it is ready.

    \b
    Examples:
      lambdapack serve
      curl -X POST localhost:3000/predict -d '{"sl":6.9,"sw":3.1,"pl":5.1,"pw":2.3}'
      curl 'localhost:3000/predict?sl=6.9&sw=3.1&pl=5.1&pw=2.3'
      lambdapack serve --port 8080 --concurrency 4 --payload 1.0
      lambdapack serve --no-layer
      lambdapack serve --payload alb-multi
    """
    from lambdapack.emulator.gateway import StopSignals, start_gateway
    from lambdapack.emulator.session import LocalFunctionSpec, function_layers
    from lambdapack.function.example import example_request
    from lambdapack.ui import console, emit

    chosen, runtime = function_layers(function_zip, layers, no_layer)
    spec = LocalFunctionSpec(function_zip=function_zip, layers=chosen, handler=handler, memory_mb=memory_mb,
                        timeout_s=timeout_s, python=python, runtime=runtime)
    runtimes = "runtime" if concurrency == 1 else "runtimes"
    console.print(f"starting {concurrency} {runtimes} of {function_zip} (the first start imports your code)…")
    with StopSignals() as stop, start_gateway(spec, port=port, concurrency=concurrency,
                                              payload_version=payload_version, read_timeout=read_timeout) as (_, info):
        render = functools.partial(_render, example=None if as_json else example_request(function_zip))
        emit(info, as_json, render, now=True)  # a caller waits for it while we serve
        stop.wait()
    console.print("stopped; no runtime left running")


def _render(info, console: Console, example: Mapping[str, float] | None) -> None:  # type: ignore[no-untyped-def]
    out = functools.partial(console.print, soft_wrap=True)
    runtimes = "runtime" if info.concurrency == 1 else "runtimes"
    out(f"serving on [bold]{info.url}[/] — {info.concurrency} warm {runtimes}, {info.runtime} "
                  f"(Python {info.python}), payload {info.payload_version}")
    for status in info.init_errors:
        out(f"[yellow]warning:[/] a runtime failed to start ({status}); requests will retry and get 500s "
                      "until the function initialises")
    if example is not None:
        from lambdapack.function.example import curl_command

        out(f"try: {curl_command(info.url, example)}", markup=False)
    out("Ctrl-C to stop")
