"""model import: a fitted estimator gets a manifest; anything else gets one clear error."""

from __future__ import annotations

import importlib.metadata
import pickle
from pathlib import Path

import joblib
import pytest
from sklearn.linear_model import LinearRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.tree import DecisionTreeClassifier

from lambdapack.archive import sha256_file
from lambdapack.errors import ModelError
from lambdapack.model.importer import import_model
from lambdapack.model.manifest import load_manifest, verify_model_file

X = [[0.0, 1.0, 2.0], [1.0, 0.0, 1.0], [2.0, 2.0, 0.0], [3.0, 1.0, 1.0]]


def _dump(obj: object, path: Path) -> Path:
    joblib.dump(obj, path)
    return path


def test_import_a_classifier(tmp_path: Path) -> None:
    src = _dump(DecisionTreeClassifier(random_state=0).fit(X, [0, 1, 0, 1]), tmp_path / "mine.joblib")
    report = import_model(src, "a,b,c", "no,yes", out=tmp_path / "m")
    manifest = load_manifest(tmp_path / "m")
    verify_model_file(tmp_path / "m", manifest)
    assert (tmp_path / "m" / "model.joblib").read_bytes() == src.read_bytes()
    assert report.sha256 == sha256_file(src)
    assert manifest.task == "classification"
    assert manifest.estimator.class_path == "sklearn.tree.DecisionTreeClassifier"
    assert manifest.estimator.params["random_state"] == 0
    assert manifest.feature_names == ("a", "b", "c")
    assert manifest.classes == ("no", "yes")
    assert manifest.dataset is None and dict(manifest.metrics) == {}
    assert manifest.versions["scikit-learn"] == importlib.metadata.version("scikit-learn")


def test_import_defaults_class_names_to_the_labels(tmp_path: Path) -> None:
    src = _dump(DecisionTreeClassifier().fit(X, ["cat", "dog", "cat", "dog"]), tmp_path / "m.joblib")
    import_model(src, ["a", "b", "c"], out=tmp_path / "m")
    assert load_manifest(tmp_path / "m").classes == ("cat", "dog")


def test_import_a_pipeline_regressor_written_with_pickle(tmp_path: Path) -> None:
    path = tmp_path / "pipe.pkl"
    path.write_bytes(pickle.dumps(make_pipeline(StandardScaler(), LinearRegression()).fit(X, [1, 2, 3, 4])))
    report = import_model(path, "a,b,c", out=tmp_path / "m")
    assert report.task == "regression" and report.classes is None
    assert load_manifest(tmp_path / "m").estimator.class_path == "sklearn.pipeline.Pipeline"


@pytest.mark.parametrize(("content", "message"), [
    (b"hello, I am not a pickle", "cannot load the model"),
    (b"", "cannot load the model"),
    (pickle.dumps({"weights": [1, 2]}), "holds a builtins.dict, not an estimator with predict"),
    (pickle.dumps(DecisionTreeClassifier()), "holds an unfitted DecisionTreeClassifier"),
])
def test_bad_model_files(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "bad.joblib"
    path.write_bytes(content)
    with pytest.raises(ModelError, match=message) as info:
        import_model(path, "a,b,c", out=tmp_path / "m")
    assert info.value.hint
    assert not (tmp_path / "m").exists()


def test_pickle_of_a_missing_module(tmp_path: Path) -> None:
    # a pickle referring to code that is not installed here: GLOBAL 'no_such_module thing'
    path = tmp_path / "ghost.pkl"
    path.write_bytes(b"cno_such_module\nthing\n)\x81.")
    with pytest.raises(ModelError, match="ModuleNotFoundError"):
        import_model(path, "a", out=tmp_path / "m")


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="no such file"):
        import_model(tmp_path / "nope.joblib", "a", out=tmp_path / "m")


def test_feature_count_must_match(tmp_path: Path) -> None:
    src = _dump(DecisionTreeClassifier().fit(X, [0, 1, 0, 1]), tmp_path / "m.joblib")
    with pytest.raises(ModelError, match="the model takes 3 features, --features names 2"):
        import_model(src, "a,b", out=tmp_path / "m")


def test_class_count_must_match(tmp_path: Path) -> None:
    src = _dump(DecisionTreeClassifier().fit(X, [0, 1, 0, 1]), tmp_path / "m.joblib")
    with pytest.raises(ModelError, match="the model has 2 classes, --classes names 3") as info:
        import_model(src, "a,b,c", "x,y,z", out=tmp_path / "m")
    assert "0, 1" in info.value.hint


def test_regressor_with_classes(tmp_path: Path) -> None:
    src = _dump(LinearRegression().fit(X, [1, 2, 3, 4]), tmp_path / "m.joblib")
    with pytest.raises(ModelError, match="--classes given for a regressor"):
        import_model(src, "a,b,c", "x,y", out=tmp_path / "m")


@pytest.mark.parametrize(("features", "message"), [("a,,c", "empty name"), ("a,b,a", "repeats 'a'")])
def test_bad_feature_lists(tmp_path: Path, features: str, message: str) -> None:
    src = _dump(DecisionTreeClassifier().fit(X, [0, 1, 0, 1]), tmp_path / "m.joblib")
    with pytest.raises(ModelError, match=message):
        import_model(src, features, out=tmp_path / "m")


def test_model_pickled_by_another_sklearn_is_refused(tmp_path: Path) -> None:
    model = DecisionTreeClassifier().fit(X, [0, 1, 0, 1])
    state = model.__getstate__()
    state["_sklearn_version"] = "0.24.2"  # what sklearn stamps into every pickle it writes

    class Stamped(DecisionTreeClassifier):
        def __reduce__(self):  # type: ignore[no-untyped-def]
            return (DecisionTreeClassifier, (), state)

    path = tmp_path / "old.joblib"
    path.write_bytes(pickle.dumps(Stamped()))
    with pytest.raises(ModelError, match=r"pickled by scikit-learn 0\.24\.2, this environment has") as info:
        import_model(path, "a,b,c", out=tmp_path / "m")
    assert "retrain" in info.value.hint
