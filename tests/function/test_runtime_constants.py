"""The function's runtime cannot import lambdapack: each fact it repeats must equal its owner's in the library."""

from __future__ import annotations

import sys
from types import ModuleType

import pytest

from lambdapack import defaults
from lambdapack.function import manifest as function_manifest
from lambdapack.layer import record
from lambdapack.model import manifest as model_manifest
from lambdapack.model import version_rule
from lambdapack.predictor import build
from lambdapack.template_files import template_path


@pytest.fixture(scope="module")
def runtime() -> dict[str, ModuleType]:
    sys.path.insert(0, str(template_path("lambdapack_runtime").parent))
    try:
        from lambdapack_runtime import config, manifests, model, predictor, trees
    finally:
        sys.path.pop(0)
    return {"config": config, "manifests": manifests, "model": model, "predictor": predictor, "trees": trees}


def test_file_names_and_schemas(runtime: dict[str, ModuleType]) -> None:
    manifests = runtime["manifests"]
    assert manifests.MODEL_SCHEMA == model_manifest.SCHEMA
    assert manifests.MODEL_SCHEMAS == model_manifest.SCHEMAS
    assert manifests.MODEL_MANIFEST == model_manifest.MANIFEST_FILE
    assert manifests.FUNCTION_SCHEMA == function_manifest.SCHEMA
    assert manifests.FUNCTION_MANIFEST == function_manifest.FUNCTION_MANIFEST
    assert manifests.LAYER_SCHEMA == record.SCHEMA
    assert manifests.LAYER_RECORD == record.RECORD_NAME


def test_version_rule(runtime: dict[str, ModuleType]) -> None:
    assert runtime["manifests"].PINNED_PACKAGES == version_rule.PINNED_PACKAGES
    assert runtime["manifests"].LAYER_ALIASES == version_rule.LAYER_ALIASES


def test_predictor_format_and_row_threshold(runtime: dict[str, ModuleType]) -> None:
    assert runtime["predictor"].FORMAT == build.FORMAT
    assert runtime["model"].DEFAULT_PREDICTOR_MAX_ROWS == build.MAX_ROWS


def test_handler_name(runtime: dict[str, ModuleType]) -> None:
    module, _, function = defaults.HANDLER.partition(".")
    assert f"{module}.py" == defaults.HANDLER_FILE
    assert f"def {function}(event, context):" in template_path(defaults.HANDLER_FILE).read_text()
