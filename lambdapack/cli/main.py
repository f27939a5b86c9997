"""The ``lambdapack`` command group and the one place errors become exit codes.

Every failure ends here: a :class:`LambdapackError` (exit 1), a usage error (click's, exit 2),
an interruption (Ctrl-C, and SIGTERM/SIGHUP made to look like it: exit 128 + the signal) or a
bug (exit 1, no traceback). Each prints ``error: ...`` (and ``hint: ...``) on stderr and, when
the command was given ``--json``, one JSON document on stdout:
``{"error": ..., "hint": ..., "exit_code": ...}``, joined to the command's own result when it
produced one before failing (check-layer's report).
"""

from __future__ import annotations

import contextlib
import importlib
import os
import signal
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from types import FrameType
from typing import Any

import click
from rich.markup import escape

from lambdapack import __version__, ui
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


def report_error(exc: LambdapackError, exit_code: int | None = None) -> None:
    console.print(f"[bold red]error:[/] {escape(exc.message)}", markup=True, soft_wrap=True)
    if exc.hint:
        console.print(f"[bold]hint:[/] {escape(exc.hint)}", markup=True, soft_wrap=True)
    ui.fail_json(exc.message, exc.hint, exc.exit_code if exit_code is None else exit_code)


class Interrupted(KeyboardInterrupt):
    """SIGTERM or SIGHUP, raised where Ctrl-C would be so the same cleanup runs (finally blocks,
    context managers removing temporary files and work directories, children killed)."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


_SIGNAL_WORDS = {signal.SIGINT: "interrupted", signal.SIGTERM: "terminated (SIGTERM)",
                 signal.SIGHUP: "hung up (SIGHUP)"}


@contextlib.contextmanager
def signals_interrupt() -> Iterator[None]:
    """Turn SIGTERM and SIGHUP into :class:`Interrupted` for the duration of one command.

    Only the first signal raises: a second one while the cleanup runs would abort it halfway
    and leave exactly the files the cleanup is removing.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    raised = False

    def handler(signum: int, frame: FrameType | None) -> None:
        nonlocal raised
        if not raised:
            raised = True
            raise Interrupted(signum)

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def _interrupted(exc: KeyboardInterrupt) -> int:
    signum = getattr(exc, "signum", signal.SIGINT)
    code = 128 + int(signum)
    word = _SIGNAL_WORDS.get(signal.Signals(signum), "interrupted")
    console.print(f"[bold red]error:[/] {word}")
    ui.fail_json(word, "nothing was left half-written; run the command again", code)
    return code


def _wants_json(args: list[str]) -> bool:
    """Was ``--json`` on the command line? (For usage errors, raised before the option is parsed.)"""
    before = args[:args.index("--")] if "--" in args else args
    return "--json" in before


class LambdapackGroup(click.Group):
    """Lazy subcommands plus the single error boundary."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        ctx.meta["lambdapack.raw_args"] = list(args)
        return super().parse_args(ctx, args)

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(super().list_commands(ctx)) | set(COMMANDS))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in COMMANDS:
            module_name, attr = COMMANDS[cmd_name].split(":")
            return getattr(importlib.import_module(module_name), attr)
        return super().get_command(ctx, cmd_name)

    def invoke(self, ctx: click.Context) -> Any:
        with ui.json_session() as session, signals_interrupt():
            session.requested = _wants_json(ctx.meta.get("lambdapack.raw_args", []))
            try:
                return self._invoke_guarded(ctx)
            finally:
                ui.flush_json()  # what a failure did not already print with its error (a plain exit)

    def _invoke_guarded(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except LambdapackError as exc:
            report_error(exc)
            sys.exit(exc.exit_code)
        except KeyboardInterrupt as exc:
            sys.exit(_interrupted(exc))
        except click.exceptions.Exit:
            raise
        except click.ClickException as exc:  # click prints its own message and usage on stderr
            where = getattr(exc, "ctx", None) or ctx
            ui.fail_json(exc.format_message(), f"see `{where.command_path} --help`", exc.exit_code)
            raise
        except click.exceptions.Abort:
            ui.fail_json("aborted", "", 1)
            raise
        except Exception as exc:  # the last line of defence: no traceback in front of a user
            if os.environ.get("LAMBDAPACK_DEBUG"):
                raise
            report_error(LambdapackError(
                f"internal error: {type(exc).__name__}: {exc}",
                hint="this is a lambdapack bug; rerun with LAMBDAPACK_DEBUG=1 for the traceback "
                     "and report it"), exit_code=1)
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

    Every command takes --json: one JSON document on stdout, on failure too
    ({"error": ..., "hint": ..., "exit_code": ...}); logs go to stderr.

    \b
    Shell completion (zsh_source or fish_source for zsh or fish):
      eval "$(_LAMBDAPACK_COMPLETE=bash_source lambdapack)"
    """


def main() -> None:
    cli(prog_name="lambdapack")


def runtime_option(default: str) -> Any:
    """``--runtime RUNTIME``: one of Lambda's Python runtimes (completes in the shell)."""
    from lambdapack.targets import RUNTIMES

    return click.option("--runtime", type=click.Choice(list(RUNTIMES)), metavar="RUNTIME",
                        help=f"Lambda runtime: {', '.join(RUNTIMES)} [default: {default}].")


def arch_option(default: str) -> Any:
    """``--arch ARCH``: x86_64 or arm64."""
    from lambdapack.targets import ARCHES

    return click.option("--arch", type=click.Choice(list(ARCHES)), metavar="ARCH",
                        help=f"Lambda architecture: {', '.join(ARCHES)} [default: {default}].")


def python_option(purpose: str) -> Any:
    """``--python PATH``: the interpreter of the runtime's minor version, for ``purpose``."""
    return click.option("--python", "python", type=click.Path(dir_okay=False, path_type=Path), metavar="PATH",
                        help=f"CPython of the runtime's minor version, {purpose} "
                             "[default: found on PATH, in pyenv or among uv's Pythons].")


def _remember_json(ctx: click.Context, param: click.Parameter, value: bool) -> bool:
    if value:
        ui.request_json()
    return value


json_option = click.option(
    "--json", "as_json", is_flag=True, callback=_remember_json,
    help="Print one JSON document on stdout, on failure too (human output goes to stderr).",
)
