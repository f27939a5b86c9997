"""Rendering: human output, progress and logs on stderr; ``--json`` documents on stdout.

Library functions return frozen dataclasses; commands hand them to :func:`emit`, which
either prints one JSON document on stdout or calls the command's renderer (rich, stderr).

Under the CLI's error boundary (:func:`json_session`) a ``--json`` document is held until
the command ends: on success it is printed as is; when the command then fails (check-layer
reports, then exits 1) the error joins it, so stdout always carries exactly one document.
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


class _Console(Console):
    """rich on stderr; lines wrap only on a terminal.

    Piped or captured stderr (CI logs, ``2> log``) gets each message on one line: rich's
    80-column default would break paths and offenders mid-word for no reader.
    """

    @property  # type: ignore[override]
    def soft_wrap(self) -> bool:
        return self._soft_wrap_choice or not self.is_terminal

    @soft_wrap.setter
    def soft_wrap(self, value: bool) -> None:
        self._soft_wrap_choice = bool(value)


console = _Console(stderr=True, highlight=False)


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


@dataclasses.dataclass
class _JsonSession:
    requested: bool = False  # --json was given
    held: list[Any] = dataclasses.field(default_factory=list)  # documents waiting for the command's end


_session: _JsonSession | None = None


@contextmanager
def json_session() -> Iterator[_JsonSession]:
    """Hold ``--json`` documents for one command run (the CLI's error boundary opens it)."""
    global _session
    outer, _session = _session, _JsonSession()
    try:
        yield _session
    finally:
        _session = outer


def request_json() -> None:
    """Record that this run asked for ``--json`` (so a failure prints its error as JSON too)."""
    if _session is not None:
        _session.requested = True


def json_requested() -> bool:
    return _session is not None and _session.requested


def flush_json() -> None:
    """Print the documents held for a command that succeeded."""
    if _session is not None:
        held, _session.held = _session.held, []
        for document in held:
            print_json(document)


def fail_json(error: str, hint: str, exit_code: int) -> None:
    """Print one document for a failed run: the held result, if any, with the error joined to it."""
    if _session is None or not _session.requested:
        return
    failure = {"error": error, "hint": hint, "exit_code": exit_code}
    held, _session.held = _session.held, []
    for document in held[:-1]:
        print_json(document)
    result = to_jsonable(held[-1]) if held else None
    if isinstance(result, dict):
        print_json({**result, **failure})
    elif result is not None:
        print_json({"result": result, **failure})
    else:
        print_json(failure)


def emit(result: Any, as_json: bool, render: Callable[[Any, Console], None], *, now: bool = False) -> None:
    """Print ``result`` as one JSON document on stdout, or render it for humans on stderr.

    ``now``: print at once even under the error boundary (``serve``'s ready document, which a
    caller waits for while the command keeps running).
    """
    if not as_json:
        render(result, console)
    elif _session is not None and not now:
        _session.requested = True
        _session.held.append(result)
    else:
        print_json(result)


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
