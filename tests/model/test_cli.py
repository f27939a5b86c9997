"""lambdapack train / model import / model show through the CLI: output streams and exit codes."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import joblib
from sklearn.tree import DecisionTreeClassifier


def test_train_prints_the_guides_line(run_cli, in_tmp: Path, iris_model: Path) -> None:  # type: ignore[no-untyped-def]
    result = run_cli("train")
    assert result.exit_code == 0, result.stderr
    assert "Testing accuracy: 0.98" in result.stderr
    assert result.stdout == ""
    assert (in_tmp / "build/model/model.joblib").read_bytes() == (iris_model / "model.joblib").read_bytes()


def test_train_json(run_cli, in_tmp: Path) -> None:  # type: ignore[no-untyped-def]
    result = run_cli("train", "--dataset", "wine", "--estimator", "decision_tree", "--out", "wine", "--json")
    assert result.exit_code == 0, result.stderr
    doc = result.json()
    assert doc["metrics"]["accuracy"] > 0.8
    assert doc["dataset"] == "wine" and doc["estimator"] == "decision_tree"
    assert doc["model_path"] == "wine/model.joblib"
    assert json.loads((in_tmp / "wine/model.json").read_text())["model"]["sha256"] == doc["sha256"]


def test_train_regressor_output(run_cli, in_tmp: Path) -> None:  # type: ignore[no-untyped-def]
    result = run_cli("train", "--dataset", "diabetes", "--estimator", "ridge", "--param", "alpha=0.5")
    assert result.exit_code == 0, result.stderr
    assert "Testing r2: 0." in result.stderr and "mae:" in result.stderr


def test_train_errors_exit_1_with_a_hint(run_cli, in_tmp: Path) -> None:  # type: ignore[no-untyped-def]
    for args, message in [
        (("--dataset", "mnist"), "error: unknown dataset 'mnist'"),
        (("--estimator", "xgboost"), "error: unknown estimator 'xgboost'"),
        (("--param", "n_estimators=0"), "'n_estimators' parameter of RandomForestClassifier"),
        (("--csv", "missing.csv", "--target", "y"), "missing.csv: no such file"),
        (("--layer", "missing.zip"), "missing.zip: no such file"),
    ]:
        result = run_cli("train", *args)
        assert result.exit_code == 1, args
        assert message in result.stderr, result.stderr
        assert "hint:" in result.stderr
        assert "Traceback" not in result.stderr
    assert list(in_tmp.iterdir()) == []


def test_warnings_from_fitting_reach_the_user(run_cli, in_tmp: Path) -> None:  # type: ignore[no-untyped-def]
    result = run_cli("train", "--estimator", "logistic_regression", "--param", "max_iter=1")
    assert result.exit_code == 0, result.stderr
    assert "warning: ConvergenceWarning" in result.stderr


def test_model_show(run_cli, iris_model: Path) -> None:  # type: ignore[no-untyped-def]
    result = run_cli("model", "show", str(iris_model))
    assert result.exit_code == 0, result.stderr
    for text in ("RandomForestClassifier", "sepal length (cm) (sl)", "setosa, versicolor, virginica", "matches"):
        assert text in result.stderr
    doc = run_cli("model", "show", str(iris_model), "--json").json()
    assert doc["manifest"] == json.loads((iris_model / "model.json").read_text())  # type: ignore[index]
    assert doc["file_ok"] is True  # type: ignore[index]


def test_model_show_reports_a_changed_file(run_cli, iris_model: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    copy = Path(shutil.copytree(iris_model, tmp_path / "m"))
    (copy / "model.joblib").write_bytes(b"tampered")
    doc = run_cli("model", "show", str(copy), "--json").json()
    assert doc["file_ok"] is False and "does not match" in doc["file_problem"]  # type: ignore[index]


def test_model_show_missing(run_cli, in_tmp: Path) -> None:  # type: ignore[no-untyped-def]
    result = run_cli("model", "show")
    assert result.exit_code == 1
    assert "error: build/model: no such model directory" in result.stderr


def test_model_import(run_cli, in_tmp: Path) -> None:  # type: ignore[no-untyped-def]
    joblib.dump(DecisionTreeClassifier().fit([[0, 1], [1, 0]], [0, 1]), in_tmp / "mine.joblib")
    result = run_cli("model", "import", "mine.joblib", "--features", "x,y", "--classes", "off,on", "--json")
    assert result.exit_code == 0, result.stderr
    assert result.json()["classes"] == ["off", "on"]  # type: ignore[index]
    assert (in_tmp / "build/model/model.json").exists()
    bad = run_cli("model", "import", "mine.joblib", "--features", "x")
    assert bad.exit_code == 1 and "the model takes 2 features" in bad.stderr


def test_help_has_examples(run_cli) -> None:  # type: ignore[no-untyped-def]
    for args in (("train",), ("model",), ("model", "import"), ("model", "show")):
        result = run_cli(*args, "--help")
        assert result.exit_code == 0 and "Examples:" in result.stdout
