from __future__ import annotations

import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest


@pytest.mark.slow
def test_real_layer_fixture_builds_once_per_argument_set(real_layer: Callable[..., Path]) -> None:
    first = real_layer()
    assert real_layer() == first
    names = zipfile.ZipFile(first).namelist()
    assert "lambdapack-layer.json" in names
    assert any(n.startswith("python/lib/python3.12/site-packages/sklearn/") for n in names)
    assert not any(n.endswith(".pyc") for n in names)
