"""Models saved in a library's own format, for ``model import``: one loader per format, chosen by the file.

``model import model.json`` (XGBoost), ``model import model.txt`` (LightGBM): the loader reads the
file with the library installed here and returns the object ``model import`` pickles as
``model.joblib``, so every later step (the manifest's schema, the predictor, the estimator path
through ``lambdapack_runtime.adapters``) sees one kind of model file. A file no loader claims is
read by joblib.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from lambdapack.model import native_lightgbm, native_xgboost

# (does this loader claim the file?, load it) in the order they are asked
LOADERS: list[tuple[Callable[[Path], bool], Callable[[Path], Any]]] = [
    (native_lightgbm.claims, native_lightgbm.load),  # a text model (its first line "tree", whatever its name), .txt
    (native_xgboost.claims, native_xgboost.load),  # .json, .ubj
]


def load_native(path: Path) -> Any | None:
    """The model in ``path`` if a native-format loader claims the file, else None (a joblib/pickle file)."""
    for claims, load in LOADERS:
        if claims(path):
            return load(path)
    return None


def as_estimator(native: Any) -> Any:
    """A loaded native model as the handler serves it: wrapped by its ``lambdapack_runtime`` adapter."""
    from lambdapack.predictor.inputs import runtime_importable

    runtime_importable()
    from lambdapack_runtime.adapters import adapt

    return adapt(native)
