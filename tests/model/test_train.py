"""train(): the guide's defaults, every dataset and estimator path, determinism, atomic output."""

from __future__ import annotations

import importlib.metadata
import platform
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
