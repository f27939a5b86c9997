"""Rendering: human output, progress and logs on stderr; ``--json`` documents on stdout.

Library functions return frozen dataclasses; commands hand them to :func:`emit`, which
either prints one JSON document on stdout or calls the command's renderer (rich, stderr).
"""

from __future__ import annotations

import dataclasses
import enum
import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import PurePath
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)

console = Console(stderr=True, highlight=False)


def to_jsonable(value: Any) -> Any:
    """Dataclasses, paths, enums, tuples and sets as plain JSON values."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)
                if not f.name.startswith("_")}
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v) for v in value]
    if isinstance(value, (set, frozenset)):
        return sorted(to_jsonable(v) for v in value)
    if isinstance(value, PurePath):
        return str(value)
    if isinstance(value, enum.Enum):
        return value.value
    return value


def print_json(value: Any) -> None:
    sys.stdout.write(json.dumps(to_jsonable(value), indent=2, sort_keys=False) + "\n")
    sys.stdout.flush()


def emit(result: Any, as_json: bool, render: Callable[[Any, Console], None]) -> None:
    """Print ``result`` as one JSON document on stdout, or render it for humans on stderr."""
    if as_json:
        print_json(result)
    else:
        render(result, console)


def warn(message: str) -> None:
    console.print(f"[yellow]warning:[/] {message}")


def info(message: str) -> None:
    console.print(message)


def human_bytes(n: int | float) -> str:
    step = 1000.0
    for unit in ("B", "kB", "MB", "GB"):
        if abs(n) < step or unit == "GB":
            return f"{n:,.0f} {unit}" if unit == "B" else f"{n:,.1f} {unit}"
        n /= step
    return f"{n:.1f} GB"


@contextmanager
def progress(transient: bool = True, downloads: bool = False) -> Iterator[Progress]:
    """A rich progress display on stderr (quiet when stderr is not a terminal)."""
    columns: list[Any] = [SpinnerColumn(), TextColumn("{task.description}"), BarColumn()]
    if downloads:
        columns.append(DownloadColumn())
    columns.append(TimeElapsedColumn())
    with Progress(*columns, console=console, transient=transient,
                  disable=not console.is_terminal) as bar:
        yield bar
