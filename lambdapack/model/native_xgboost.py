"""XGBoost's own model files for ``model import``: JSON (``.json``) and UBJSON (``.ubj``), from ``save_model``.

The file is read twice: here first, by a small reader of its own (every byte accounted for, so a
truncated or foreign file is one clear error rather than XGBoost's C++ stack trace, and the
XGBoost version that saved it is known), then by the XGBoost installed here, into the
``xgboost.Booster`` that ``model import`` pickles. A model saved by a newer XGBoost than this
one is refused: the predictor's proof and the layer would both run an older library on it.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path
from typing import Any

from lambdapack.errors import ModelError

SUFFIXES = (".json", ".ubj")
HINT = ("model import reads XGBoost's JSON or UBJSON model (Booster.save_model('model.json') or "
        "'model.ubj'), or a joblib/pickle file")
# UBJSON's numbers, big-endian: marker -> struct code
_NUMBERS = {b"i": "b", b"U": "B", b"I": "h", b"l": "i", b"L": "q", b"d": "f", b"D": "d"}
_CONSTANTS = {b"T": True, b"F": False, b"Z": None}


class _Truncated(Exception):
    pass


class _Foreign(Exception):
    pass


class _Ubjson:
    """A UBJSON document (the subset XGBoost writes: numbers, strings, typed and counted containers)."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def take(self, n: int) -> bytes:
        end = self.pos + n
        if n < 0 or end > len(self.data):
            raise _Truncated
        chunk, self.pos = self.data[self.pos : end], end
        return chunk

    def marker(self) -> bytes:
        return self.take(1)

    def number(self, marker: bytes) -> Any:
        code = ">" + _NUMBERS[marker]
        return struct.unpack(code, self.take(struct.calcsize(code)))[0]

    def count(self, marker: bytes | None = None) -> int:
        marker = marker or self.marker()
        if marker not in _NUMBERS or marker in (b"d", b"D"):
            raise _Foreign(f"a length marked {marker!r}")
        return int(self.number(marker))

    def value(self, marker: bytes | None = None) -> Any:
        marker = marker or self.marker()
        if marker in _NUMBERS:
            return self.number(marker)
        if marker in _CONSTANTS:
            return _CONSTANTS[marker]
        if marker in (b"S", b"H"):
            return self.take(self.count()).decode("utf-8")
        if marker == b"C":
            return self.take(1).decode("latin-1")
        if marker == b"[":
            return self.array()
        if marker == b"{":
            return self.object()
        raise _Foreign(f"an unknown marker {marker!r}")

    def header(self) -> tuple[bytes | None, int | None, bytes | None]:
        """A container's ``(element type, count, first marker)``: UBJSON's optional ``$type`` and ``#count``."""
        kind, marker = None, self.marker()
        if marker == b"$":
            kind, marker = self.marker(), self.marker()
        if marker == b"#":
            return kind, self.count(), None
        if kind is not None:
            raise _Foreign("a typed container without a count")
        return None, None, marker

    def array(self) -> list:
        kind, n, marker = self.header()
        if n is None:
            out = []
            while marker != b"]":
                out.append(self.value(marker))
                marker = self.marker()
            return out
        if kind in _NUMBERS:  # XGBoost's node tables: one block of numbers
            code = _NUMBERS[kind]
            return list(struct.unpack(f">{n}{code}", self.take(n * struct.calcsize(code))))
        return [self.value(kind) for _ in range(n)]

    def object(self) -> dict:
        kind, n, marker = self.header()
        out = {}
        if n is not None:
            for _ in range(n):
                key = self.take(self.count()).decode("utf-8")
                out[key] = self.value(kind)
            return out
        while marker != b"}":
            key = self.take(self.count(marker)).decode("utf-8")
            out[key] = self.value()
            marker = self.marker()
        return out


def read_document(path: Path, data: bytes) -> dict:
    """The model file as a document; ModelError naming how it is not a whole XGBoost model."""
    try:
        if path.suffix.lower() == ".json":
            document = json.loads(data)
        else:
            reader = _Ubjson(data)
            document = reader.value()
            if reader.pos != len(data):
                raise _Foreign(f"{len(data) - reader.pos} bytes after the end")
    except (_Truncated, json.JSONDecodeError, UnicodeDecodeError) as exc:
        where = f" ({exc.msg} at byte {exc.pos})" if isinstance(exc, json.JSONDecodeError) else ""
        raise ModelError(f"{path} is truncated or not {'JSON' if path.suffix.lower() == '.json' else 'UBJSON'}"
                         f"{where}", hint=HINT) from None
    except (_Foreign, RecursionError, struct.error) as exc:
        raise ModelError(f"{path} is not an XGBoost model ({exc or 'unreadable'})", hint=HINT) from None
    if not isinstance(document, dict) or "learner" not in document or "version" not in document:
        what = "lambdapack's model manifest" if isinstance(document, dict) and "schema" in document else \
            "no XGBoost learner in it"
        raise ModelError(f"{path} is not an XGBoost model ({what})", hint=HINT)
    return document


def _version(values: Any) -> tuple[int, ...]:
    parts = [int(p) for p in str(values).split("+")[0].split(".")[:3] if p.isdigit()] if isinstance(values, str) \
        else [int(v) for v in values][:3]
    return tuple(parts + [0] * (3 - len(parts)))


def claims(path: Path) -> bool:
    return path.suffix.lower() in SUFFIXES


def load(path: Path) -> Any:
    """The ``xgboost.Booster`` in ``path``, read by the XGBoost installed here."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ModelError(f"cannot read {path} ({exc.strerror or exc})", hint="check the path and permissions") \
            from None
    document = read_document(path, data)
    try:
        import xgboost
    except ImportError:
        raise ModelError(f"{path} is an XGBoost model and XGBoost is not installed here",
                         hint="pip install xgboost-cpu (the version that saved it), then import it again") from None
    saved, here = _version(document["version"]), _version(xgboost.__version__)
    if saved > here:
        shown = ".".join(str(v) for v in saved)
        raise ModelError(f"{path} was saved by XGBoost {shown}, newer than this environment's {xgboost.__version__}",
                         hint=f"import it where XGBoost {shown} is installed (pip install xgboost-cpu=={shown})")
    booster = xgboost.Booster()
    try:
        booster.load_model(str(path))
    except xgboost.core.XGBoostError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelError(f"XGBoost cannot read {path}: {first}", hint=HINT) from None
    return booster
