"""Where the compiler and the function's runtime live, as a model's own Python loads them by file."""

from __future__ import annotations

from pathlib import Path

from lambdapack.template_files import template_path

COMPILER = Path(__file__).resolve().with_name("compiler")
RUNTIME = "lambdapack_runtime"  # the package beside the handler in every function zip


def compiler_modules() -> dict[str, Path]:
    """What the child loads by file: the stdlib runtime (the predictor it proves) and the compiler."""
    return {RUNTIME: template_path(RUNTIME), "lambdapack_compiler": COMPILER}
