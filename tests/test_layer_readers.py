"""Every command that reads a layer judges the same zip the same way.

``train --layer``, ``invoke --local``/``serve``, ``package --layer`` and ``deploy`` each get the
same five layers and the same request (a python3.12 function). Each either accepts a layer and
sees exactly the facts :func:`lambdapack.layer.inspect.inspect_layer` reports, or refuses it
naming the fact that decided: its architecture, its Python, or its missing build record.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from lambdapack import layer_python
from lambdapack.archive import ZipEntry, write_zip
from lambdapack.deploy import preflight
from lambdapack.deploy.models import Artifact
from lambdapack.emulator import code
from lambdapack.errors import EmulatorError, LambdapackError
from lambdapack.function.package import check_layer_for_model
from lambdapack.layer.inspect import LayerInfo, inspect_layer
from lambdapack.model.isolated import layer_for_training
from lambdapack.model.manifest import EstimatorInfo, Feature, Manifest, ModelFile
from lambdapack.targets import host_arch

HERE = host_arch()
OTHER = "arm64" if HERE == "x86_64" else "x86_64"
VERSIONS = {"scikit-learn": "1.7.2", "numpy": "2.2.6", "scipy": "1.16.3", "joblib": "1.5.2"}
WANTED_RUNTIME = "python3.12"  # what the function being served, packaged or deployed runs on


def _record(python: str = "3.12", arch: str = HERE) -> bytes:
    packages = [{"name": n, "version": v, "wheel": f"{n.replace('-', '_')}-{v}-py3-none-any.whl", "sha256": "0" * 64}
                for n, v in sorted(VERSIONS.items())]
    return json.dumps({"schema": "lambdapack.layer/1", "runtime": f"python{python}", "arch": arch,
                       "python_version": python, "abi": "cp" + python.replace(".", ""), "glibc": "2.34",
                       "platforms": [], "site_packages": f"python/lib/python{python}/site-packages",
                       "packages": packages, "options": {}, "compiled_with": None}).encode()


LAYERS: dict[str, list[ZipEntry]] = {
    "good": [ZipEntry("lambdapack-layer.json", _record()),
             ZipEntry("python/lib/python3.12/site-packages/sklearn/__init__.py", b"")],
    "foreign-arch": [ZipEntry("lambdapack-layer.json", _record(arch=OTHER)),
                     ZipEntry("python/lib/python3.12/site-packages/sklearn/__init__.py", b"")],
    "foreign-python": [ZipEntry("lambdapack-layer.json", _record(python="3.11")),
                       ZipEntry("python/lib/python3.11/site-packages/sklearn/__init__.py", b"")],
    "no-record": [ZipEntry("python/sklearn/__init__.py", b"")],
    "hand-made": [ZipEntry("python/lib/python3.11/site-packages/sklearn/__init__.py", b"")],
}

# layer -> consumer -> None (accepted) or a fragment of the refusal
EXPECTED: dict[str, dict[str, str | None]] = {
    "good": {"train": None, "invoke": None, "package": None, "deploy": None},
    "foreign-arch": {"train": f"built for {OTHER}", "invoke": f"built for {OTHER}", "package": None, "deploy": None},
    "foreign-python": {"train": None, "invoke": "python3.11", "package": "python3.11", "deploy": "python3.11"},
    "no-record": {"train": "not a Python layer", "invoke": None, "package": "lambdapack-layer.json",
                  "deploy": "lambdapack-layer.json"},
    "hand-made": {"train": None, "invoke": "python3.11", "package": "lambdapack-layer.json",
                  "deploy": "lambdapack-layer.json"},
}

MANIFEST = Manifest(task="classification", estimator=EstimatorInfo("sklearn.ensemble.RandomForestClassifier"),
                    dataset=None, features=(Feature("sl"),), classes=("a", "b"), metrics={},
                    versions={**VERSIONS, "python": "3.12.1"}, model=ModelFile("model.joblib", 1, "0" * 64))


def _train(path: Path) -> dict[str, object]:
    layer, python = layer_for_training(path)
    return {"runtime": layer.runtime, "arch": layer.arch, "python_version": "{}.{}".format(*python)}


def _invoke(path: Path) -> dict[str, object]:
    (layer,) = code.inspect_layers([path])
    version, runtime = layer_python.check_runnable([layer], WANTED_RUNTIME, EmulatorError)
    return {"runtime": runtime if layer.runtime else None, "arch": layer.arch, "python_version": version}


def _package(path: Path) -> dict[str, object]:
    checked = check_layer_for_model(path, MANIFEST, WANTED_RUNTIME)
    return {"runtime": checked.runtime, "arch": checked.arch, "python_version": checked.python_version}


def _deploy(path: Path) -> dict[str, object]:
    layer = preflight.read_layer_zip(path)
    function = preflight.FunctionInfo(Artifact(path, "0" * 64, 1, 1), versions=dict(MANIFEST.versions))
    inputs = preflight.check_inputs(layer, function, WANTED_RUNTIME, None)
    assert layer.facts == inspect_layer(path)
    return {"runtime": inputs.runtime, "arch": inputs.arch, "python_version": layer.python_version}


CONSUMERS: dict[str, Callable[[Path], dict[str, object]]] = {
    "train": _train, "invoke": _invoke, "package": _package, "deploy": _deploy,
}


@pytest.fixture(scope="module")
def layers(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("layers")
    out = {}
    for name, entries in LAYERS.items():
        out[name] = root / f"{name}.zip"
        write_zip(out[name], entries)
    return out


def _facts(info: LayerInfo) -> dict[str, object]:
    return {"runtime": info.runtime, "arch": info.arch, "python_version": info.python_version}


@pytest.mark.parametrize("layer", list(LAYERS))
@pytest.mark.parametrize("consumer", list(CONSUMERS))
def test_every_command_judges_a_layer_alike(layers: dict[str, Path], layer: str, consumer: str) -> None:
    path = layers[layer]
    refusal = EXPECTED[layer][consumer]
    if refusal is None:
        assert CONSUMERS[consumer](path) == _facts(inspect_layer(path))
        return
    with pytest.raises(LambdapackError) as caught:
        CONSUMERS[consumer](path)
    assert refusal in caught.value.message, caught.value.message
    assert caught.value.hint


def test_the_facts_of_each_layer(layers: dict[str, Path]) -> None:
    seen = {name: _facts(inspect_layer(path)) for name, path in layers.items()}
    assert seen == {
        "good": {"runtime": "python3.12", "arch": HERE, "python_version": "3.12"},
        "foreign-arch": {"runtime": "python3.12", "arch": OTHER, "python_version": "3.12"},
        "foreign-python": {"runtime": "python3.11", "arch": HERE, "python_version": "3.11"},
        "no-record": {"runtime": None, "arch": None, "python_version": None},
        "hand-made": {"runtime": "python3.11", "arch": None, "python_version": "3.11"},
    }


def test_the_record_and_the_zip_are_read_once_for_all(layers: dict[str, Path]) -> None:
    info = inspect_layer(layers["good"])
    assert info.versions == VERSIONS
    assert info.record is not None and info.record["schema"] == "lambdapack.layer/1"
    assert info.zip_bytes == layers["good"].stat().st_size
    assert len(info.sha256) == 64 and info.unzipped_bytes == len(_record())
    assert info.site_packages == "python/lib/python3.12/site-packages"


def test_a_layer_for_several_pythons_is_refused_by_every_reader(tmp_path: Path) -> None:
    path = tmp_path / "two.zip"
    write_zip(path, [ZipEntry("python/lib/python3.11/site-packages/a.py", b""),
                     ZipEntry("python/lib/python3.12/site-packages/a.py", b"")])
    for consumer in ("train", "invoke"):
        with pytest.raises(LambdapackError, match=r"site-packages for several Pythons \(3\.11, 3\.12\)"):
            CONSUMERS[consumer](path)


def test_the_architecture_of_a_layer_without_a_record_is_its_elf_header(tmp_path: Path) -> None:
    machine = 183 if OTHER == "arm64" else 62
    header = b"\x7fELF\x02\x01\x01" + b"\x00" * 11 + machine.to_bytes(2, "little") + b"\x00" * 44
    path = tmp_path / "native.zip"
    write_zip(path, [ZipEntry("python/lib/python3.12/site-packages/fast.cpython-312-x.so", header)])
    assert inspect_layer(path).arch == OTHER
    for consumer in ("train", "invoke"):
        with pytest.raises(LambdapackError, match=f"built for {OTHER}"):
            CONSUMERS[consumer](path)
