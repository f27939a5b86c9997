"""One shape for flags: every command that writes a file takes -o/--out; --runtime is checked alike everywhere."""

from __future__ import annotations

import click

from lambdapack.cli.main import cli
from lambdapack.targets import RUNTIMES


def _commands(group: click.Group, prefix: str = "") -> dict[str, click.Command]:
    out: dict[str, click.Command] = {}
    ctx = click.Context(group)
    for name in group.list_commands(ctx):  # commands load lazily: ask the group, not its dict
        command = group.get_command(ctx, name)
        assert command is not None, name
        if isinstance(command, click.Group):
            out.update(_commands(command, f"{prefix}{name} "))
        else:
            out[f"{prefix}{name}"] = command
    return out


def _option(command: click.Command, long: str) -> click.Option | None:
    return next((p for p in command.params if isinstance(p, click.Option) and long in p.opts), None)


def test_every_command_that_writes_a_file_takes_o() -> None:
    writers = {name: _option(command, "--out") for name, command in _commands(cli).items()}
    writers = {name: option for name, option in writers.items() if option is not None}
    assert {"build-layer", "lock", "train", "package", "model import", "export sam"} <= set(writers)
    assert {name: "-o" in option.opts for name, option in writers.items()} == dict.fromkeys(writers, True)


def test_runtime_is_one_checked_choice_everywhere() -> None:
    runtimes = {name: _option(command, "--runtime") for name, command in _commands(cli).items()}
    runtimes = {name: option for name, option in runtimes.items() if option is not None}
    assert {"build-layer", "lock", "package", "deploy", "demo", "export sam", "check-layer"} <= set(runtimes)
    for name, option in runtimes.items():
        assert isinstance(option.type, click.Choice), name
        assert tuple(option.type.choices) == tuple(RUNTIMES), name
