"""model.json: round trip, and a clear ModelError for every way a manifest can be unusable."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from lambdapack.errors import ModelError
from lambdapack.model.manifest import SCHEMA, Manifest, load_manifest, load_versions, read_versions, verify_model_file


@pytest.fixture
def model_dir(iris_model: Path, tmp_path: Path) -> Path:
    """A private copy of the session's iris model, free to corrupt."""
    return Path(shutil.copytree(iris_model, tmp_path / "model"))


def _edit(model_dir: Path, change) -> None:  # type: ignore[no-untyped-def]
    path = model_dir / "model.json"
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data))


def test_round_trip_is_exact(iris_model: Path) -> None:
    text = (iris_model / "model.json").read_text()
    manifest = load_manifest(iris_model)
    assert manifest.schema == SCHEMA
    assert manifest.to_json() == text
    assert Manifest.from_dict(json.loads(text)) == manifest


def test_load_accepts_the_manifest_path_itself(iris_model: Path) -> None:
    assert load_manifest(iris_model / "model.json") == load_manifest(iris_model)


def test_missing_directory(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="no such model directory") as info:
        load_manifest(tmp_path / "nope")
    assert "lambdapack train" in info.value.hint


def test_missing_manifest(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="no model manifest"):
        load_manifest(tmp_path)


def test_corrupt_json_names_the_line(model_dir: Path) -> None:
    (model_dir / "model.json").write_text('{\n  "schema": "lambdapack.model/1",\n  oops\n}')
    with pytest.raises(ModelError, match="invalid JSON at line 3"):
        load_manifest(model_dir)


def test_unknown_schema_is_refused(model_dir: Path) -> None:
    _edit(model_dir, lambda d: d.update(schema="lambdapack.model/3"))
    with pytest.raises(ModelError, match=r"unknown manifest schema 'lambdapack\.model/3'") as info:
        load_manifest(model_dir)
    assert "upgrade lambdapack" in info.value.hint


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d.pop("features"), "missing field 'features'"),
        (lambda d: d.update(task="clustering"), "task must be one of"),
        (lambda d: d.update(features=[]), "features is empty"),
        (lambda d: d.update(features=[{"name": "a"}, {"name": "a"}]), "feature names repeat"),
        (lambda d: d.update(classes=[1, 2]), "classes must be a list of strings"),
        (lambda d: d["model"].update(bytes="many"), "field 'bytes' has the wrong type"),
        (lambda d: d["model"].update(file="../evil.joblib"), "plain file name"),
        (lambda d: d["model"].update(sha256="abc"), "not a sha256"),
        (lambda d: d.update(metrics={"accuracy": "high"}), "metrics must be finite numbers"),
        (lambda d: d.update(dataset=[1]), "dataset must be an object"),
    ],
)
def test_malformed_fields_are_named(model_dir: Path, change, message: str) -> None:  # type: ignore[no-untyped-def]
    _edit(model_dir, change)
    with pytest.raises(ModelError, match=message):
        load_manifest(model_dir)


def test_not_an_object(model_dir: Path) -> None:
    (model_dir / "model.json").write_text("[1, 2]")
    with pytest.raises(ModelError, match="not a JSON object"):
        load_manifest(model_dir)


def test_verify_accepts_the_written_file(iris_model: Path) -> None:
    assert verify_model_file(iris_model, load_manifest(iris_model)) == iris_model / "model.joblib"


def test_verify_refuses_a_changed_model(model_dir: Path) -> None:
    with open(model_dir / "model.joblib", "r+b") as fh:
        fh.seek(100)
        byte = fh.read(1)
        fh.seek(100)
        fh.write(bytes([byte[0] ^ 1]))
    with pytest.raises(ModelError, match="does not match the manifest"):
        verify_model_file(model_dir, load_manifest(model_dir))


def test_verify_refuses_a_missing_model(model_dir: Path) -> None:
    (model_dir / "model.joblib").unlink()
    with pytest.raises(ModelError, match="model file missing"):
        verify_model_file(model_dir, load_manifest(model_dir))


def test_the_version_readers_share_the_schema_rule(model_dir: Path, tmp_path: Path) -> None:
    versions = load_manifest(model_dir).versions
    raw = (model_dir / "model.json").read_bytes()
    assert read_versions(raw, "function.zip:model.json") == versions
    assert load_versions(model_dir) == versions
    # check-layer --model has always taken a bare {"versions": ...}; an unknown schema never
    bare = tmp_path / "bare"
    bare.mkdir()
    (bare / "model.json").write_text(json.dumps({"versions": {"scikit-learn": "1.9.1"}}))
    assert load_versions(bare) == {"scikit-learn": "1.9.1"}
    (bare / "model.json").write_text(json.dumps({"schema": "lambdapack.model/9", "versions": {}}))
    with pytest.raises(ModelError, match="unknown manifest schema"):
        load_versions(bare)
    with pytest.raises(ModelError, match="unknown manifest schema"):
        read_versions(json.dumps({"versions": {}}), "function.zip:model.json")
    with pytest.raises(ModelError, match="versions must be strings"):
        read_versions(json.dumps({"schema": SCHEMA, "versions": {"numpy": 2}}), "function.zip:model.json")
