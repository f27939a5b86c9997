"""The stdlib predictor: a fitted model compiled to a file of tables, evaluated without numpy.

``lambdapack package`` compiles a covered model into ``model.predictor`` (this module writes and
reads the format; docs/formats.md describes it) and proves, in the model's own libraries, that
:meth:`Predictor.predict` gives the estimator's answers: bit for bit where the estimator's
arithmetic can be reproduced in Python floats, within a measured and stated bound where it
cannot (see ``function.json``'s ``claim``). At init the handler then reads a few kilobytes
instead of importing numpy, scipy and scikit-learn: cold start drops from seconds to
milliseconds.

A predictor is a pipeline: the preprocessing ``steps`` (:mod:`.transforms`), one ``model``
kernel (:mod:`.trees` or :mod:`.linear`) and the ``output`` rule (:mod:`.links`). A row is
the request's inputs in the manifest's order: numbers (NaN when missing) and categories.
This package imports only the standard library: it ships in the function zip.
"""

from __future__ import annotations

import array
import json
import math
import struct
import sys

from . import transforms
from .linear import Linear
from .links import Output
from .trees import Trees

try:  # CPython's built-in SHA-256: hashlib would load OpenSSL, ~3 ms of every cold start
    from _sha2 import sha256 as new_sha256  # 3.12+
except ImportError:
    try:
        from _sha256 import sha256 as new_sha256  # 3.10, 3.11
    except ImportError:
        from hashlib import sha256 as new_sha256

FORMAT = "lambdapack.predictor/2"
MAGIC = b"LPKPRED2"
_HEADER_LEN = struct.Struct("<I")
# name -> array typecode; every table is little-endian on disk
TABLE_TYPES = {"feature": "i", "left": "i", "right": "i", "threshold": "d", "missing_left": "B",
               "categorical": "B", "values": "d"}
_SIZES = {"i": 4, "d": 8, "B": 1}
KERNELS = {"trees": Trees, "linear": Linear}
# Tables up to this many entries become lists (fastest to index); larger ones stay arrays, which
# load in a memcpy instead of boxing every number: init time for big forests, at some warm speed.
LIST_ENTRIES = 100_000
# The init self-check walks at most this many rows x nodes, so it stays cheap for big models.
CHECK_BUDGET = 200_000


class PredictorError(ValueError):
    """The predictor file is truncated, tampered with, or not a format this code reads."""


def _check_typecodes() -> None:
    # array's "i" is a C int: 4 bytes on every platform Lambda runs, but say so if not
    for name, code in TABLE_TYPES.items():
        size = array.array(code).itemsize
        if size != _SIZES[code]:
            raise PredictorError(f"array typecode {code!r} of table {name} is {size} bytes here")


def encode(header: dict, tables: dict) -> bytes:
    """The predictor file for ``header`` and ``tables`` ({name: sequence}); deterministic bytes."""
    _check_typecodes()
    blobs, described = [], []
    for name in sorted(tables):
        values = array.array(TABLE_TYPES[name], tables[name])
        if sys.byteorder == "big":
            values.byteswap()
        blobs.append(values.tobytes())
        described.append({"name": name, "count": len(values)})
    head = dict(header, format=FORMAT, tables=described)
    text = json.dumps(head, sort_keys=True, separators=(",", ":"), allow_nan=False).encode()
    return MAGIC + _HEADER_LEN.pack(len(text)) + text + b"".join(blobs)


def decode(data: bytes) -> tuple[dict, dict]:
    """``(header, {name: list})`` from a predictor file's bytes."""
    _check_typecodes()
    if data[: len(MAGIC)] != MAGIC:
        raise PredictorError("not a lambdapack predictor of this version (bad magic)")
    start = len(MAGIC) + _HEADER_LEN.size
    if len(data) < start:
        raise PredictorError("truncated header")
    (length,) = _HEADER_LEN.unpack_from(data, len(MAGIC))
    try:
        header = json.loads(data[start : start + length])
    except ValueError as exc:
        raise PredictorError(f"unreadable header ({exc})") from None
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise PredictorError(f"unknown format {header.get('format') if isinstance(header, dict) else None!r}")
    offset, tables = start + length, {}
    for table in header.get("tables", ()):
        code = TABLE_TYPES.get(table.get("name"))
        if code is None:
            raise PredictorError(f"unknown table {table.get('name')!r}")
        values = array.array(code)
        end = offset + int(table["count"]) * values.itemsize
        if end > len(data):
            raise PredictorError(f"truncated table {table['name']}")
        values.frombytes(data[offset:end])
        if sys.byteorder == "big":
            values.byteswap()
        # lists index faster than arrays; memory for them is what the Lambda would spend anyway
        tables[table["name"]] = values.tolist() if len(values) <= LIST_ENTRIES else values
        offset = end
    if offset != len(data):
        raise PredictorError(f"{len(data) - offset} bytes after the last table")
    return header, tables


class Predictor:
    """A compiled model: ``predict(rows)`` -> (class indices or values, probability rows or None)."""

    def __init__(self, header: dict, tables: dict) -> None:
        self.header = header
        self.task = header["task"]
        self.classes = header.get("classes")
        self.n_inputs = int(header["n_inputs"])
        self.transform = transforms.build(header.get("steps") or [])
        spec = header["model"]
        kernel = KERNELS.get(spec.get("kind"))
        if kernel is None:
            raise PredictorError(f"unknown model kind {spec.get('kind')!r}")
        self.kind = spec["kind"]
        self.model = kernel(spec, tables)
        self.output = Output(header.get("output") or {}, self.task)

    def check_nodes(self) -> None:
        self.model.check_nodes()

    def raw(self, row: list) -> list:
        """The model's raw scores for one row of inputs (after the steps)."""
        return self.model.raw(self.transform(row))

    def predict_one(self, row: list) -> tuple:
        """``(class index or value, probabilities or None)`` for one row of inputs."""
        return self.output.answer(self.model.raw(self.transform(row)))

    def predict(self, rows: list) -> tuple:
        """``(outputs, probability rows or None)`` for a batch, as the handler serves them."""
        outputs, probas = [], []
        for row in rows:
            out, proba = self.predict_one(row)
            outputs.append(out)
            probas.append(proba)
        if self.task != "classification" or (probas and probas[0] is None):
            return outputs, None
        return outputs, probas

    def self_check(self) -> None:
        """Answer the rows the compiler embedded exactly as the estimator did, or refuse to serve."""
        check = self.header.get("check") or {}
        kinds = self.header.get("input_kinds") or ["number"] * self.n_inputs
        # JSON has no NaN: a missing number is null, as a request sends it
        rows = [[math.nan if v is None and kind == "number" else v for v, kind in zip(row, kinds, strict=True)]
                for row in check.get("rows") or []]
        keep = max(1, CHECK_BUDGET // max(len(getattr(self.model, "feature", ())), 1))
        rows, expected = rows[:keep], (check.get("outputs") or [])[:keep]
        got = self.predict(rows)[0]
        if got != expected:
            raise PredictorError(f"self-check failed: {got[:4]} != {expected[:4]}")


def load(path: str, sha256: str | None = None) -> Predictor:
    """Read, verify and self-check the predictor at ``path``; PredictorError (or OSError) if unusable."""
    with open(path, "rb") as fh:
        data = fh.read()
    if sha256 is not None:
        actual = new_sha256(data).hexdigest()
        if actual != sha256:
            raise PredictorError(f"sha256 {actual[:12]}… does not match the function manifest's {sha256[:12]}…")
    header, tables = decode(data)
    try:
        predictor = Predictor(header, tables)
    except (KeyError, TypeError, ValueError, IndexError) as exc:
        if isinstance(exc, PredictorError):
            raise
        raise PredictorError(f"malformed header or tables ({exc!r})") from None
    predictor.self_check()
    return predictor
