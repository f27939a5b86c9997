"""What a user reaches for instead of lambdapack to serve a booster without its library, driven by each one's docs.

Every peer turns the fitted model into something that predicts without XGBoost or LightGBM, and
gives two things: an in-process ``evaluate(X)`` on the probe rows (the codes matrix of
``bench_boosters``: numbers, NaN for missing, a categorical input as its category code), and a
Lambda function zip (plus a layer when it needs libraries) that the local emulator runs:

- **m2cgen** (``export_to_python``): the generated module and a handler, nothing else. m2cgen 0.10
  reads XGBoost's ``base_score`` from ``get_params()``, which XGBoost >= 2 leaves ``None`` (the
  learned intercept lives in the booster's configuration, as ``"[6.27E-1]"`` since 3.1). The one
  patch: the model handed to m2cgen answers ``get_params()["base_score"]`` with that learned value
  (:func:`m2cgen_base_score_patch`); m2cgen itself is untouched.
- **TL2cgen** (Treelite's C generator, ``treelite.frontend`` + ``tl2cgen.export_lib`` with gcc):
  the shared library and a ctypes handler calling its exported ``predict`` (no numpy; the library
  needs only libc and libm). The in-process figures use ``tl2cgen.Predictor``, its own API.
- **ONNX Runtime** (onnxmltools' ``convert_xgboost`` / ``convert_lightgbm``, float32 inputs): the
  ``.onnx`` file and a handler; onnxruntime and numpy in a layer (``lambdapack build-layer``).
  onnxmltools' XGBoost converter accepts only features named ``f0, f1, …``: it is given a copy of
  the model with its booster's feature names so renamed (what its error message asks a user to do).

A peer that refuses the model reports the error a user would read, and the bench says so.
"""

from __future__ import annotations

import copy
import json
import os
import re
import sys
import textwrap
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from lambdapack.archive import ZipEntry, write_zip

PEERS = ("m2cgen", "tl2cgen", "onnxruntime")
M2CGEN_RECURSION_LIMIT = 100_000
PEER_MODULES = {"m2cgen": ("m2cgen",), "tl2cgen": ("treelite", "tl2cgen"),
                "onnxruntime": ("onnxmltools", "onnxruntime", "onnx")}


@dataclass(frozen=True)
class Peer:
    """One peer's take on one model: how to evaluate the probe rows here, and the function it ships."""

    name: str
    error: str | None = None  # the converter refused the model: what the user reads
    evaluate: Callable[[Any], tuple[Any, Any]] | None = None  # codes matrix -> (labels or None, values)
    files: dict[str, bytes] = field(default_factory=dict)  # the function zip's members
    layer_requirements: tuple[str, ...] = ()  # what its function needs in a layer (build-layer arguments)
    dependencies: str = ""  # what it needs at run time, in words
    note: str = ""
    seconds: float = 0.0  # the conversion (and compilation) time


@dataclass(frozen=True)
class ModelFacts:
    """What a peer needs to know about the model: which library, the task, its inputs."""

    library: str  # "xgboost" | "lightgbm"
    task: str  # "classification" | "regression"
    names: tuple[str, ...]
    categories: dict[int, list[str]]  # column index -> the categories, code order


# The handlers' shared first lines: the event's values in the inputs' order, a category as its code.
_ROW = '''
import json
import math
import os

HERE = os.path.dirname(os.path.abspath(__file__))
with open(os.path.join(HERE, "inputs.json")) as fh:
    INPUTS = json.load(fh)


def row_of(event):
    row = []
    for spec in INPUTS:
        value = event.get(spec["name"])
        if value is None:
            row.append(math.nan)
        elif spec["categories"] is not None:
            row.append(float(spec["categories"].index(value)))
        else:
            row.append(float(value))
    return row
'''

M2CGEN_HANDLER = _ROW + '''
from model import score


def lambda_handler(event, context):
    return {"value": score(row_of(event))}
'''

TL2CGEN_HANDLER = _ROW + '''
import ctypes

LIB = ctypes.CDLL(os.path.join(HERE, "model.so"))
for _name in ("get_threshold_type", "get_leaf_output_type"):
    getattr(LIB, _name).restype = ctypes.c_char_p
_CTYPE = {b"float32": ctypes.c_float, b"float64": ctypes.c_double}
INPUT = _CTYPE[LIB.get_threshold_type()]
OUTPUT = _CTYPE[LIB.get_leaf_output_type()]
N_TARGET = LIB.get_num_target()
N_CLASS = (ctypes.c_int32 * N_TARGET)()
LIB.get_num_class(N_CLASS)
N_OUT = N_TARGET * max(N_CLASS)


class Entry(ctypes.Union):
    _fields_ = [("missing", ctypes.c_int), ("fvalue", INPUT), ("qvalue", ctypes.c_int)]


def lambda_handler(event, context):
    row = row_of(event)
    data = (Entry * len(row))()
    for i, value in enumerate(row):
        if math.isnan(value):
            data[i].missing = -1
        else:
            data[i].fvalue = value
    out = (OUTPUT * N_OUT)()
    LIB.predict(data, 0, out)
    return {"value": list(out)}
'''

ONNX_HANDLER = _ROW + '''
import numpy as np
import onnxruntime

SESSION = onnxruntime.InferenceSession(os.path.join(HERE, "model.onnx"), providers=["CPUExecutionProvider"])


def lambda_handler(event, context):
    outputs = SESSION.run(None, {"input": np.array([row_of(event)], dtype=np.float32)})
    return {"value": [o.tolist() for o in outputs]}
'''


def inputs_json(facts: ModelFacts) -> bytes:
    return json.dumps([{"name": n, "categories": facts.categories.get(i)}
                       for i, n in enumerate(facts.names)]).encode()


def refusal_text(exc: BaseException) -> str:
    """The converter's error as a user reads it, without a C++ log prefix or the failed check's condition."""
    text = " ".join(line.strip() for line in str(exc).strip().splitlines()[:3])
    text = re.sub(r"\[\d\d:\d\d:\d\d\] \S+:\d+: ", "", text)
    text = re.sub(r"Check failed: [^:]*: ", "", text)
    return f"{type(exc).__name__}: {text}"[:300]


# ---------------------------------------------------------------------------- m2cgen


def parse_base_score(text: str) -> float:
    """``"6.2E-1"`` (XGBoost < 3.1) or ``"[6.2E-1]"`` (a vector since 3.1) as the one value m2cgen takes."""
    values = [float(v) for v in str(text).strip().strip("[]").split(",") if v.strip()]
    if len(values) != 1:
        raise ValueError(f"base_score has {len(values)} values; m2cgen 0.10 takes one")
    return values[0]


def learned_base_score(model: Any) -> float:
    """XGBoost's learned intercept, from the booster's configuration."""
    config = json.loads(model.get_booster().save_config())
    return parse_base_score(config["learner"]["learner_model_param"]["base_score"])


def m2cgen_base_score_patch(model: Any) -> Any:
    """A copy of an XGBoost model whose ``get_params()["base_score"]`` is the learned one (m2cgen reads it there)."""
    patched = copy.deepcopy(model)
    original = patched.get_params
    value = learned_base_score(model)

    def get_params(deep: bool = True) -> dict[str, Any]:
        return {**original(deep), "base_score": value}

    patched.get_params = get_params  # type: ignore[method-assign]
    return patched


def m2cgen_peer(model: Any, facts: ModelFacts) -> Peer:
    import m2cgen

    note = ""
    try:
        given = model
        if facts.library == "xgboost" and model.get_params().get("base_score") is None:
            given = m2cgen_base_score_patch(model)
            note = f"get_params()['base_score'] given as the learned {learned_base_score(model)!r}"
        # m2cgen walks each tree recursively; its README's answer to RecursionError is a higher limit
        limit = sys.getrecursionlimit()
        sys.setrecursionlimit(max(limit, M2CGEN_RECURSION_LIMIT))
        try:
            code = m2cgen.export_to_python(given)
        finally:
            sys.setrecursionlimit(limit)
    except Exception as exc:  # noqa: BLE001 - any converter failure is the peer's answer, reported as such
        return Peer("m2cgen", error=refusal_text(exc), note=note)
    namespace: dict[str, Any] = {}
    exec(compile(code, "m2cgen_model.py", "exec"), namespace)  # the peer's own generated code
    score = namespace["score"]

    def evaluate(X: Any) -> tuple[None, list]:
        return None, [score(list(map(float, row))) for row in X]

    return Peer("m2cgen", evaluate=evaluate, dependencies="none (the generated module uses math)",
                files={"model.py": code.encode(), "lambda_function.py": M2CGEN_HANDLER.encode(),
                       "inputs.json": inputs_json(facts)},
                note="; ".join(filter(None, [note, f"generated module {len(code.encode()):,} bytes"])))


# ---------------------------------------------------------------------------- TL2cgen


def tl2cgen_peer(model: Any, facts: ModelFacts, work: Path) -> Peer:
    import tl2cgen
    import treelite

    library = work / "model.so"
    try:
        if facts.library == "xgboost":
            tree_model = treelite.frontend.from_xgboost(model.get_booster())
        else:
            tree_model = treelite.frontend.from_lightgbm(model.booster_)
        # TL2cgen's advice for large models: one source file per core, compiled side by side
        tl2cgen.export_lib(tree_model, toolchain="gcc", libpath=str(library),
                           params={"parallel_comp": os.cpu_count() or 1}, verbose=False)
        predictor = tl2cgen.Predictor(str(library))
    except Exception as exc:  # noqa: BLE001 - any converter failure is the peer's answer, reported as such
        return Peer("tl2cgen", error=refusal_text(exc))
    dtype = "float32" if predictor.threshold_type == "float32" else "float64"

    def evaluate(X: Any) -> tuple[None, Any]:
        return None, predictor.predict(tl2cgen.DMatrix(X.astype(dtype), dtype=dtype))

    return Peer("tl2cgen", evaluate=evaluate, dependencies="none (the shared library needs libc and libm)",
                files={"model.so": library.read_bytes(), "lambda_function.py": TL2CGEN_HANDLER.encode(),
                       "inputs.json": inputs_json(facts)},
                note=f"treelite {treelite.__version__}, tl2cgen {tl2cgen.__version__}; inputs as {dtype}")


# ---------------------------------------------------------------------------- ONNX Runtime


def _renamed_for_onnxmltools(model: Any, n: int) -> Any:
    renamed = copy.deepcopy(model)
    renamed.get_booster().feature_names = [f"f{i}" for i in range(n)]
    return renamed


def onnx_peer(model: Any, facts: ModelFacts) -> Peer:
    import numpy as np
    import onnxmltools
    import onnxruntime
    from onnxmltools.convert.common.data_types import FloatTensorType

    n = len(facts.names)
    types = [("input", FloatTensorType([None, n]))]
    note = ""
    try:
        if facts.library == "xgboost":
            given = model
            if model.get_booster().feature_names and model.get_booster().feature_names[0] != "f0":
                given = _renamed_for_onnxmltools(model, n)
                note = "features renamed f0… in a copy (the converter takes no other names)"
            converted = onnxmltools.convert_xgboost(given, initial_types=types)
        else:
            converted = onnxmltools.convert_lightgbm(model, initial_types=types, zipmap=False)
        data = converted.SerializeToString()
        session = onnxruntime.InferenceSession(data, providers=["CPUExecutionProvider"])
    except Exception as exc:  # noqa: BLE001 - any converter failure is the peer's answer, reported as such
        return Peer("onnxruntime", error=refusal_text(exc), note=note)

    def evaluate(X: Any) -> tuple[Any, Any]:
        outputs = session.run(None, {"input": np.asarray(X, dtype=np.float32)})
        if facts.task == "classification":
            return np.asarray(outputs[0]).ravel(), np.asarray(outputs[1])
        return None, np.asarray(outputs[0]).ravel()

    return Peer("onnxruntime", evaluate=evaluate, layer_requirements=("onnxruntime", "numpy"),
                dependencies="onnxruntime and numpy (a layer)",
                files={"model.onnx": data, "lambda_function.py": ONNX_HANDLER.encode(),
                       "inputs.json": inputs_json(facts)},
                note="; ".join(filter(None, [note, f"onnxmltools {onnxmltools.__version__}, onnxruntime "
                                             f"{onnxruntime.__version__}, float32 inputs"])))


def build_peers(model: Any, facts: ModelFacts, work: Path, names: Sequence[str] = PEERS) -> dict[str, Peer]:
    """Every peer's conversion of ``model``; each peer's function zip written under ``work``."""
    out: dict[str, Peer] = {}
    for name in names:
        where = work / name
        where.mkdir(parents=True, exist_ok=True)
        started = time.perf_counter()
        if name == "m2cgen":
            peer = m2cgen_peer(model, facts)
        elif name == "tl2cgen":
            peer = tl2cgen_peer(model, facts, where)
        else:
            peer = onnx_peer(model, facts)
        peer = replace(peer, seconds=round(time.perf_counter() - started, 1))
        if peer.files:
            write_zip(where / "function.zip", [ZipEntry(k, v) for k, v in sorted(peer.files.items())])
        out[name] = peer
    return out


def handler_sources() -> dict[str, str]:
    """The three handlers as shipped (for the docs and the tests)."""
    return {"m2cgen": textwrap.dedent(M2CGEN_HANDLER), "tl2cgen": TL2CGEN_HANDLER, "onnxruntime": ONNX_HANDLER}
