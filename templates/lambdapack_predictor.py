"""The stdlib predictor: a fitted tree model as flat node tables, evaluated without numpy.

``lambdapack package`` compiles a supported scikit-learn model into ``model.predictor`` (this
module writes and reads the format; docs/formats.md describes it) and proves, in the model's
own scikit-learn, that :meth:`Predictor.predict` gives the estimator's answers bit for bit. At
init the handler then reads a few tens of kilobytes instead of importing numpy, scipy and
scikit-learn: cold start drops from seconds to milliseconds.

Exactness follows scikit-learn's own arithmetic:

* decision trees and forests see inputs rounded to float32, compared ``<=`` to float64
  thresholds; histogram boosting compares the float64 input itself, and sends NaN where the
  model learned to;
* forests add the trees' leaf values one tree after another starting from 0.0, then divide by
  the number of trees; gradient boosting starts from the init estimator's constant raw score and
  adds ``learning_rate * leaf`` stage by stage, class by class; histogram boosting adds the
  baseline, then each leaf value;
* ties go to the first class (``np.argmax``); binary boosting decides by the raw score's sign
  with the estimator's own comparison (``>= 0`` or ``> 0``);
* links are the estimator's: expit as scipy computes it, softmax summed in numpy's pairwise
  order. ``exp`` is the C library's; numpy's AVX-512 ``exp`` can differ from it in the last bit,
  which ``package`` measures and reports.

This file imports only the standard library: it ships in the function zip.
"""

from __future__ import annotations

import array
import json
import math
import struct
import sys

try:  # CPython's built-in SHA-256: hashlib would load OpenSSL, ~3 ms of every cold start
    from _sha2 import sha256 as new_sha256  # 3.12+
except ImportError:
    try:
        from _sha256 import sha256 as new_sha256  # 3.10, 3.11
    except ImportError:
        from hashlib import sha256 as new_sha256

FORMAT = "lambdapack.predictor/1"
MAGIC = b"LPKPRED1"
_HEADER_LEN = struct.Struct("<I")
# name -> array typecode; every table is little-endian on disk
TABLE_TYPES = {"feature": "i", "left": "i", "right": "i", "threshold": "d", "missing_left": "B", "values": "d"}
KINDS = ("forest", "boosting", "hist_boosting")
DECISIONS = ("argmax", "raw_ge_0", "raw_gt_0", "value")
LINKS = ("identity", "logit", "half_logit", "softmax", "log")
_F32 = struct.Struct("<f")
FLOAT32_MAX = 3.4028234663852886e38
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
        if size != {"i": 4, "d": 8, "B": 1}[code]:
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
        raise PredictorError("not a lambdapack predictor (bad magic)")
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


def float32(value: float) -> float:
    """``value`` rounded to the nearest float32, as numpy's ``astype(np.float32)`` does."""
    if -FLOAT32_MAX <= value <= FLOAT32_MAX:
        return _F32.unpack(_F32.pack(value))[0]
    return math.copysign(math.inf, value) if value == value else value


def pairwise_sum(values: list) -> float:
    """Sum in numpy's order (``np.sum`` over a contiguous axis): the softmax denominator."""
    n = len(values)
    if n < 8:
        total = 0.0
        for v in values:
            total += v
        return total
    if n <= 128:
        r = values[:8]
        i = 8
        while i < n - n % 8:
            for j in range(8):
                r[j] += values[i + j]
            i += 8
        total = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]))
        for v in values[i:]:
            total += v
        return total
    half = n // 2
    half -= half % 8
    return pairwise_sum(values[:half]) + pairwise_sum(values[half:])


def expit(x: float) -> float:
    """scipy.special.expit: ``1 / (1 + exp(-x))``."""
    try:
        return 1.0 / (1.0 + math.exp(-x))
    except OverflowError:  # exp(-x) past the double range: scipy gives exactly 0.0 there
        return 0.0


def softmax(raw: list) -> list:
    """sklearn.utils.extmath.softmax for one row: subtract the max, exp, divide by the pairwise sum."""
    top = max(raw)
    exps = [math.exp(r - top) for r in raw]
    total = pairwise_sum(exps)
    return [e / total for e in exps]


def _argmax(values: list) -> int:
    best, index = values[0], 0
    for i in range(1, len(values)):
        if values[i] > best:
            best, index = values[i], i
    return index


class Predictor:
    """A compiled model: ``predict(rows)`` → (class indices or values, probability rows or None)."""

    def __init__(self, header: dict, tables: dict) -> None:
        self.header = header
        self.kind = header["kind"]
        if self.kind not in KINDS:
            raise PredictorError(f"unknown kind {self.kind!r}")
        self.task = header["task"]
        self.n_features = int(header["n_features"])
        self.n_values = int(header["n_values"])  # numbers per leaf: classes for a forest classifier, else 1
        self.roots = [int(r) for r in header["roots"]]
        self.tree_output = [int(k) for k in header.get("tree_output") or [0] * len(self.roots)]
        self.n_outputs = int(header.get("n_outputs", 1))  # raw scores per row (K classes for multiclass boosting)
        self.baseline = [float(b) for b in header.get("baseline") or [0.0] * self.n_outputs]
        self.scale = header.get("scale")  # gradient boosting's learning rate, applied at predict time
        self.link = header.get("link", "identity")
        self.decision = header.get("decision", "value")
        self.float32_inputs = bool(header.get("float32_inputs"))
        self.missing = bool(header.get("missing"))
        self.classes = header.get("classes")
        if self.link not in LINKS or self.decision not in DECISIONS:
            raise PredictorError(f"unknown link {self.link!r} or decision {self.decision!r}")
        self.feature = tables["feature"]
        self.left = tables["left"]
        self.right = tables["right"]
        self.threshold = tables["threshold"]
        self.values = tables["values"]
        self.missing_left = tables.get("missing_left")
        self._check_shape()

    def _check_shape(self) -> None:
        """What init can check in time proportional to the trees, not the nodes."""
        n = len(self.feature)
        if not (len(self.left) == len(self.right) == len(self.threshold) == n):
            raise PredictorError("node tables of different lengths")
        if self.missing and (self.missing_left is None or len(self.missing_left) != n):
            raise PredictorError("missing-value routing table absent or of the wrong length")
        if len(self.tree_output) != len(self.roots) or any(not 0 <= r < n for r in self.roots):
            raise PredictorError("tree roots out of range")
        if any(not 0 <= k < self.n_outputs for k in self.tree_output):
            raise PredictorError("tree output index out of range")

    def check_nodes(self) -> None:
        """Every node well formed: children after their parent (no cycles), leaves inside the values.

        O(nodes) in Python: the compiler runs it before shipping; the sha256 in function.json then
        guards the bytes, so init need not.
        """
        n = len(self.feature)
        for node in range(n):
            f = self.feature[node]
            if f >= self.n_features:
                raise PredictorError(f"node {node} tests feature {f} of {self.n_features}")
            if f < 0:
                if not 0 <= self.left[node] <= len(self.values) - self.n_values:
                    raise PredictorError(f"leaf {node} points outside the value table")
            elif not (node < self.left[node] < n and node < self.right[node] < n):
                raise PredictorError(f"node {node} has children out of order or range")

    # -- one row -------------------------------------------------------------------------------

    def leaves(self, x: list) -> list:
        """The value offset of the leaf each tree sends ``x`` to."""
        feature, threshold, left, right = self.feature, self.threshold, self.left, self.right
        out = []
        if self.missing:
            go_left = self.missing_left
            for node in self.roots:
                f = feature[node]
                while f >= 0:
                    v = x[f]
                    if v != v:  # NaN: where the model learned to send missing values
                        node = left[node] if go_left[node] else right[node]
                    else:
                        node = left[node] if v <= threshold[node] else right[node]
                    f = feature[node]
                out.append(left[node])
            return out
        for node in self.roots:
            f = feature[node]
            while f >= 0:
                node = left[node] if x[f] <= threshold[node] else right[node]
                f = feature[node]
            out.append(left[node])
        return out

    def raw(self, x: list) -> list:
        """The forest's averaged leaf values, or the boosting's raw scores, for one row."""
        values, offsets = self.values, self.leaves(x)
        if self.kind == "forest":
            width = self.n_values
            if len(offsets) == 1:
                return values[offsets[0] : offsets[0] + width]
            total = [0.0] * width
            for off in offsets:
                for c in range(width):
                    total[c] += values[off + c]
            n = len(offsets)
            return [t / n for t in total]
        raw = list(self.baseline)
        scale, outputs = self.scale, self.tree_output
        if scale is None:
            for off, k in zip(offsets, outputs, strict=True):
                raw[k] += values[off]
        else:
            for off, k in zip(offsets, outputs, strict=True):
                raw[k] += scale * values[off]
        return raw

    def predict_one(self, x: list) -> tuple:
        """``(class index or value, probabilities or None)`` for one row of float inputs."""
        if self.float32_inputs:
            x = [float32(v) for v in x]
        raw = self.raw(x)
        if self.task == "regression":
            value = raw[0]
            return (math.exp(value) if self.link == "log" else value), None
        if self.kind == "forest":
            return _argmax(raw), raw
        if self.link == "softmax":
            return _argmax(raw), softmax(raw)
        p = expit(2.0 * raw[0] if self.link == "half_logit" else raw[0])
        positive = raw[0] >= 0 if self.decision == "raw_ge_0" else raw[0] > 0
        return (1 if positive else 0), [1.0 - p, p]

    def predict(self, rows: list) -> tuple:
        """``(outputs, probability rows or None)`` for a batch, as the handler serves them."""
        outputs, probas = [], []
        for row in rows:
            out, proba = self.predict_one(row)
            outputs.append(out)
            probas.append(proba)
        return outputs, (probas if self.task == "classification" else None)

    def self_check(self) -> None:
        """Answer the rows the compiler embedded exactly as the estimator did, or refuse to serve."""
        check = self.header.get("check") or {}
        rows = [[math.nan if v is None else v for v in row] for row in check.get("rows") or []]
        keep = max(1, CHECK_BUDGET // max(len(self.feature), 1))
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
