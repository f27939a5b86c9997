"""The event an invoke sends, local or remote: ``--event FILE|-|seed|JSON`` plus feature flags.

- ``seed`` is the guide's event ``{"sl": 6.9, "sw": 3.1, "pl": 5.1, "pw": 2.3}``;
- ``-`` reads the event from standard input; a value starting with ``{`` or ``[`` is inline JSON;
  anything else is a file path;
- feature flags (``--sl 6.9`` ... or the generic ``--feature name=value``) build a direct
  event, or are merged into the given one (they win), so
  ``invoke --event seed --pw 0.2`` asks about a different flower.

The event is returned as the exact bytes to send plus the parsed value; a malformed event
is a clear error naming the file, line and column, never a traceback. An event given as JSON
text (file, stdin, inline) and not merged with feature flags is sent byte for byte, as
Lambda's Invoke API passes a payload: re-encoding it would turn ``1e400`` into ``Infinity``,
which the runtime client cannot unmarshal, and hide what the handler really receives.
"""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from lambdapack.errors import LambdapackError

SEED_EVENT: dict[str, float] = {"sl": 6.9, "sw": 3.1, "pl": 5.1, "pw": 2.3}
# the guide's four iris features, each of which has its own flag
GUIDE_FEATURES = ("sl", "sw", "pl", "pw")
MAX_EVENT_BYTES = 6 * 1024 * 1024  # Lambda's synchronous payload limit


class EventError(LambdapackError):
    """The event to invoke with is missing, malformed or too large."""


@dataclass(frozen=True)
class Event:
    payload: Any
    source: str  # "seed", "stdin", "inline", a file path, or "features"
    raw: bytes | None = field(default=None, repr=False)  # the JSON text as given, when sent unchanged

    @property
    def body(self) -> bytes:
        return self.raw if self.raw is not None else json.dumps(self.payload).encode()


def parse_feature(item: str) -> tuple[str, Any]:
    """``name=value`` -> (name, value); a numeric value becomes a number."""
    name, sep, raw = item.partition("=")
    name = name.strip()
    if not sep or not name:
        raise EventError(f"--feature {item!r} is not NAME=VALUE", hint="for example --feature sl=6.9")
    return name, _scalar(raw.strip())


def _scalar(raw: str) -> Any:
    try:
        value = json.loads(raw)
    except ValueError:
        return raw
    if isinstance(value, float) and not math.isfinite(value):
        return raw
    return value if isinstance(value, (int, float, bool)) or value is None else raw


def load_event(source: str | None = None, features: Mapping[str, Any] | Iterable[tuple[str, Any]] = (),
               *, stdin: IO[str] | None = None) -> Event:
    """The event for ``--event source`` with ``features`` merged in (features win)."""
    extra = dict(features.items() if isinstance(features, Mapping) else features)
    if source is None:
        if not extra:
            raise EventError("no event given",
                             hint="pass --event FILE|-|seed, or features such as --sl 6.9 --sw 3.1 --pl 5.1 --pw 2.3")
        return Event(extra, "features")
    payload, origin, text = _read(source, stdin)
    if extra:
        if not isinstance(payload, dict):
            raise EventError(f"feature flags need a JSON object event, and {origin} holds a "
                             f"{type(payload).__name__}",
                             hint="drop the feature flags or use an object event")
        return Event({**payload, **extra}, origin)
    return Event(payload, origin, text.encode() if text is not None else None)


def _read(source: str, stdin: IO[str] | None) -> tuple[Any, str, str | None]:
    """``(parsed event, where it came from, its JSON text or None for the built-in seed)``."""
    if source == "seed":
        return dict(SEED_EVENT), "seed", None
    if source == "-":
        text = (stdin or sys.stdin).read()
        return _parse(text, "standard input"), "stdin", text
    if source.lstrip().startswith(("{", "[")):
        return _parse(source, "--event"), "inline", source
    path = Path(source)
    try:
        size = path.stat().st_size
        if size > MAX_EVENT_BYTES:
            raise EventError(f"event file {path} is {size:,} bytes, over Lambda's {MAX_EVENT_BYTES:,}",
                             hint="a synchronous invoke carries at most 6 MB")
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise EventError(f"event file {path} does not exist",
                         hint="pass a JSON file, '-' for standard input, or 'seed' for the guide's event") from None
    except IsADirectoryError:
        raise EventError(f"event file {path} is a directory", hint="pass a JSON file") from None
    except UnicodeDecodeError:
        raise EventError(f"event file {path} is not UTF-8 text", hint="an event is a JSON document") from None
    except OSError as exc:
        raise EventError(f"cannot read event file {path}: {exc.strerror or exc}",
                         hint="check the path and its permissions") from None
    return _parse(text, str(path)), str(path), text


def _parse(text: str, origin: str) -> Any:
    if not text.strip():
        raise EventError(f"the event in {origin} is empty", hint="an event is a JSON document, e.g. {}")
    try:
        return json.loads(text, parse_constant=_refuse_constant)
    except json.JSONDecodeError as exc:
        raise EventError(f"the event in {origin} is not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})",
                         hint="fix the JSON, or check it with `python -m json.tool FILE`") from None
    except ValueError as exc:
        raise EventError(f"the event in {origin} is not valid JSON: {exc}",
                         hint="JSON has no NaN or Infinity; use a number or null") from None


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")
