"""train --layer: refusals before anything runs, the child protocol, and a real python3.12 layer (slow)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from lambdapack import interpreters
from lambdapack.archive import ZipEntry, safe_extract, write_zip
from lambdapack.errors import InterpreterError, LayerError, ModelError
from lambdapack.layer.inspect import Host, LayerInfo, inspect_layer
from lambdapack.layer.record import read_record
from lambdapack.model import version_rule
from lambdapack.model.isolated import check_runnable_here, layer_for_training
from lambdapack.model.manifest import load_manifest
from lambdapack.model.train import train
from lambdapack.targets import host_machine


def _record(**changes: object) -> bytes:
    record = {"schema": "lambdapack.layer/1", "runtime": "python3.12", "arch": "x86_64", "python_version": "3.12",
              "abi": "cp312", "glibc": "2.34", "platforms": [], "site_packages": "python/lib/python3.12/site-packages",
              "packages": [{"name": "numpy", "version": "2.5.5", "sha256": "0" * 64,
                            "wheel": "numpy-2.5.5-cp312-cp312-manylinux_2_27_x86_64.manylinux_2_28_x86_64.whl"}],
              "options": {}, "compiled_with": None}
    record.update(changes)
    return json.dumps(record).encode()


def _layer(tmp_path: Path, record: bytes | None, files: dict[str, bytes] | None = None) -> Path:
    entries = [ZipEntry(name, data) for name, data in (files or {}).items()]
    if record is not None:
        entries.append(ZipEntry("lambdapack-layer.json", record))
    path = tmp_path / "layer.zip"
    write_zip(path, entries)
    return path


def _info(**changes: object) -> LayerInfo:
    fields = {"path": Path("layer.zip"), "runtime": "python3.12", "python": (3, 12), "arch": "x86_64",
              "site_packages": "python/lib/python3.12/site-packages", "glibc_needed": (2, 28), "packages": (),
              "record": None, "unzipped_bytes": 0, "zip_bytes": 0, "sha256": "0" * 64}
    fields.update(changes)
    return LayerInfo(**fields)  # type: ignore[arg-type]


def test_inspect_reads_the_record(tmp_path: Path) -> None:
    info = inspect_layer(_layer(tmp_path, _record()))
    assert (info.python, info.arch, info.glibc_needed) == ((3, 12), "x86_64", (2, 27))
    assert info.record is not None and info.record["runtime"] == "python3.12"


def test_inspect_without_record_uses_the_layout(tmp_path: Path) -> None:
    info = inspect_layer(_layer(tmp_path, None, {"python/lib/python3.11/site-packages/x.py": b""}))
    assert (info.python, info.arch, info.record) == ((3, 11), None, None)
    assert info.site_packages == "python/lib/python3.11/site-packages"


def test_not_a_layer(tmp_path: Path) -> None:
    with pytest.raises(LayerError, match="not a Python layer"):
        layer_for_training(_layer(tmp_path, None, {"README": b"hi"}))


def test_unknown_record_schema(tmp_path: Path) -> None:
    with pytest.raises(LayerError, match=r"unknown layer record schema 'lambdapack\.layer/9'"):
        read_record(_layer(tmp_path, _record(schema="lambdapack.layer/9")))


def test_malformed_record(tmp_path: Path) -> None:
    with pytest.raises(LayerError, match="is malformed"):
        inspect_layer(_layer(tmp_path, _record(python_version="three")))


def test_not_a_zip(tmp_path: Path) -> None:
    (tmp_path / "layer.zip").write_text("nope")
    with pytest.raises(Exception, match="not a valid zip"):
        inspect_layer(tmp_path / "layer.zip")


def test_refuses_another_architecture() -> None:
    with pytest.raises(ModelError, match=r"built for arm64 \(aarch64\); this machine is x86_64") as info:
        check_runnable_here(_info(arch="arm64"), Host("linux", "x86_64", (2, 36)))
    assert "without --layer" in info.value.hint


def test_macos_arm64_is_aarch64_but_not_linux() -> None:
    with pytest.raises(ModelError, match="Linux binaries; they cannot run on darwin"):
        check_runnable_here(_info(arch="arm64"), Host("darwin", "aarch64", None))
    check_runnable_here(_info(arch="arm64"), Host("linux", "aarch64", (2, 36)))


def test_refuses_an_older_glibc() -> None:
    with pytest.raises(ModelError, match=r"needs glibc 2\.28; this machine has 2\.17"):
        check_runnable_here(_info(), Host("linux", "x86_64", (2, 17)))
    check_runnable_here(_info(), Host("linux", host_machine("AMD64"), (2, 28)))


def test_arch_refusal_through_train(tmp_path: Path) -> None:
    other = "arm64" if __import__("platform").machine() == "x86_64" else "x86_64"
    layer = _layer(tmp_path, _record(arch=other))
    with pytest.raises(ModelError, match=f"built for {other}"):
        train(layer=layer, out=tmp_path / "m")
    assert not (tmp_path / "m").exists()


def test_bad_python_override(tmp_path: Path) -> None:
    layer = _layer(tmp_path, _record())
    with pytest.raises(InterpreterError, match=r"is not a CPython 3\.12 interpreter"):
        train(layer=layer, python="/bin/true", out=tmp_path / "m")


def test_no_interpreter_for_the_layer(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(interpreters, "find_python", lambda version, explicit=None: None)
    layer = _layer(tmp_path, _record(python_version="3.14", site_packages="python/lib/python3.14/site-packages"))
    with pytest.raises(InterpreterError, match=r"no CPython 3\.14 interpreter found"):
        train(layer=layer, out=tmp_path / "m")


def test_layer_without_sklearn_is_refused_by_the_child(tmp_path: Path, python312: Path) -> None:
    # the host has scikit-learn; the child must not see it
    layer = _layer(tmp_path, _record(), {"python/lib/python3.12/site-packages/placeholder.py": b""})
    with pytest.raises(ModelError, match=r"cannot train a model here: .*No module named 'joblib'") as info:
        train(layer=layer, out=tmp_path / "m")
    assert "carry scikit-learn" in info.value.hint
    assert sorted(p.name for p in tmp_path.iterdir()) == ["layer.zip"]


def test_child_is_isolated_from_the_host_environment(tmp_path: Path, python312: Path) -> None:
    """The child runs with -I -S: sys.path is the stdlib plus only what the request adds."""
    from lambdapack.model import _child_train

    probe = "import sys, json; print(json.dumps(sys.path))"
    done = subprocess.run([str(python312), "-I", "-S", "-B", "-c", probe], capture_output=True, text=True, check=True,
                          env={"PYTHONPATH": str(Path(_child_train.__file__).parents[2])})
    assert not any("site-packages" in p for p in json.loads(done.stdout))


_LOAD_STRICTLY = """
import json, sys, warnings
sys.path[:0] = json.loads(sys.argv[1])
warnings.simplefilter("error")
import joblib, sklearn
model = joblib.load(sys.argv[2])
print(json.dumps({"prediction": int(model.predict([[6.9, 3.1, 5.1, 2.3]])[0]), "sklearn": sklearn.__file__}))
"""


@pytest.mark.slow
def test_train_on_a_real_layer_loads_there_without_any_warning(real_layer, tmp_path: Path,  # type: ignore[no-untyped-def]
                                                                python312: Path) -> None:
    layer = real_layer(runtime="python3.12", arch="x86_64", compile=False)
    report = train(layer=layer, out=tmp_path / "model")
    again = train(layer=layer, out=tmp_path / "again")
    assert again.sha256 == report.sha256  # deterministic in the child too
    assert (tmp_path / "again/model.json").read_bytes() == (tmp_path / "model/model.json").read_bytes()
    manifest = load_manifest(tmp_path / "model")
    assert manifest.versions["python"].startswith("3.12.")
    assert version_rule.version_mismatches(manifest.versions, inspect_layer(layer).versions) == []
    assert report.metrics["accuracy"] >= 0.96
    assert report.interpreter is not None and "3.12" in report.interpreter

    root = tmp_path / "opt"
    safe_extract(layer, root)
    paths = [str(root / "python/lib/python3.12/site-packages"), str(root / "python")]
    done = subprocess.run([str(python312), "-I", "-S", "-B", "-W", "error", "-c", _LOAD_STRICTLY, json.dumps(paths),
                           str(report.model_path)], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    result = json.loads(done.stdout)
    assert manifest.classes is not None and manifest.classes[result["prediction"]] == "virginica"
    assert result["sklearn"].startswith(str(root))


@pytest.mark.slow
def test_check_layer_model_names_the_mismatch(real_layer, iris_model: Path, tmp_path: Path, run_cli) -> None:  # type: ignore[no-untyped-def]
    layer = real_layer(runtime="python3.12", arch="x86_64", compile=False)
    model = Path(shutil.copytree(iris_model, tmp_path / "model"))
    doc = json.loads((model / "model.json").read_text())
    doc["versions"]["scikit-learn"] = "1.5.2"
    (model / "model.json").write_text(json.dumps(doc))
    result = run_cli("check-layer", str(layer), "--model", str(model))
    assert result.exit_code == 1
    assert "scikit-learn 1.5.2 (model) vs layer has" in result.stderr
    assert f"lambdapack build-layer --model {model}" in result.stderr
    assert f"lambdapack train --layer {layer}" in result.stderr
