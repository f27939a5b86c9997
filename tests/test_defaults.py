"""The Lambda defaults (handler, memory, timeout) are one fact: every command agrees with lambdapack.defaults."""

from __future__ import annotations

import dataclasses

import click
import pytest

from lambdapack import defaults
from lambdapack.cli.demo import demo_command
from lambdapack.cli.deploy import deploy, export_sam
from lambdapack.cli.invoke import invoke_command
from lambdapack.cli.model import import_command, show_command
from lambdapack.cli.package import package as package_command
from lambdapack.cli.serve import serve_command
from lambdapack.cli.train import train_command
from lambdapack.deploy import models, preflight
from lambdapack.emulator.process import SandboxConfig
from lambdapack.emulator.session import LocalFunctionSpec
from lambdapack.function import package
from lambdapack.function.manifest import FunctionManifest
from lambdapack.template_files import template_bytes

# option name -> the default it must have, whichever command declares it
EXPECTED = {"handler": defaults.HANDLER, "memory": defaults.MEMORY_MB, "memory_mb": defaults.MEMORY_MB,
            "timeout": defaults.TIMEOUT_S, "timeout_s": defaults.TIMEOUT_S}


@pytest.mark.parametrize("command", [invoke_command, serve_command, deploy, export_sam, demo_command],
                         ids=lambda c: c.name)
def test_every_cli_option_defaults_to_the_defaults_module(command: click.Command) -> None:
    declared = {p.name: p.default for p in command.params if p.name in EXPECTED}
    assert declared, f"{command.name} declares none of {sorted(EXPECTED)}"
    assert declared == {name: EXPECTED[name] for name in declared}


def _field_default(cls: type, name: str) -> object:
    return next(f.default for f in dataclasses.fields(cls) if f.name == name)


def test_the_emulator_deploy_and_package_use_the_same_defaults() -> None:
    for cls in (LocalFunctionSpec, SandboxConfig):
        assert (_field_default(cls, "handler"), _field_default(cls, "memory_mb"), _field_default(cls, "timeout_s")) \
            == (defaults.HANDLER, defaults.MEMORY_MB, defaults.TIMEOUT_S)
    assert _field_default(models.FunctionSpec, "handler") == defaults.HANDLER
    assert (models.DEFAULT_MEMORY, models.DEFAULT_TIMEOUT) == (defaults.MEMORY_MB, defaults.TIMEOUT_S)
    assert (preflight.MEMORY_RANGE, preflight.TIMEOUT_RANGE) == (defaults.MEMORY_RANGE_MB, defaults.TIMEOUT_RANGE_S)
    assert package.HANDLER == _field_default(FunctionManifest, "handler") == defaults.HANDLER


def test_the_default_handler_is_the_one_the_template_defines() -> None:
    module, _, function = defaults.HANDLER.partition(".")
    assert f"{module}.py" == defaults.HANDLER_FILE
    assert f"\ndef {function}(event, context):" in template_bytes(defaults.HANDLER_FILE).decode()


def test_the_defaults_are_within_lambdas_bounds() -> None:
    assert defaults.MEMORY_RANGE_MB[0] <= defaults.MEMORY_MB <= defaults.MEMORY_RANGE_MB[1]
    assert defaults.TIMEOUT_RANGE_S[0] <= defaults.TIMEOUT_S <= defaults.TIMEOUT_RANGE_S[1]


# (command, option) -> the path it must default to
PATHS = {(train_command, "out"): defaults.MODEL_DIR, (import_command, "out"): defaults.MODEL_DIR,
         (show_command, "directory"): defaults.MODEL_DIR, (package_command, "model_dir"): defaults.MODEL_DIR,
         (package_command, "out"): defaults.FUNCTION_ZIP, (invoke_command, "function_zip"): defaults.FUNCTION_ZIP,
         (serve_command, "function_zip"): defaults.FUNCTION_ZIP, (export_sam, "function"): defaults.FUNCTION_ZIP}


def test_the_model_directory_and_the_function_zip_are_one_fact_each() -> None:
    for (command, option), expected in PATHS.items():
        declared = next(p.default for p in command.params if p.name == option)
        assert declared == expected, (command.name, option)
    import inspect

    from lambdapack.model import importer, train

    assert train.DEFAULT_OUT == inspect.signature(importer.import_model).parameters["out"].default == defaults.MODEL_DIR
    signature = inspect.signature(package.package_function).parameters
    assert (signature["model_dir"].default, signature["out"].default) == (defaults.MODEL_DIR, defaults.FUNCTION_ZIP)


def test_deploy_takes_the_throttle_and_the_prediction_route_from_the_deploy_models() -> None:
    declared = {p.name: p.default for p in deploy.params}
    assert (declared["throttle_burst"], declared["throttle_rate"]) == \
        (models.DEFAULT_THROTTLE_BURST, models.DEFAULT_THROTTLE_RATE)
    assert f"POST {defaults.PREDICT_PATH}" in models.HTTP_ROUTES
    assert models.predict_url("https://abc.example/", "http") == f"https://abc.example{defaults.PREDICT_PATH}"
    assert models.predict_url("https://abc.lambda-url.example/", "url") == "https://abc.lambda-url.example"
