"""Fixtures for the function area: trained model directories and the handler loaded in-process."""

from __future__ import annotations

import importlib.util
import itertools
import os
import shutil
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType

import pytest

from lambdapack.model.train import train
from lambdapack.templates import template_path

_counter = itertools.count()


@pytest.fixture(scope="session")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str, str], Path]:
    """``trained(dataset, estimator)``: a model directory from lambdapack's own ``train``, made once."""
    cache: dict[tuple[str, str], Path] = {}

    def make(dataset: str, estimator: str) -> Path:
        key = (dataset, estimator)
        if key not in cache:
            out = tmp_path_factory.mktemp(f"{dataset}-{estimator}") / "model"
            train(dataset=dataset, estimator=estimator, out=out)
            cache[key] = out
        return cache[key]

    return make


@pytest.fixture
def load_handler(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., ModuleType]]:
    """``load_handler(model_dir, env={...})``: the handler template imported from a fresh task dir.

    Each call copies the template and the model into its own directory and imports it under a
    new module name, so every call runs the handler's init again, like a new Lambda sandbox.
    """
    names: list[str] = []

    def load(model_dir: Path, env: dict[str, str] | None = None) -> ModuleType:
        for key in [k for k in os.environ if k.startswith("LAMBDAPACK_")]:
            monkeypatch.delenv(key)
        for key, value in (env or {}).items():
            monkeypatch.setenv(key, value)
        task = tmp_path / f"task{next(_counter)}"
        task.mkdir()
        shutil.copy(template_path("lambda_function.py"), task / "lambda_function.py")
        for item in Path(model_dir).iterdir():
            if item.is_file():
                shutil.copy(item, task / item.name)
        name = f"lambda_function_under_test_{next(_counter)}"
        spec = importlib.util.spec_from_file_location(name, task / "lambda_function.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        names.append(name)
        try:
            spec.loader.exec_module(module)
        except BaseException:
            del sys.modules[name]
            raise
        return module

    yield load
    for name in names:
        sys.modules.pop(name, None)


@pytest.fixture
def iris_handler(iris_model: Path, load_handler: Callable[..., ModuleType]) -> ModuleType:
    return load_handler(iris_model)
