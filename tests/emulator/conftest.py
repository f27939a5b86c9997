"""Emulator fixtures (helpers live in emulator_support.py)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from emulator_support import Logs, make_function, make_layer

from lambdapack.emulator.invoker import LocalFunction
from lambdapack.emulator.session import LocalFunctionSpec, open_function


@pytest.fixture(scope="session")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(function.zip, layer.zip) for the host's Python."""
    root = tmp_path_factory.mktemp("tiny")
    return make_function(root), make_layer(root)


@pytest.fixture
def logs() -> Logs:
    return Logs()


@pytest.fixture
def local_function(tiny: tuple[Path, Path], logs: Logs) -> Iterator[Callable[..., LocalFunction]]:
    """Open the tiny function with Lambda settings of the test's choosing; closed at teardown."""
    opened: list[object] = []

    def open_(**settings: object) -> LocalFunction:
        function_zip, layer = tiny
        spec = LocalFunctionSpec(function_zip, (layer,), **settings)  # type: ignore[arg-type]
        context = open_function(spec, log_sink=logs)
        opened.append(context)
        return context.__enter__()

    yield open_
    for context in reversed(opened):
        context.__exit__(None, None, None)  # type: ignore[attr-defined]
