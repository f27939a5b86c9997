"""Pinning a layer to a model: the versions to pin for a runtime, and the refusal naming both ways out."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from lambdapack.errors import ModelError, ResolveError, VersionMismatchError
from lambdapack.model.layer_pins import explain_resolve_failure, layer_pins, newest_loadable, uncarriable
from lambdapack.model.manifest import load_manifest
from lambdapack.targets import Target


def _model_with(iris_model: Path, tmp_path: Path, **versions: str) -> Path:
    model = Path(shutil.copytree(iris_model, tmp_path / "model"))
    doc = json.loads((model / "model.json").read_text())
    doc["versions"].update(versions)
    (model / "model.json").write_text(json.dumps(doc))
    return model


def test_pins_are_the_manifests_versions(iris_model: Path) -> None:
    versions = load_manifest(iris_model).versions
    assert layer_pins(iris_model, Target.for_runtime("python3.12", "x86_64")) == [
        f"{name}=={versions[name]}" for name in ("scikit-learn", "numpy", "scipy", "joblib")]


def test_a_model_using_xgboost_pins_it_through_xgboost_cpu(iris_model: Path, tmp_path: Path) -> None:
    model = _model_with(iris_model, tmp_path, xgboost="3.1.0", lightgbm="4.6.0")
    pins = layer_pins(model, Target.for_runtime("python3.12", "x86_64"))
    assert pins[-2:] == ["xgboost-cpu==3.1.0", "lightgbm==4.6.0"]
    assert not any(p.startswith("xgboost==") for p in pins)


def test_amazon_linux_2_caps_only_its_runtimes() -> None:
    assert newest_loadable(Target.for_runtime("python3.11", "x86_64"))["scikit-learn"] == "1.7.2"
    assert newest_loadable(Target.for_runtime("python3.10", "arm64")) == {"scikit-learn": "1.7.0"}
    assert newest_loadable(Target.for_runtime("python3.12", "x86_64")) == {}
    assert newest_loadable(Target.for_runtime("python3.13", "arm64")) == {}


def test_uncarriable_compares_versions_not_strings() -> None:
    target = Target.for_runtime("python3.11", "x86_64")
    assert uncarriable({"scikit-learn": "1.7.2", "numpy": "2.2.6", "scipy": "1.10.0"}, target) == []
    problems = uncarriable({"scikit-learn": "1.10.0", "numpy": "2.2.6"}, target)
    assert [(p.package, p.wanted, p.newest) for p in problems] == [("scikit-learn", "1.10.0", "1.7.2")]


def test_sklearn_19_model_for_python311_names_both_ways_out(iris_model: Path, tmp_path: Path) -> None:
    model = _model_with(iris_model, tmp_path, **{"scikit-learn": "1.9.1", "numpy": "2.5.5"})
    with pytest.raises(VersionMismatchError) as info:
        layer_pins(model, Target.for_runtime("python3.11", "x86_64"))
    message, hint = info.value.message, info.value.hint
    assert "trained with scikit-learn 1.9.1, numpy 2.5.5" in message
    assert "python3.11 (Amazon Linux 2, glibc 2.26) loads at most scikit-learn 1.7.2, numpy 2.2.6" in message
    assert "lambdapack build-layer --runtime python3.11 --arch x86_64" in hint
    assert "lambdapack train --layer dist/layer-python3.11-x86_64.zip" in hint
    assert "--runtime python3.12 or newer" in hint


def test_old_model_fits_python311(iris_model: Path, tmp_path: Path) -> None:
    model = _model_with(iris_model, tmp_path, **{"scikit-learn": "1.6.1", "numpy": "2.2.6", "scipy": "1.15.3"})
    assert layer_pins(model, Target.for_runtime("python3.11", "x86_64"))[:3] == [
        "scikit-learn==1.6.1", "numpy==2.2.6", "scipy==1.15.3"]


def test_corrupt_manifest_is_refused(tmp_path: Path) -> None:
    (tmp_path / "model.json").write_text("{}")
    with pytest.raises(ModelError, match="unknown manifest schema"):
        layer_pins(tmp_path, Target.for_runtime("python3.12", "x86_64"))


def test_resolver_failure_is_restated_as_the_tie(iris_model: Path) -> None:
    error = explain_resolve_failure(ResolveError("no matching distribution for numpy==2.4.6"), iris_model,
                                    Target.for_runtime("python3.14", "x86_64"))
    assert isinstance(error, VersionMismatchError)
    assert "no wheels for the model's pinned versions (scikit-learn==" in error.message
    assert "no matching distribution for numpy==2.4.6" in error.message
    assert "train --layer dist/layer-python3.14-x86_64.zip" in error.hint
    assert "another runtime with wheels for these versions" in error.hint


def test_build_layer_model_refuses_before_downloading(iris_model: Path, tmp_path: Path, run_cli) -> None:  # type: ignore[no-untyped-def]
    model = _model_with(iris_model, tmp_path, **{"scikit-learn": "1.9.1"})
    result = run_cli("build-layer", "--runtime", "python3.11", "--model", str(model), "--no-compile",
                     "--cache-dir", str(tmp_path / "cache"), "-o", str(tmp_path / "layer.zip"))
    assert result.exit_code == 1
    assert "was trained with scikit-learn 1.9.1" in result.stderr
    assert "loads at most scikit-learn 1.7.2" in result.stderr
    assert "train --layer dist/layer-python3.11-x86_64.zip" in result.stderr
    assert "--runtime python3.12 or newer" in result.stderr
    assert not (tmp_path / "layer.zip").exists()


@pytest.mark.slow
def test_build_layer_model_pins_the_layer(iris_model: Path, real_layer, run_cli) -> None:  # type: ignore[no-untyped-def]
    from lambdapack.layer.record import read_record

    layer = real_layer(runtime="python3.12", arch="x86_64", compile=False, model=iris_model)
    record = read_record(layer)
    assert record is not None
    held = {p["name"]: p["version"] for p in record["packages"]}
    versions = load_manifest(iris_model).versions
    for name in ("scikit-learn", "numpy", "scipy", "joblib"):
        assert held[name] == versions[name]
    result = run_cli("check-layer", str(layer), "--model", str(iris_model))
    assert result.exit_code == 0, result.stderr
