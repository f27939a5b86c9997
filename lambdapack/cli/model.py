"""``lambdapack model import`` and ``lambdapack model show``."""

from __future__ import annotations

from pathlib import Path

import click
from rich.console import Console

from lambdapack import defaults
from lambdapack.cli.main import json_option
from lambdapack.ui import human_bytes


@click.group("model")
def model_group() -> None:
    """Bring your own model, or look at one.

    \b
    Examples:
      lambdapack model import my_model.joblib --features sl,sw,pl,pw --classes setosa,versicolor,virginica
      lambdapack model show build/model
    """


@model_group.command("import")
@click.argument("model_file", type=click.Path(path_type=Path), metavar="MODEL.joblib")
@click.option("--features", required=True, metavar="A,B,C",
              help="Input feature names, in the order the model was fitted on.")
@click.option("--classes", metavar="X,Y", help="Display names of the model's classes_ (classifiers).")
@click.option("-o", "--out", type=click.Path(path_type=Path), default=defaults.MODEL_DIR, show_default=True,
              help="Directory for model.joblib and model.json.")
@json_option
def import_command(model_file: Path, features: str, classes: str | None, out: Path, as_json: bool) -> None:
    """Check a fitted scikit-learn estimator and write it with a manifest.

    The file is unpickled to check it (a pickle runs code: import only files
    you trust). It must be fitted, have predict(), take as many inputs as
    --features names, and have been saved by the scikit-learn installed here.

    \b
    Examples:
      lambdapack model import model.joblib --features sl,sw,pl,pw
      lambdapack model import house.joblib --features rooms,area,age --out build/house
    """
    from lambdapack.model.importer import import_model
    from lambdapack.ui import emit

    emit(import_model(model_file, features, classes, out), as_json, _render_import)


def _render_import(report, console: Console) -> None:  # type: ignore[no-untyped-def]
    console.print(f"imported {report.estimator_class} ({report.task}, {len(report.features)} features)")
    console.print(f"wrote [bold]{report.model_path}[/] ({human_bytes(report.bytes)}, sha256 {report.sha256[:12]}…) "
                  f"and {report.manifest_path.name}")


@model_group.command("show")
@click.argument("directory", type=click.Path(path_type=Path), default=defaults.MODEL_DIR, required=False,
                metavar="[DIR]")
@json_option
def show_command(directory: Path, as_json: bool) -> None:
    """Print a model's manifest and check its file's sha256 (DIR defaults to build/model).

    \b
    Examples:
      lambdapack model show
      lambdapack model show build/model --json
    """
    from lambdapack.model.describe import describe_model
    from lambdapack.ui import emit

    emit(describe_model(directory), as_json, _render_show)


def _render_show(summary, console: Console) -> None:  # type: ignore[no-untyped-def]
    m = summary.parsed
    status = "[green]matches[/]" if summary.file_ok else f"[red]{summary.file_problem}[/]"
    rows = [("model", str(summary.directory / m.model.file)),
            ("file", f"{human_bytes(m.model.bytes)}, sha256 {m.model.sha256[:16]}… {status}"),
            ("task", m.task), ("estimator", m.estimator.class_path)]
    if m.estimator.params:
        rows.append(("params", ", ".join(f"{k}={v!r}" for k, v in m.estimator.params.items())))
    if m.dataset is not None:
        split = f", test_size {m.dataset.test_size}" if m.dataset.test_size is not None else ""
        target = f", target {m.dataset.target!r}" if m.dataset.target else ""
        rows.append(("dataset", f"{m.dataset.name} ({m.dataset.rows} rows{split}{target})"))
    rows.append(("features", ", ".join(f"{f.name} ({f.alias})" if f.alias else f.name for f in m.features)))
    if m.classes is not None:
        rows.append(("classes", ", ".join(m.classes)))
    if m.metrics:
        rows.append(("metrics", ", ".join(f"{k} {v:.4g}" for k, v in m.metrics.items())))
    rows.append(("versions", ", ".join(f"{k} {v}" for k, v in m.versions.items())))
    for label, value in rows:  # one line per fact, never wrapped: a pipe or a log reads it whole
        console.print(f"[bold]{label:<10}[/] {value}", soft_wrap=True, highlight=False)
