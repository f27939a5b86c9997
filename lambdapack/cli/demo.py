"""``lambdapack demo``: the whole guide locally, in one command."""

from __future__ import annotations

import functools
import json
from pathlib import Path

import click
from rich.console import Console

from lambdapack import defaults
from lambdapack.cli.main import json_option, runtime_option


@click.command("demo")
@click.option("--dir", "root", type=click.Path(file_okay=False, path_type=Path), default=Path("."),
              show_default=True, help="Where dist/ and build/model go.")
@runtime_option("python3.12, else 3.13, 3.11, 3.10, whichever Python is here")
@click.option("--rebuild", is_flag=True, help="Build the layer again even if dist/ holds a matching one.")
@click.option("--memory", "memory_mb", type=int, default=defaults.MEMORY_MB, show_default=True,
              help="Memory size in MB.")
@json_option
def demo_command(root: Path, runtime: str | None, rebuild: bool, memory_mb: int, as_json: bool) -> None:
    """Build, train, package and run the guide's iris model locally: no AWS account, no Docker.

    Builds the scikit-learn layer for the Lambda runtime whose Python is on
    this machine, trains the iris RandomForest inside that layer's
    environment, packages the function, runs it in the local Lambda emulator
    with the guide's event and sends one HTTP request through the local API
    Gateway front. A second run reuses the layer and the model.

    \b
    Examples:
      lambdapack demo
      lambdapack demo --runtime python3.11 --dir /tmp/iris
      lambdapack demo --json
    """
    from lambdapack.demo import run_demo
    from lambdapack.ui import console, emit

    def step(message: str) -> None:
        console.print(f"[dim]•[/] {message}")

    report = run_demo(root, runtime=runtime, rebuild=rebuild, memory_mb=memory_mb, step=step)
    emit(report, as_json, _render)


def _render(report, console: Console) -> None:  # type: ignore[no-untyped-def]
    out = functools.partial(console.print, soft_wrap=True)
    from lambdapack.ui import human_bytes

    layer = report.layer
    direct = "fits" if layer.zip_bytes <= layer.direct_upload_limit else "over: deploy uploads it through S3"
    out()
    out(f"[bold]lambdapack demo[/] — the guide, locally ({report.seconds:.0f} s)")
    out(f"  runtime   {report.runtime} {layer.arch}, run by {report.python}")
    out(f"  layer     {layer.path}: {human_bytes(layer.zip_bytes)} zipped "
                  f"(direct upload limit {human_bytes(layer.direct_upload_limit)}: {direct}), "
                  f"{human_bytes(layer.unzipped_bytes)} unzipped of {human_bytes(layer.unzipped_limit)}")
    pinned = ", ".join(f"{name} {layer.packages[name]}" for name in ("scikit-learn", "numpy", "scipy", "joblib")
                       if name in layer.packages)
    out(f"            {pinned}")
    accuracy = f", testing accuracy {report.model.accuracy:.2f}" if report.model.accuracy is not None else ""
    out(f"  model     {report.model.directory}: {report.model.estimator} on {report.model.dataset}{accuracy}")
    out(f"  function  {report.function} ({human_bytes(report.function_bytes)})")
    served = "stdlib predictor, no scikit-learn import at init" if report.serving == "predictor" else "the estimator"
    out(f"  serving   {served}: {report.serving_reason}")
    out(f"  invoke    {json.dumps(report.event)} -> [bold]{json.dumps(report.response)}[/]")
    init = f", init {report.init_ms:.0f} ms" if report.init_ms is not None else ""
    out(f"  latency   cold {report.cold_ms:.0f} ms{init}; warm {report.warm_ms:.2f} ms "
                  f"(median of {report.warm_runs}); max memory {report.max_memory_mb} of {report.memory_mb} MB")
    body = report.http_body if isinstance(report.http_body, str) else json.dumps(report.http_body)
    out(f"  HTTP      {report.http_request} -> {report.http_status} {body}")
    out("  next      " + "\n            ".join(report.next_steps))
