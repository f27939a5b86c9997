"""The demo's own decisions (the full run is in test_real_layer.py, slow)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lambdapack.archive import ZipEntry, write_zip
from lambdapack.demo import DemoLayer, _reusable_layer, ensure_model, pick_runtime
from lambdapack.errors import InterpreterError, ModelError


def test_no_interpreter_at_all(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    monkeypatch.setenv("PYENV_ROOT", str(empty))
    with pytest.raises(InterpreterError, match=r"no CPython 3\.10-3\.13") as info:
        pick_runtime()
    assert "pyenv install 3.12" in info.value.hint
    with pytest.raises(InterpreterError, match=r"python3\.11"):
        pick_runtime("python3.11")


def test_a_layer_is_reused_only_when_it_matches(tmp_path: Path) -> None:
    def layer(name: str, runtime: str, arch: str, packages: list[str]) -> Path:
        path = tmp_path / name
        record = {"schema": "lambdapack.layer/1", "runtime": runtime, "arch": arch,
                  "python_version": runtime.removeprefix("python"),
                  "packages": [{"name": p, "version": "1"} for p in packages]}
        write_zip(path, [ZipEntry("lambdapack-layer.json", json.dumps(record).encode())])
        return path

    good = layer("good.zip", "python3.12", "x86_64", ["joblib", "numpy", "scikit-learn"])
    assert _reusable_layer(good, "python3.12", "x86_64") is not None
    assert _reusable_layer(good, "python3.11", "x86_64") is None
    assert _reusable_layer(good, "python3.12", "arm64") is None
    assert _reusable_layer(layer("bare.zip", "python3.12", "x86_64", ["numpy"]), "python3.12", "x86_64") is None
    assert _reusable_layer(tmp_path / "missing.zip", "python3.12", "x86_64") is None
    (tmp_path / "junk.zip").write_text("not a zip")
    assert _reusable_layer(tmp_path / "junk.zip", "python3.12", "x86_64") is None


def test_demo_refuses_to_overwrite_another_model(tmp_path: Path) -> None:
    from lambdapack.model.train import train

    train(dataset="wine", out=tmp_path / "build" / "model")
    layer = DemoLayer(path=tmp_path / "layer.zip", runtime="python3.12", arch="x86_64", zip_bytes=0,
                      unzipped_bytes=0, direct_upload_limit=0, unzipped_limit=0, packages={}, reused=True,
                      seconds=0.0)
    with pytest.raises(ModelError, match="holds another model") as info:
        ensure_model(tmp_path, layer, Path("python3.12"), lambda _message: None)
    assert "--dir" in info.value.hint
