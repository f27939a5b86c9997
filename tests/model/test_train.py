"""train(): the guide's defaults, every dataset and estimator path, determinism, atomic output."""

from __future__ import annotations

import importlib.metadata
import os
import platform
import subprocess
import sys
from pathlib import Path

import joblib
import pytest

from lambdapack.archive import sha256_file
from lambdapack.errors import ModelError
from lambdapack.model.manifest import load_manifest, verify_model_file
from lambdapack.model.train import train


def test_default_reproduces_the_guide(iris_model: Path) -> None:
    manifest = load_manifest(iris_model)
    assert manifest.task == "classification"
    assert manifest.estimator.class_path == "sklearn.ensemble.RandomForestClassifier"
    assert manifest.dataset is not None
    dataset = manifest.dataset
    assert (dataset.name, dataset.test_size, dataset.split_random_state) == ("iris", 0.33, 42)
    assert [f.alias for f in manifest.features] == ["sl", "sw", "pl", "pw"]
    assert manifest.classes == ("setosa", "versicolor", "virginica")
    assert manifest.metrics["accuracy"] >= 0.96
    model = joblib.load(verify_model_file(iris_model, manifest))
    # the guide's event: a virginica flower
    assert manifest.classes[int(model.predict([[6.9, 3.1, 5.1, 2.3]])[0])] == "virginica"


def test_manifest_versions_are_the_environments(iris_model: Path) -> None:
    versions = load_manifest(iris_model).versions
    assert versions["python"] == platform.python_version()
    for dist in ("scikit-learn", "numpy", "scipy", "joblib", "threadpoolctl"):
        assert versions[dist] == importlib.metadata.version(dist)


def test_sha256_and_size_match_the_file(iris_model: Path) -> None:
    manifest = load_manifest(iris_model)
    path = iris_model / "model.joblib"
    assert manifest.model.sha256 == sha256_file(path)
    assert manifest.model.bytes == path.stat().st_size


def test_two_runs_are_byte_identical(tmp_path: Path, iris_model: Path) -> None:
    report = train(out=tmp_path / "again")
    assert (tmp_path / "again" / "model.joblib").read_bytes() == (iris_model / "model.joblib").read_bytes()
    assert (tmp_path / "again" / "model.json").read_bytes() == (iris_model / "model.json").read_bytes()
    assert report.sha256 == load_manifest(iris_model).model.sha256


def test_compressed_model_is_deterministic_and_smaller(tmp_path: Path, iris_model: Path) -> None:
    first = train(out=tmp_path / "a", compress=3)
    second = train(out=tmp_path / "b", compress=3)
    assert first.sha256 == second.sha256
    assert first.bytes < load_manifest(iris_model).model.bytes
    assert joblib.load(first.model_path).predict([[6.9, 3.1, 5.1, 2.3]])[0] == 2


def test_retrain_replaces_the_pair_and_leaves_no_temporaries(tmp_path: Path) -> None:
    out = tmp_path / "model"
    train(out=out, estimator="decision_tree")
    report = train(out=out, estimator="knn")
    assert sorted(p.name for p in out.iterdir()) == ["model.joblib", "model.json"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]
    assert load_manifest(out).estimator.class_path == "sklearn.neighbors.KNeighborsClassifier"
    assert report.sha256 == sha256_file(out / "model.joblib")


def test_out_with_other_files_keeps_them(tmp_path: Path) -> None:
    out = tmp_path / "model"
    out.mkdir()
    (out / "README").write_text("mine")
    train(out=out, estimator="naive_bayes")
    assert (out / "README").read_text() == "mine"
    verify_model_file(out, load_manifest(out))


def test_failure_writes_nothing(tmp_path: Path) -> None:
    out = tmp_path / "model"
    with pytest.raises(ModelError, match="n_estimators"):
        train(out=out, params=["n_estimators=-3"])
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(("dataset", "estimator", "features", "classes"), [
    ("wine", "extra_trees", 13, ("class_0", "class_1", "class_2")),
    ("breast_cancer", "random_forest", 30, ("malignant", "benign")),
    ("digits", "knn", 64, tuple(str(i) for i in range(10))),
    ("diabetes", "ridge", 10, None),
])
def test_each_bundled_dataset(tmp_path: Path, dataset: str, estimator: str, features: int,
                              classes: tuple[str, ...] | None) -> None:
    report = train(dataset=dataset, estimator=estimator, out=tmp_path / "m")
    manifest = load_manifest(tmp_path / "m")
    assert manifest.dataset is not None and manifest.dataset.name == dataset
    assert len(manifest.features) == features
    assert manifest.classes == classes
    if classes:
        assert report.metrics["accuracy"] > 0.9
    else:
        assert report.metrics["r2"] > 0.3
    assert joblib.load(report.model_path).n_features_in_ == features


def _iris_csv(path: Path) -> Path:
    from sklearn.datasets import load_iris

    bunch = load_iris()
    lines = ["sl,sw,pl,pw,species"]
    for row, label in zip(bunch.data, bunch.target, strict=True):
        lines.append(",".join(repr(float(v)) for v in row) + "," + str(bunch.target_names[label]))
    path.write_text("\n".join(lines) + "\n")
    return path


def test_csv_with_string_labels(tmp_path: Path) -> None:
    csv = _iris_csv(tmp_path / "iris.csv")
    report = train(csv=csv, target="species", out=tmp_path / "m")
    manifest = load_manifest(tmp_path / "m")
    assert manifest.classes == ("setosa", "versicolor", "virginica")
    assert [f.name for f in manifest.features] == ["sl", "sw", "pl", "pw"]
    assert manifest.dataset is not None
    assert (manifest.dataset.name, manifest.dataset.source, manifest.dataset.target) == ("iris.csv", "csv", "species")
    assert report.metrics["accuracy"] >= 0.96
    assert joblib.load(report.model_path).predict([[6.9, 3.1, 5.1, 2.3]])[0] == "virginica"
    # string labels pickle byte-stably too
    assert train(csv=csv, target="species", out=tmp_path / "again").sha256 == report.sha256


def test_csv_regression(tmp_path: Path) -> None:
    csv = tmp_path / "line.csv"
    csv.write_text("x,noise,y\n" + "".join(f"{i},{i % 3},{2 * i + 1}\n" for i in range(60)))
    report = train(csv=csv, target="y", estimator="linear_regression", out=tmp_path / "m")
    assert report.task == "regression"
    assert report.metrics["r2"] > 0.99 and report.metrics["mae"] < 1e-6


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"dataset": "diabetes"}, "diabetes is a regression dataset but random_forest is a classification estimator"),
    ({"estimator": "svr"}, "iris is a classification dataset"),
    ({"dataset": "iris", "csv": Path("x.csv"), "target": "y"}, "--dataset and --csv both given"),
    ({"target": "y"}, "--target only applies to --csv"),
    ({"compress": 10}, "--compress 10 is out of range"),
    ({"test_size": 1.0}, "--test-size 1.0 must be between 0 and 1"),
    ({"params": ["n_estimators"]}, "is not key=value"),
    ({"estimator": "xgboost"}, "unknown estimator"),
])
def test_bad_options(tmp_path: Path, kwargs: dict, message: str) -> None:  # type: ignore[type-arg]
    with pytest.raises(ModelError, match=message):
        train(out=tmp_path / "m", **kwargs)
    assert not (tmp_path / "m").exists()


def test_too_few_rows_to_split(tmp_path: Path) -> None:
    csv = tmp_path / "tiny.csv"
    csv.write_text("a,label\n1,x\n2,y\n")
    with pytest.raises(ModelError, match="cannot split 2 rows"):
        train(csv=csv, target="label", test_size=0.9, out=tmp_path / "m")
    with pytest.raises(ModelError, match="training split of 2 rows holds a single class"):
        train(csv=csv, target="label", test_size=0.1, out=tmp_path / "m")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tiny.csv"]


def test_out_that_is_a_file(tmp_path: Path) -> None:
    (tmp_path / "m").write_text("")
    with pytest.raises(ModelError, match="is a file"):
        train(out=tmp_path / "m")


def test_byte_identical_across_processes_and_hash_seeds(tmp_path: Path) -> None:
    """String labels and dicts inside the pickle must not depend on PYTHONHASHSEED."""
    csv = _iris_csv(tmp_path / "iris.csv")
    seed = "1" if os.environ.get("PYTHONHASHSEED") != "1" else "2"  # differ from this process's seed
    subprocess.run([sys.executable, "-m", "lambdapack", "train", "--csv", str(csv), "--target", "species",
                    "--estimator", "extra_trees", "--out", str(tmp_path / "child")],
                   check=True, capture_output=True, env={**os.environ, "PYTHONHASHSEED": seed})
    here = train(csv=csv, target="species", estimator="extra_trees", out=tmp_path / "here")
    assert sha256_file(tmp_path / "child" / "model.joblib") == here.sha256


def test_progress_steps_are_reported(tmp_path: Path) -> None:
    steps: list[str] = []
    train(estimator="naive_bayes", out=tmp_path / "m", on_step=steps.append)
    assert steps == ["loading the data", "training GaussianNB"]
