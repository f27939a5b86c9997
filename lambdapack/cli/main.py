"""The ``lambdapack`` command group and the one place errors become exit codes."""

from __future__ import annotations

import importlib
import os
import sys
from typing import Any

import click
from rich.markup import escape

from lambdapack import __version__
from lambdapack.errors import LambdapackError
from lambdapack.ui import console

# Subcommands live in their own modules and are imported only when used, so
# `lambdapack --help` and `lambdapack invoke` don't pay for boto3 or scikit-learn.
# name -> "module:attribute"
COMMANDS: dict[str, str] = {
    "build-layer": "lambdapack.cli.build_layer:build_layer_command",
    "check-layer": "lambdapack.cli.check_layer:check_layer_command",
    "train": "lambdapack.cli.train:train_command",
    "model": "lambdapack.cli.model:model_group",
    "package": "lambdapack.cli.package:package",
    "lock": "lambdapack.cli.lock:lock",
    "invoke": "lambdapack.cli.invoke:invoke_command",
    "serve": "lambdapack.cli.serve:serve_command",
    "demo": "lambdapack.cli.demo:demo_command",
    "deploy": "lambdapack.cli.deploy:deploy",
    "destroy": "lambdapack.cli.deploy:destroy",
    "export": "lambdapack.cli.deploy:export",
}


def report_error(exc: LambdapackError) -> None:
    console.print(f"[bold red]error:[/] {escape(exc.message)}", markup=True, soft_wrap=True)
    if exc.hint:
        console.print(f"[bold]hint:[/] {escape(exc.hint)}", markup=True, soft_wrap=True)


class LambdapackGroup(click.Group):
    """Lazy subcommands plus the single error boundary (STYLE.md 4)."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(super().list_commands(ctx)) | set(COMMANDS))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in COMMANDS:
            module_name, attr = COMMANDS[cmd_name].split(":")
            return getattr(importlib.import_module(module_name), attr)
        return super().get_command(ctx, cmd_name)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except LambdapackError as exc:
            report_error(exc)
            sys.exit(exc.exit_code)
        except KeyboardInterrupt:
            console.print("[bold red]error:[/] interrupted")
            sys.exit(130)
        except (click.ClickException, click.exceptions.Exit, click.exceptions.Abort):
            raise
        except Exception as exc:  # the last line of defence: no traceback in front of a user
            if os.environ.get("LAMBDAPACK_DEBUG"):
                raise
            report_error(LambdapackError(
                f"internal error: {type(exc).__name__}: {exc}",
                hint="this is a lambdapack bug; rerun with LAMBDAPACK_DEBUG=1 for the traceback "
                     "and report it"))
            sys.exit(1)


@click.group(cls=LambdapackGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="lambdapack")
def cli() -> None:
    """From a scikit-learn model to a prediction API on AWS Lambda.

    \b
    lambdapack demo                          the whole pipeline locally, no AWS account
    lambdapack build-layer                   scikit-learn layer for python3.12 x86_64
    lambdapack train --layer LAYER.zip       the guide's iris RandomForest, in the layer's Python
    lambdapack package --layer LAYER.zip     handler + model -> dist/function.zip
    lambdapack invoke --local --event seed   run it in the local Lambda
    lambdapack serve --port 3000             a local HTTP API in front of it
    lambdapack deploy --name iris            layer + function + HTTP API on AWS
    lambdapack invoke --name iris --event seed
    lambdapack destroy --name iris

    Every command takes --json (one JSON document on stdout; logs go to stderr).
    """


def main() -> None:
    cli(prog_name="lambdapack")


json_option = click.option(
    "--json", "as_json", is_flag=True,
    help="Print one JSON document on stdout (human output goes to stderr).",
)
