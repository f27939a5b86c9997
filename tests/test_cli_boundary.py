from __future__ import annotations

import subprocess
import sys

import click
import pytest

from lambdapack.cli import main as main_mod
from lambdapack.errors import LambdapackError


@pytest.fixture
def failing_command(monkeypatch: pytest.MonkeyPatch):
    @click.command("boom")
    @click.option("--kind", default="user")
    def boom(kind: str) -> None:
        if kind == "user":
            raise LambdapackError("the thing is broken", hint="fix the thing")
        raise RuntimeError("unexpected")

    main_mod.cli.add_command(boom)
    yield boom
    main_mod.cli.commands.pop("boom")


def test_user_errors_are_one_line_with_a_hint_and_exit_1(run_cli, failing_command) -> None:
    result = run_cli("boom")
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr.splitlines() == ["error: the thing is broken", "hint: fix the thing"]


def test_unexpected_errors_show_no_traceback(run_cli, failing_command) -> None:
    result = run_cli("boom", "--kind", "bug")
    assert result.exit_code == 1
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith("error: internal error: RuntimeError: unexpected")


def test_usage_errors_exit_2(run_cli) -> None:
    result = run_cli("no-such-command")
    assert result.exit_code == 2


def test_python_dash_m_and_version() -> None:
    out = subprocess.run([sys.executable, "-m", "lambdapack", "--version"], capture_output=True, text=True)
    assert out.returncode == 0 and "lambdapack" in out.stdout


def test_brackets_in_messages_are_printed_verbatim(run_cli, monkeypatch) -> None:
    @click.command("brackets")
    def brackets() -> None:
        raise LambdapackError("no wheel for scikit-learn[alldeps] [cp312]", hint="try [bold]x[/bold]")

    main_mod.cli.add_command(brackets)
    try:
        result = run_cli("brackets")
    finally:
        main_mod.cli.commands.pop("brackets")
    assert result.stderr.splitlines() == ["error: no wheel for scikit-learn[alldeps] [cp312]",
                                          "hint: try [bold]x[/bold]"]
