"""bench_handler's timing child runs in the layer's Python with only the layer, as on Lambda."""

from __future__ import annotations

import json
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest
from bench_support import load_bench

handler = load_bench("bench_handler")

pytestmark = pytest.mark.slow


def test_the_timing_child_imports_the_layers_libraries_in_the_layers_python(
        real_layer: Callable[..., Path]) -> None:
    layer = real_layer(runtime="python3.12", arch="x86_64", compile=False)
    runner = handler.Runner(layer)
    assert runner.command[1:4] == ["-I", "-S", "-B"]
    assert [Path(p).name for p in runner.sys_path] == ["site-packages", "python"]
    reply = runner({"what": "versions"})  # no timing asked: the child says where it ran
    assert reply["python"].startswith("3.12.")
    with zipfile.ZipFile(layer) as zf:
        record = json.loads(zf.read("lambdapack-layer.json"))
    packages = {p["name"]: p["version"] for p in record["packages"]}
    assert reply["versions"] == {"scikit-learn": packages["scikit-learn"], "numpy": packages["numpy"]}
