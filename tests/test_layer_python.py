"""The one seam for running lambdapack's code in a layer's Python: isolation, the protocol, its failures."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lambdapack.archive import ZipEntry, write_zip
from lambdapack.errors import LayerError
from lambdapack.layer.inspect import inspect_layer
from lambdapack.layer_python import ChildFailure, LayerPython
from lambdapack.targets import host_arch

PROBE = '''
import sys, time

def where(request):
    import layer_only
    return {"ok": True, "path": sys.path, "layer_only": layer_only.__file__, "echo": request}

def host_library(request):
    import pytest  # installed beside lambdapack, never in the layer
    return {"ok": True}

def refuse(request):
    return {"ok": False, "kind": "unsupported", "message": "not this one"}

def chatty(request):
    print("a library writing to stdout")
    return {"ok": True}

def crash(request):
    raise RuntimeError("boom")

def slow(request):
    time.sleep(30)
'''


@pytest.fixture
def layer_env(tmp_path: Path, python312: Path) -> LayerPython:
    record = {"schema": "lambdapack.layer/1", "runtime": "python3.12", "arch": None, "python_version": "3.12",
              "abi": "cp312", "glibc": None, "platforms": [], "site_packages": "python/lib/python3.12/site-packages",
              "packages": [], "options": {}, "compiled_with": None}
    path = tmp_path / "layer.zip"
    write_zip(path, [ZipEntry("lambdapack-layer.json", json.dumps(record).encode()),
                     ZipEntry("python/lib/python3.12/site-packages/layer_only.py", b"X = 1\n")])
    return LayerPython.for_layers([inspect_layer(path)], python312)


@pytest.fixture
def probe(tmp_path: Path) -> dict[str, Path]:
    (tmp_path / "probe.py").write_text(PROBE)
    return {"probe": tmp_path / "probe.py"}


def test_the_child_sees_the_layer_and_the_standard_library_only(layer_env: LayerPython,
                                                                probe: dict[str, Path]) -> None:
    reply = layer_env.call("probe:where", {"a": [1, 2]}, probe)
    assert reply["echo"] == {"a": [1, 2]}
    assert Path(reply["layer_only"]).is_relative_to(layer_env.opt_dir)
    assert not [p for p in reply["path"] if "site-packages" in p and not Path(p).is_relative_to(layer_env.opt_dir)]
    with pytest.raises(ChildFailure) as caught:
        layer_env.call("probe:host_library", {}, probe)
    assert caught.value.kind == "import" and "pytest" in caught.value.message


def test_this_python_keeps_its_own_libraries(probe: dict[str, Path]) -> None:
    assert LayerPython.here().call("probe:host_library", {}, probe) == {"ok": True}


@pytest.mark.parametrize(("entry", "kind", "message"), [
    ("probe:refuse", "unsupported", "not this one"),
    ("probe:crash", "crash", "RuntimeError: boom"),
    ("probe:missing", "crash", "has no attribute 'missing'"),
])
def test_failures_come_back_with_their_kind(entry: str, kind: str, message: str, layer_env: LayerPython,
                                            probe: dict[str, Path]) -> None:
    with pytest.raises(ChildFailure, match=message) as caught:
        layer_env.call(entry, {}, probe)
    assert caught.value.kind == kind


def test_a_chatty_library_does_not_corrupt_the_reply(layer_env: LayerPython, probe: dict[str, Path]) -> None:
    assert layer_env.call("probe:chatty", {}, probe) == {"ok": True}


def test_a_child_over_its_time_is_stopped(layer_env: LayerPython, probe: dict[str, Path]) -> None:
    with pytest.raises(ChildFailure, match=r"over 0\.5 s") as caught:
        layer_env.call("probe:slow", {}, probe, timeout=0.5)
    assert caught.value.kind == "timeout"


def test_a_layer_for_another_machine_is_refused_with_a_hint(tmp_path: Path) -> None:
    other = "arm64" if host_arch() == "x86_64" else "x86_64"
    path = tmp_path / "other.zip"
    record = {"schema": "lambdapack.layer/1", "runtime": "python3.12", "arch": other, "python_version": "3.12",
              "abi": "cp312", "glibc": "2.34", "platforms": [], "site_packages": "python/lib/python3.12/site-packages",
              "packages": [], "options": {}, "compiled_with": None}
    write_zip(path, [ZipEntry("lambdapack-layer.json", json.dumps(record).encode())])
    with pytest.raises(LayerError, match=f"is built for {other}") as caught:
        LayerPython.for_layers([inspect_layer(path)])
    assert "--arch" in caught.value.hint
