"""``lambdapack package``: the handler, the model and its manifest in dist/function.zip."""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

import click
from rich.console import Console

from lambdapack import defaults
from lambdapack.cli.main import json_option, python_option, runtime_option
from lambdapack.ui import emit, human_bytes

if TYPE_CHECKING:
    from lambdapack.function.package import FunctionPackageReport


SHOWN_INPUTS = 8  # more inputs than this: the first ones, and where to see the rest


def _render(report: FunctionPackageReport, console: Console) -> None:
    say = partial(console.print, soft_wrap=True)  # one line per fact, never wrapped
    say(f"[bold green]packaged[/] {report.path} ({human_bytes(report.bytes)}, sha256 {report.sha256[:12]}…)")
    say(f"  handler   {report.handler}")
    say(f"  model     {report.estimator.rpartition('.')[2]} ({report.task}), "
        f"sha256 {report.model_sha256[:12]}… verified")
    if report.layer is not None:
        layer = report.layer
        target = " ".join(p for p in (layer.runtime or f"python{layer.python_version}", layer.arch) if p)
        versions = ", ".join(f"{k} {v}" for k, v in layer.versions.items())
        say(f"  layer     {layer.path.name} ({target}): versions agree ({versions})")
        say(f"  unzipped  function {human_bytes(report.unzipped_bytes)} + layer {human_bytes(layer.unzipped_bytes)}"
            f" = {human_bytes(report.combined_unzipped_bytes)} of {human_bytes(report.unzipped_limit)}")
    else:
        say(f"  unzipped  {human_bytes(report.unzipped_bytes)} (--layer LAYER.zip checks versions and total size)")
    if report.inputs:
        source = "read from the model (model.json types no input)" if report.inputs_read_from_model else "model.json"
        say(f"  inputs    {len(report.inputs)}, typed by {source}:")
        shown = report.inputs if len(report.inputs) <= SHOWN_INPUTS else report.inputs[: SHOWN_INPUTS - 1]
        for line in shown:
            say(f"            {line}")
        if len(shown) < len(report.inputs):
            say(f"            … {len(report.inputs) - len(shown)} more (`lambdapack model show` lists them all)")
    predictor = report.predictor
    if predictor.serving == "predictor":
        say(f"  serving   stdlib predictor ({human_bytes(predictor.bytes or 0)}, no layer needed): {predictor.reason}")
        say(f"  proven    with {predictor.proven_with}")
    else:
        say(f"  serving   the estimator from model.joblib (needs the scikit-learn layer): {predictor.reason}")
    say(f"  pycs      {report.pycs.reason}")


@click.command("package")
@click.option("--model", "model_dir", type=click.Path(path_type=Path), default=defaults.MODEL_DIR,
              show_default=True, help="Model directory holding model.joblib and model.json.")
@click.option("-o", "--out", type=click.Path(path_type=Path), default=defaults.FUNCTION_ZIP, show_default=True,
              help="Where to write the function zip.")
@click.option("--layer", type=click.Path(path_type=Path), default=None,
              help="The layer zip that will serve the model: refuse a version mismatch, check the total size; "
                   "prove the predictor with its libraries when this Python's differ from the model's.")
@runtime_option("the layer's, else python3.12; its Python precompiles the handler")
@click.option("--no-predictor", "no_predictor", is_flag=True,
              help="Serve by the estimator from model.joblib even when the stdlib predictor covers the model.")
@python_option("to precompile the handler and prove the predictor with the layer")
@json_option
def package(model_dir: Path, out: Path, layer: Path | None, runtime: str | None, no_predictor: bool,
            python: Path | None, as_json: bool) -> None:
    """Package the prediction handler with a trained model into a function zip.

    Tree models, pipelines of scalers, imputers and encoders in front of them, and linear
    models are compiled into a stdlib predictor and proven against the estimator before it
    ships: predictions identical on every probe row; preprocessing, tree scores and
    probabilities bit-identical (exp-based links within a few ulp, linear models' dot products
    within a measured bound, each stated in function.json's claim). The function then starts in
    milliseconds and needs no layer. Other models are served by the estimator from
    model.joblib with the layer's libraries, and the output names the step that keeps them
    there. The zip holds lambda_function.py (handler lambda_function.lambda_handler), its
    lambdapack_runtime package, model.joblib, model.json, function.json and model.predictor
    when there is one; the same inputs give a byte-identical zip.

    \b
    Examples:
      lambdapack package
      lambdapack package --model build/model --out dist/function.zip
      lambdapack package --layer dist/layer-python3.12-x86_64.zip --json
      lambdapack package --no-predictor
    """
    from lambdapack.function.package import package_function

    emit(package_function(model_dir, out, layer, predictor=not no_predictor, runtime=runtime, python=python),
         as_json, _render)
