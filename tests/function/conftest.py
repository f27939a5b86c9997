"""Fixtures for the function area: trained model directories and the handler loaded in-process."""

from __future__ import annotations

import itertools
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType

import pytest
from function_support import forget_handler_modules, import_handler, lay_out_task

from lambdapack.model.train import train

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
    """``load_handler(model_dir, env={...}, predictor=True)``: the handler imported from a fresh task dir.

    Each call lays out a task directory as ``package`` would (handler, its runtime package, the model,
    and with ``predictor`` the compiled predictor and function.json) and imports it under a new
    module name with fresh copies of the modules, so every call runs init again, like a new Lambda
    sandbox. ``module.model`` and ``module.service`` are the task's ``lambdapack_runtime`` modules.
    """
    names: list[str] = []

    def load(model_dir: Path, env: dict[str, str] | None = None, predictor: bool = True) -> ModuleType:
        for key in [k for k in os.environ if k.startswith("LAMBDAPACK_")]:
            monkeypatch.delenv(key)
        for key, value in (env or {}).items():
            monkeypatch.setenv(key, value)
        task = lay_out_task(model_dir, tmp_path / f"task{next(_counter)}", predictor)
        name = f"lambda_function_under_test_{next(_counter)}"
        names.append(name)
        return import_handler(task, name)

    yield load
    for name in names:
        sys.modules.pop(name, None)
    forget_handler_modules()


@pytest.fixture
def iris_handler(iris_model: Path, load_handler: Callable[..., ModuleType]) -> ModuleType:
    return load_handler(iris_model)
