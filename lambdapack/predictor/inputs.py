"""A fitted model's inputs read in this Python: for ``train`` and ``model import``, which hold the model here.

The reading itself is the compiler's (:mod:`lambdapack.predictor.compiler.schema`), the same
code that runs in a layer's Python for ``train --layer`` and ``package``; it asks the model
through the function's own runtime (``lambdapack_runtime``), registered here by file as the
layer's Python registers it.
"""

from __future__ import annotations

import sys
from typing import Any

from lambdapack._layer_child import load
from lambdapack.predictor.files import RUNTIME
from lambdapack.template_files import template_path

# the same function in a layer's Python, loaded with lambdapack.predictor.files.compiler_modules()
DESCRIBE_IN_CHILD = "lambdapack_compiler.schema:describe"


def runtime_importable() -> None:
    """``lambdapack_runtime`` importable here, registered by file as a layer's Python registers it."""
    if RUNTIME not in sys.modules:
        load(RUNTIME, str(template_path(RUNTIME)))


def describe_here(model: Any, names: list[str], aliases: list[str | None] | None = None) -> dict:
    """``{"features": [...typed inputs...], "input_frame": ..., "blocker": ...}`` of a model loaded here."""
    runtime_importable()
    from lambdapack.predictor.compiler.schema import describe

    return describe(model, list(names), aliases)
