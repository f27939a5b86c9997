"""``lambdapack check-layer``: will this zip work as a layer on that runtime and arch?"""

from __future__ import annotations

from pathlib import Path

import click
from rich.console import Console

from lambdapack.cli.main import arch_option, json_option, python_option, runtime_option
from lambdapack.errors import LayerError
from lambdapack.layer.check import CheckReport, check_layer_zip
from lambdapack.targets import ARCHES
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
@runtime_option("from the build record")
@arch_option("from the build record")
@python_option("for the import test")
@click.option("--model", type=click.Path(exists=True, file_okay=False, path_type=Path), metavar="DIR",
              help="Also check that this model directory's library versions match the layer.")
@json_option
def check_layer_command(layer: Path, runtime: str | None, arch: str | None, python: Path | None,
                        model: Path | None, as_json: bool) -> None:
    """Check a layer zip against the Lambda runtime it is for.

    Archive safety, layout, size limits; every ELF file's machine and the
    symbol versions it needs (GLIBC_, GLIBCXX_, CXXABI_, GCC_ ...) within the
    runtime's manylinux policy (manylinux_2_26 for python3.10/3.11,
    manylinux_2_34 for python3.12+); every needed library either allowed by
    that policy or shipped in the layer; extension modules named for the
    runtime's CPython; and an import of every top-level package by that
    CPython. Exits 1 when any check fails, naming each offender.

    \b
    Examples:
      lambdapack check-layer dist/layer-python3.12-x86_64.zip
      lambdapack check-layer layer.zip --runtime python3.11 --arch arm64 --json
      lambdapack check-layer layer.zip --python ~/.pyenv/versions/3.12.1/bin/python3.12
      lambdapack check-layer dist/layer-python3.12-x86_64.zip --model build/model
    """
    report = check_layer_zip(layer, runtime=runtime, arch=arch, python=str(python) if python else None, model=model)
    emit(report, as_json, render_checks)
    if not report.ok:
        names = [c.name for c in report.failures()]
        hint = ("fix the offenders listed above, e.g. rebuild with `lambdapack build-layer` "
                "for the right --runtime/--arch")
        built_for_another_target = {"layout", "abi"} & set(names) or any(
            "not built for" in c.detail for c in report.failures())
        if set(names) & {"elf", "libs"} and not built_for_another_target:
            machine = ARCHES.get(report.arch, report.arch)
            plat = f"manylinux_{report.glibc.replace('.', '_')}_{machine}"
            hint = (f"the layer holds binaries built for a newer system than {plat}: pin a release with a {plat} "
                    f"(or older) wheel, or rebuild it on such a system; `auditwheel repair --plat {plat}` "
                    "vendors the libraries it links but does not ship")
        if names == ["model"]:
            hint = (f"rebuild the layer pinned to the model (`lambdapack build-layer --model {model}`), "
                    f"or retrain the model with the layer's libraries (`lambdapack train --layer {layer}`)")
        raise LayerError(f"{layer} fails check-layer ({', '.join(names)})", hint=hint)
