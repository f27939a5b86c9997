"""``package_function`` and ``lambdapack package``: a deterministic zip, refused when it cannot serve."""

from __future__ import annotations

import hashlib
import json
import shutil
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest
from function_support import SEED, import_handler

from lambdapack import archive, targets
from lambdapack.errors import ModelError, PackageError, VersionMismatchError
from lambdapack.function.package import HANDLER, package_function
from lambdapack.template_files import template_path


@pytest.fixture
def model_copy(iris_model: Path, tmp_path: Path) -> Path:
    out = tmp_path / "model"
    shutil.copytree(iris_model, out)
    return out


def _layer_zip(path: Path, versions: dict[str, str] | None, extra: dict[str, bytes] | None = None) -> Path:
    entries = [archive.ZipEntry("python/lib/python3.12/site-packages/sklearn/__init__.py", b"# stub\n")]
    if versions is not None:
        record = {"schema": "lambdapack.layer/1", "runtime": "python3.12", "arch": "x86_64",
                  "python_version": "3.12",
                  "packages": [{"name": n, "version": v} for n, v in sorted(versions.items())]}
        entries.append(archive.ZipEntry("lambdapack-layer.json", json.dumps(record).encode()))
    for name, data in (extra or {}).items():
        entries.append(archive.ZipEntry(name, data))
    archive.write_zip(path, entries)
    return path


def _versions(model_dir: Path) -> dict[str, str]:
    return json.loads((model_dir / "model.json").read_text())["versions"]


SOURCES = ("lambda_function.py", *sorted(f"lambdapack_runtime/{p.name}"
                                         for p in template_path("lambdapack_runtime").glob("*.py")))
PACKAGED = ("function.json", *SOURCES, "model.joblib", "model.json", "model.predictor")
PYCS = tuple(f"{Path(name).parent / '__pycache__' / Path(name).stem}.cpython-312.pyc".removeprefix("./")
             for name in SOURCES)


def test_package_holds_handler_model_predictor_and_manifests(iris_model: Path, tmp_path: Path) -> None:
    out = tmp_path / "dist" / "function.zip"
    report = package_function(iris_model, out)
    assert report.path == out and report.handler == HANDLER
    assert report.files == tuple(sorted((*PACKAGED, *PYCS)))
    with zipfile.ZipFile(out) as zf:
        for name in SOURCES:
            assert zf.read(name) == template_path(name).read_bytes()
        assert zf.read("model.joblib") == (iris_model / "model.joblib").read_bytes()
        assert zf.read("model.json") == (iris_model / "model.json").read_bytes()
        function = json.loads(zf.read("function.json"))
        predictor = zf.read("model.predictor")
        assert sum(i.file_size for i in zf.infolist()) == report.unzipped_bytes
    assert function["serving"] == "predictor" and function["needs_layer"] is False
    assert function["predictor"]["sha256"] == hashlib.sha256(predictor).hexdigest()
    assert function["predictor"]["bytes"] == len(predictor) == report.predictor.bytes
    # the guide's forest: a predictor smaller than the pickle it replaces
    assert len(predictor) <= 1.5 * (iris_model / "model.joblib").stat().st_size
    assert report.predictor.verification["leaves"] > 0
    assert report.predictor.verification["unreachable_leaves"] == 0
    assert report.pycs.python is not None and report.pycs.python.startswith("3.12.")
    assert report.sha256 == archive.sha256_file(out)
    assert report.model_sha256 == json.loads((iris_model / "model.json").read_text())["model"]["sha256"]
    assert report.layer is None and report.direct_upload


def test_no_predictor_packages_the_joblib_path(iris_model: Path, tmp_path: Path) -> None:
    report = package_function(iris_model, tmp_path / "f.zip", predictor=False)
    assert "model.predictor" not in report.files
    assert report.function.serving == "joblib" and report.function.needs_layer
    assert report.function.reason == "packaged with --no-predictor"


def test_package_is_deterministic(iris_model: Path, tmp_path: Path) -> None:
    first = package_function(iris_model, tmp_path / "a.zip")
    second = package_function(iris_model, tmp_path / "b.zip")
    assert first.sha256 == second.sha256
    assert (tmp_path / "a.zip").read_bytes() == (tmp_path / "b.zip").read_bytes()


def test_packaged_function_answers_the_guide(iris_model: Path, tmp_path: Path) -> None:
    package_function(iris_model, tmp_path / "function.zip")
    task = tmp_path / "task"
    archive.safe_extract(tmp_path / "function.zip", task)
    try:
        module = import_handler(task, "packaged_lambda_function")
        assert module.lambda_handler(SEED, None) == {"statusCode": 200, "body": "virginica"}
    finally:
        sys.modules.pop("packaged_lambda_function", None)


def test_tampered_model_is_refused_and_nothing_written(model_copy: Path, tmp_path: Path) -> None:
    with open(model_copy / "model.joblib", "ab") as fh:
        fh.write(b"\0")
    out = tmp_path / "function.zip"
    with pytest.raises(ModelError, match="does not match the manifest"):
        package_function(model_copy, out)
    assert not out.exists()
    assert list(tmp_path.glob(".function.zip.*")) == []


def test_missing_model_dir_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ModelError) as info:
        package_function(tmp_path / "nowhere", tmp_path / "f.zip")
    assert "lambdapack train" in info.value.hint


def test_matching_layer_is_checked_and_sized(iris_model: Path, tmp_path: Path) -> None:
    layer = _layer_zip(tmp_path / "layer.zip", _versions(iris_model))
    report = package_function(iris_model, tmp_path / "f.zip", layer=layer)
    assert report.layer is not None
    assert report.layer.runtime == "python3.12" and report.layer.arch == "x86_64"
    assert report.layer.versions["scikit-learn"] == _versions(iris_model)["scikit-learn"]
    with zipfile.ZipFile(layer) as zf:
        assert report.layer.unzipped_bytes == sum(i.file_size for i in zf.infolist())
    assert report.combined_unzipped_bytes == report.unzipped_bytes + report.layer.unzipped_bytes


def test_version_mismatch_is_refused_with_both_ways_out(iris_model: Path, tmp_path: Path) -> None:
    versions = dict(_versions(iris_model), numpy="1.0.0")
    versions.pop("scipy")
    layer = _layer_zip(tmp_path / "layer.zip", versions)
    with pytest.raises(VersionMismatchError) as info:
        package_function(iris_model, tmp_path / "f.zip", layer=layer)
    assert "numpy" in info.value.message and "1.0.0" in info.value.message
    assert "scipy" in info.value.message and "layer lacks it" in info.value.message
    assert "lambdapack build-layer --model" in info.value.hint
    assert "lambdapack train --layer" in info.value.hint
    assert not (tmp_path / "f.zip").exists()


def test_layer_without_a_record_is_refused(iris_model: Path, tmp_path: Path) -> None:
    layer = _layer_zip(tmp_path / "layer.zip", None)
    with pytest.raises(PackageError, match=r"no lambdapack-layer\.json"):
        package_function(iris_model, tmp_path / "f.zip", layer=layer)


def test_not_a_zip_layer_is_refused(iris_model: Path, tmp_path: Path) -> None:
    bad = tmp_path / "layer.zip"
    bad.write_bytes(b"not a zip")
    with pytest.raises(Exception, match="not a valid zip") as info:
        package_function(iris_model, tmp_path / "f.zip", layer=bad)
    assert info.value.hint


def test_combined_size_over_the_limit_is_refused(iris_model: Path, tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    layer = _layer_zip(tmp_path / "layer.zip", _versions(iris_model), {"python/big.bin": b"\0" * 200_000})
    monkeypatch.setattr(targets, "UNZIPPED_LIMIT", 300_000)
    with pytest.raises(PackageError, match="over Lambda's limit of 300,000"):
        package_function(iris_model, tmp_path / "f.zip", layer=layer)
    assert not (tmp_path / "f.zip").exists()


def test_cli_package_json(run_cli: Callable, iris_model: Path, in_tmp: Path) -> None:  # type: ignore[type-arg]
    shutil.copytree(iris_model, in_tmp / "build" / "model")
    result = run_cli("package", "--json")
    assert result.exit_code == 0, result.stderr
    doc = result.json()
    assert doc["path"] == "dist/function.zip"
    assert doc["sha256"] == archive.sha256_file(in_tmp / "dist" / "function.zip")
    assert doc["files"] == sorted((*PACKAGED, *PYCS))
    assert doc["function"]["serving"] == "predictor"


def test_cli_package_human_output_and_layer(run_cli: Callable, iris_model: Path,  # type: ignore[type-arg]
                                            in_tmp: Path) -> None:
    layer = _layer_zip(in_tmp / "layer.zip", _versions(iris_model))
    result = run_cli("package", "--model", str(iris_model), "--out", "out/f.zip", "--layer", str(layer))
    assert result.exit_code == 0, result.stderr
    assert result.stdout == ""
    assert "packaged out/f.zip" in result.stderr and "versions agree" in result.stderr


def test_cli_package_error_is_one_line_and_a_hint(run_cli: Callable, in_tmp: Path) -> None:  # type: ignore[type-arg]
    result = run_cli("package", "--model", "missing")
    assert result.exit_code == 1
    assert result.stderr.startswith("error: ")
    assert "hint: " in result.stderr and "Traceback" not in result.stderr


def test_cli_package_help_has_examples(run_cli: Callable) -> None:  # type: ignore[type-arg]
    result = run_cli("package", "--help")
    assert result.exit_code == 0
    assert "lambdapack package --layer" in result.stdout


def test_model_may_name_the_manifest_itself(iris_model: Path, tmp_path: Path) -> None:
    report = package_function(iris_model / "model.json", tmp_path / "f.zip")
    assert report.model_dir == iris_model
    assert report.sha256 == package_function(iris_model, tmp_path / "g.zip").sha256


def test_out_that_is_a_directory_is_refused(iris_model: Path, tmp_path: Path) -> None:
    with pytest.raises(PackageError, match="is a directory") as info:
        package_function(iris_model, tmp_path)
    assert "function.zip" in info.value.hint
