"""``lambdapack check-layer``: will this zip work as a layer on that runtime and arch?"""

from __future__ import annotations

from pathlib import Path

import click
from rich.console import Console

from lambdapack.cli.main import json_option
from lambdapack.errors import LayerError
from lambdapack.layer.check import CheckReport, check_layer
from lambdapack.targets import ARCHES, RUNTIMES
from lambdapack.ui import emit

_MARK = {"pass": "[green]✓ pass[/]", "warn": "[yellow]! warn[/]", "fail": "[red]✗ fail[/]", "skip": "[dim]- skip[/]"}
_SHOWN = 20


def render_checks(report: CheckReport, out: Console, heading: bool = True) -> None:
    if heading:
        out.print(f"[bold]{report.path}[/]  {report.runtime or 'python' + report.python_version} {report.arch} "
                  f"(glibc {report.glibc}; target from {report.target_from})")
    for check in report.checks:
        out.print(f"  {_MARK.get(check.status, check.status)}  {check.name:<8} {check.detail}", soft_wrap=True)
        for offender in check.offenders[:_SHOWN]:
            out.print(f"             {offender}", soft_wrap=True, markup=False)
        if len(check.offenders) > _SHOWN:
            out.print(f"             … and {len(check.offenders) - _SHOWN} more")
    verdict = "[green]layer OK[/]" if report.ok else "[red]layer FAILS[/]: " + ", ".join(
        c.name for c in report.failures())
    out.print(f"  {verdict}")


@click.command("check-layer")
@click.argument("layer", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--runtime", type=click.Choice(list(RUNTIMES)), help="Runtime [default: from the build record].")
@click.option("--arch", type=click.Choice(list(ARCHES)), help="Architecture [default: from the build record].")
@click.option("--python", "python", help="Interpreter for the import test (the runtime's minor version).")
@click.option("--model", type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="Also check that this model directory's library versions match the layer.")
@json_option
def check_layer_command(layer: Path, runtime: str | None, arch: str | None, python: str | None,
                        model: Path | None, as_json: bool) -> None:
    """Check a layer zip: layout, archive safety, size limits, ELF arch/glibc, imports.

    Exits 1 when any check fails, naming each offender.

    \b
    Examples:
      lambdapack check-layer dist/layer-python3.12-x86_64.zip
      lambdapack check-layer layer.zip --runtime python3.11 --arch arm64 --json
      lambdapack check-layer layer.zip --python ~/.pyenv/versions/3.12.1/bin/python3.12
      lambdapack check-layer dist/layer-python3.12-x86_64.zip --model build/model
    """
    report = check_layer(layer, runtime=runtime, arch=arch, python=python, model=model)
    emit(report, as_json, render_checks)
    if not report.ok:
        names = [c.name for c in report.failures()]
        hint = ("fix the offenders listed above, e.g. rebuild with `lambdapack build-layer` "
                "for the right --runtime/--arch")
        if names == ["model"]:
            hint = (f"rebuild the layer pinned to the model (`lambdapack build-layer --model {model}`), "
                    f"or retrain the model with the layer's libraries (`lambdapack train --layer {layer}`)")
        raise LayerError(f"{layer} fails check-layer ({', '.join(names)})", hint=hint)
