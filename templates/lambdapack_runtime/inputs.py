"""What a request may send: the model's typed inputs, and the rows a request's payload makes.

Each input (``model.json``'s ``features``) is a number or a category, nullable or not. A number
is a JSON number or a numeric string, finite and within float32's range; a category is one of
the categories the model's encoder learned (an unknown one is refused, unless the encoder
accepts it: ignored, grouped as infrequent, or given its unknown code); ``null`` is a missing
value, only for a nullable input. An ``unused`` input (one the model's column transformer drops)
takes any value, or none at all. Every other value is a :class:`Reject`: a 4xx naming the field
and what it accepts. Both serving paths get exactly the rows built here.
"""

from __future__ import annotations

import json
import math
import re

from .links import FLOAT32_MAX

_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?", re.ASCII)
KINDS = ("number", "category", "unused")


class Reject(Exception):
    """A client error: the response status, a short code, a sentence, and the field at fault."""

    def __init__(self, status: int, error: str, detail: str, field: str | None = None,
                 headers: dict | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.error = error
        self.detail = detail
        self.field = field
        self.headers = headers or {}


def show(value: object, limit: int = 40) -> str:
    try:
        text = json.dumps(value, default=str) if not isinstance(value, str) else repr(value)
    except ValueError:  # an int too long to print
        text = f"a {type(value).__name__}"
    return text if len(text) <= limit else text[: limit - 1] + "…"


def clip(text: str, limit: int = 100) -> str:
    """Client-supplied names echoed back in ``field``, kept short."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def listing(names: list, limit: int = 8) -> str:
    if len(names) <= limit:
        return ", ".join(str(n) for n in names)
    return ", ".join(str(n) for n in names[:limit]) + f", … ({len(names)} in all)"


def _kind_of(value: object) -> str:
    return "a boolean" if isinstance(value, bool) else "null" if value is None else f"a {type(value).__name__}"


def number(value: object, field: str) -> float:
    """A JSON number or numeric string as a finite float within float32's range."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise Reject(400, "invalid_value", f"{field} must be a number, got {_kind_of(value)}", field)
    if isinstance(value, str):
        text = value.strip()
        if not _NUMBER.fullmatch(text):
            raise Reject(400, "invalid_value", f"{field} must be a number, got {show(value)}", field)
        value = text
    try:
        result = float(value)
    except OverflowError:
        result = math.inf
    if not math.isfinite(result) or abs(result) > FLOAT32_MAX:
        raise Reject(400, "invalid_value", f"{field} must be a finite number within ±3.4e38, got {show(value)}",
                     field)
    return result


class Field:
    """One input of the model, as the manifest types it."""

    def __init__(self, spec: dict) -> None:
        self.name = str(spec["name"])
        alias = spec.get("alias")
        self.alias = alias if isinstance(alias, str) and alias else None
        self.kind = spec.get("type") or "number"
        if self.kind not in KINDS:
            raise ValueError(f"input {self.name!r} has unknown type {self.kind!r}")
        self.nullable = bool(spec.get("nullable"))
        self.categories = list(spec.get("categories") or [])
        self.unknown_ok = spec.get("unknown", "error") != "error"
        self.numeric_categories = bool(self.categories) and all(
            isinstance(c, (int, float)) and not isinstance(c, bool) for c in self.categories)
        self._known = set(self.categories)
        self.label = self.alias or self.name

    def describe(self) -> dict:
        out = {"name": self.name, "alias": self.alias, "type": self.kind, "nullable": self.nullable}
        if self.kind == "category":
            out.update(categories=self.categories, unknown="accept" if self.unknown_ok else "error")
        return out

    def value(self, raw: object, field: str) -> object:
        """The request's value as the model takes it: a float (NaN: missing), a category, or None (missing)."""
        if raw is None or (isinstance(raw, float) and raw != raw):
            if not self.nullable:
                raise Reject(400, "invalid_value", f"{field} cannot be missing: the model needs a "
                             f"{'category' if self.kind == 'category' else 'number'}, got {_kind_of(raw)}", field)
            return math.nan if self.kind == "number" else None
        if self.kind == "number":
            return number(raw, field)
        if self.kind == "unused":
            if isinstance(raw, (str, int, float, bool)):
                return raw
            raise Reject(400, "invalid_value", f"{field} must be a number, a string or null, got {_kind_of(raw)}",
                         field)
        return self._category(raw, field)

    def _category(self, raw: object, field: str) -> object:
        value = raw
        if self.numeric_categories and isinstance(raw, str) and _NUMBER.fullmatch(raw.strip()):
            value = float(raw)  # a query string carries every value as text
        if isinstance(value, bool) or not isinstance(value, (str, int, float)) or \
                isinstance(value, str) == self.numeric_categories:
            raise Reject(400, "invalid_value", f"{field} must be one of {listing(self.categories)}, "
                         f"got {_kind_of(value) if not isinstance(value, (str, int, float)) else show(value)}", field)
        if value in self._known or self.unknown_ok:
            return value
        raise Reject(400, "unknown_category", f"{field} must be one of {listing(self.categories)}, got {show(value)}",
                     field)


class Inputs:
    """The model's inputs in order, with the names and aliases a request may use."""

    def __init__(self, specs: list) -> None:
        if not specs:
            raise ValueError("model.json lists no features")
        self.fields = [Field(spec) for spec in specs]
        self.index: dict = {}
        for i, f in enumerate(self.fields):
            for key in (f.name, f.alias):
                if key is None:
                    continue
                if self.index.get(key, i) != i:
                    raise ValueError(f"model.json: feature name or alias {key!r} is used twice")
                self.index[key] = i
        self.labels = [f.label for f in self.fields]
        self.expected = listing(self.labels)

    def __len__(self) -> int:
        return len(self.fields)

    def row_from_object(self, obj: dict, where: str) -> list:
        row: list = [None] * len(self.fields)
        given = [False] * len(self.fields)
        for key, value in obj.items():
            index = self.index.get(key)
            field = clip(f"{where}{key}")
            if index is None:
                raise Reject(400, "unknown_feature",
                             f"unknown feature {show(key)}; the model expects {self.expected}", field)
            if given[index]:
                raise Reject(400, "duplicate_feature",
                             f"feature {self.labels[index]!r} is given twice (by name and by alias)", field)
            given[index] = True
            row[index] = self.fields[index].value(value, field)
        missing = [self.labels[i] for i, seen in enumerate(given) if not seen and self.fields[i].kind != "unused"]
        if missing:
            raise Reject(400, "missing_feature", f"missing feature {listing(missing)}; the model expects "
                         f"{self.expected}", f"{where}{missing[0]}")
        return row

    def row_from_list(self, values: list, where: str) -> list:
        n = len(self.fields)
        if len(values) != n:
            raise Reject(400, "wrong_length", f"{where.rstrip('.') or 'the instance'} has {len(values)} values; "
                         f"the model expects {n} ({self.expected})", where.rstrip(".") or None)
        return [f.value(v, f"{where}[{i}]") for i, (f, v) in enumerate(zip(self.fields, values, strict=True))]

    def rows_from_payload(self, payload: object, max_batch: int) -> tuple:
        """``(rows, is_batch)`` from a decoded JSON payload."""
        if isinstance(payload, dict):
            if "instances" in payload:
                extra = sorted(k for k in payload if k != "instances")
                if extra:
                    raise Reject(400, "unknown_field", f"unexpected field {show(extra[0])} next to instances",
                                 clip(extra[0]))
                return self.rows_from_batch(payload["instances"], "instances", max_batch), True
            return [self.row_from_object(payload, "")], False
        if isinstance(payload, list):
            return self.rows_from_batch(payload, "", max_batch), True
        raise Reject(400, "bad_body", "send a JSON object of features, a list of them, or {\"instances\": [[...]]}")

    def rows_from_batch(self, items: object, name: str, max_batch: int) -> list:
        if not isinstance(items, list):
            raise Reject(400, "bad_body", f"{name or 'the batch'} must be a list of instances", name or None)
        if not items:
            raise Reject(400, "empty_batch", f"{name or 'the batch'} is empty", name or None)
        if len(items) > max_batch:
            raise Reject(413, "batch_too_large",
                         f"{len(items)} instances; at most {max_batch} per request (LAMBDAPACK_MAX_BATCH)",
                         name or None)
        rows = []
        for i, item in enumerate(items):
            where = f"{name}[{i}]"
            if isinstance(item, dict):
                rows.append(self.row_from_object(item, where + "."))
            elif isinstance(item, list):
                rows.append(self.row_from_list(item, where))
            else:
                raise Reject(400, "bad_body", f"{where} must be an object of features or a list of values", where)
        return rows

    def rows_from_query(self, query: dict) -> list:
        single = {}
        for key, values in query.items():
            if len(values) != 1:
                raise Reject(400, "duplicate_feature", f"query parameter {show(key)} is given {len(values)} times",
                             clip(key))
            single[key] = values[0]
        return [self.row_from_object(single, "")]

    def example_query(self) -> str:
        return "&".join(f"{k}=…" for k in self.labels[:4])
