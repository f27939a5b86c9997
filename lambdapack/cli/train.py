"""``lambdapack train``."""

from __future__ import annotations

from pathlib import Path

import click
from rich.console import Console

from lambdapack import defaults
from lambdapack.cli.main import json_option
from lambdapack.ui import human_bytes


@click.command("train")
@click.option("--dataset", metavar="NAME",
              help="Bundled dataset: iris (default), wine, breast_cancer, digits, diabetes (regression).")
@click.option("--csv", "csv_path", type=click.Path(path_type=Path), metavar="PATH",
              help="Train on a CSV file with a header row (numeric features).")
@click.option("--target", metavar="COLUMN", help="The CSV column to predict (with --csv).")
@click.option("--estimator", default="random_forest", show_default=True, metavar="NAME",
              help="random_forest, extra_trees, gradient_boosting, hist_gradient_boosting, decision_tree, "
                   "logistic_regression, knn, svc, naive_bayes; regressors: random_forest_regressor, "
                   "gradient_boosting_regressor, decision_tree_regressor, linear_regression, ridge, "
                   "knn_regressor, svr.")
@click.option("--param", "params", multiple=True, metavar="KEY=VALUE",
              help="Estimator hyper-parameter, a Python literal (repeatable): --param n_estimators=200.")
@click.option("--test-size", type=float, default=0.33, show_default=True, help="Held-out fraction for scoring.")
@click.option("--random-state", type=int, default=42, show_default=True,
              help="Seed for the split and the estimator.")
@click.option("--compress", type=int, default=0, show_default=True, help="joblib compression level, 0-9.")
@click.option("-o", "--out", type=click.Path(path_type=Path), default=defaults.MODEL_DIR, show_default=True,
              help="Directory for model.joblib and model.json.")
@click.option("--layer", type=click.Path(path_type=Path), metavar="LAYER.zip",
              help="Train inside an isolated interpreter of the layer's Python, with only the layer's packages.")
@click.option("--python", metavar="PATH", help="With --layer: the interpreter to use (default: PATH, then pyenv).")
@json_option
def train_command(dataset: str | None, csv_path: Path | None, target: str | None, estimator: str,
                  params: tuple[str, ...], test_size: float, random_state: int, compress: int, out: Path,
                  layer: Path | None, python: str | None, as_json: bool) -> None:
    """Train a scikit-learn model and write build/model/{model.joblib,model.json}.

    The defaults reproduce the guide: iris, RandomForestClassifier,
    train_test_split(test_size=0.33, random_state=42), with the forest seeded
    too, so the same options give a byte-identical model.

    \b
    Examples:
      lambdapack train
      lambdapack train --dataset wine --estimator extra_trees --compress 3
      lambdapack train --csv flowers.csv --target species --param n_estimators=200
      lambdapack train --dataset diabetes --estimator ridge --param alpha=0.5
      lambdapack train --layer dist/layer-python3.12-x86_64.zip
    """
    from lambdapack.model.train import train
    from lambdapack.ui import emit, progress, warn

    with progress() as bar:
        task = bar.add_task("training", total=None)
        report = train(dataset=dataset, csv=csv_path, target=target, estimator=estimator, params=params,
                       test_size=test_size, random_state=random_state, compress=compress, out=out,
                       layer=layer, python=python, on_step=lambda text: bar.update(task, description=text))
    for message in report.warnings:
        warn(message)
    emit(report, as_json, _render)


def _render(report, console: Console) -> None:  # type: ignore[no-untyped-def]
    if "accuracy" in report.metrics:
        console.print(f"Testing accuracy: {report.metrics['accuracy']:.2f}")
    else:
        console.print(f"Testing r2: {report.metrics['r2']:.3f}  mae: {report.metrics['mae']:.4g}")
    where = f" in {report.interpreter} (layer {report.layer})" if report.interpreter else ""
    console.print(f"trained {report.estimator_class.rpartition('.')[2]} on {report.dataset} "
                  f"({report.train_rows} train / {report.test_rows} test rows){where}")
    console.print(f"wrote [bold]{report.model_path}[/] ({human_bytes(report.bytes)}, sha256 {report.sha256[:12]}…) "
                  f"and {report.manifest_path.name}")
