"""``train --layer``: fit the model with the layer's own libraries, so they match by construction.

``_child_train.py`` runs in the layer's Python through :class:`lambdapack.layer_python.LayerPython`
(``-I -S -B``: no user site, no interpreter site-packages, no ``PYTHON*`` variables, only the
unpacked layer on ``sys.path``). A layer whose machine code cannot run here (another
architecture, a newer glibc, not Linux) is refused before anything starts.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lambdapack.errors import LayerError, ModelError
from lambdapack.layer.inspect import Host, LayerInfo, cannot_run_here, inspect_layer
from lambdapack.layer.record import RECORD_NAME
from lambdapack.layer_python import ChildFailure, LayerPython
from lambdapack.model import version_rule
from lambdapack.predictor.files import compiler_modules
from lambdapack.predictor.inputs import DESCRIBE_IN_CHILD

CHILD_TRAIN = Path(__file__).resolve().with_name("_child_train.py")

_WAY_OUT = ("train without --layer in an environment with the layer's library versions, "
            "or run `lambdapack train --layer` on a machine that matches the layer")


def layer_for_training(zip_path: Path, host: Host | None = None) -> tuple[LayerInfo, tuple[int, int]]:
    """The layer as every command reads it, and the Python to train in; refused when this machine cannot run it."""
    layer = inspect_layer(Path(zip_path))
    if layer.python is None:
        raise LayerError(f"{zip_path}: not a Python layer (no {RECORD_NAME}, no python/lib/python3.X/site-packages)",
                         hint="build one with `lambdapack build-layer scikit-learn joblib`")
    check_runnable_here(layer, host)
    return layer, layer.python


def check_runnable_here(layer: LayerInfo, host: Host | None = None) -> None:
    """Refuse a layer whose compiled code this machine cannot execute."""
    reason = cannot_run_here(layer, host)
    if reason is not None:
        raise ModelError(reason, hint=_WAY_OUT)


@dataclass(frozen=True)
class IsolatedTrainer:
    layer: LayerInfo
    env: LayerPython

    @property
    def python(self) -> Path:
        return self.env.interpreter

    def run(self, request: dict[str, Any], X: Any, y: Any) -> dict[str, Any]:
        """Run ``_child_train`` on ``request`` with the layer; the model is written to ``request['out']``."""
        payload = dict(request, X=_as_lists(X), y=_as_lists(y))
        try:
            payload["describe_with"] = DESCRIBE_IN_CHILD
            modules = {"_child_train": CHILD_TRAIN, **compiler_modules()}
            reply = self.env.call("_child_train:fit_and_reply", payload, modules)
        except ChildFailure as exc:
            raise self._failure(exc) from None
        opt = self.env.opt_dir.resolve() if self.env.opt_dir is not None else None
        sklearn_path = Path(str(reply.get("sklearn_path", ""))).resolve()
        if opt is None or not sklearn_path.is_relative_to(opt):
            raise ModelError(f"the isolated interpreter imported scikit-learn from {sklearn_path}, not the layer",
                             hint="this is a lambdapack bug; please report it")
        if self.layer.record is not None:
            mismatches = version_rule.version_mismatches(reply["versions"], self.layer.versions)
            if mismatches:
                raise ModelError(f"{self.layer.path}: its record disagrees with the libraries it holds: "
                                 + "; ".join(m.describe() for m in mismatches),
                                 hint="rebuild the layer with `lambdapack build-layer`")
        return reply

    def _failure(self, exc: ChildFailure) -> ModelError:
        if exc.kind == "start":
            return ModelError(exc.message, hint="pass a working interpreter with --python")
        if exc.kind == "crash":
            return ModelError(f"training in the layer's Python failed: {exc.message}",
                              hint="check that the layer was built for this Python and carries scikit-learn "
                                   "(`lambdapack check-layer LAYER.zip`)")
        message = exc.message
        if exc.kind == "import":
            message = f"{self.layer.path} cannot train a model here: {message}"
        return failure_to_error(exc.kind, message)


def failure_to_error(kind: str, message: str) -> ModelError:
    """A failure ``_child_train`` reported (``TrainFailure.kind``) as the user's error, with its hint."""
    hints = {
        "param": "fix the --param value (the message says what the estimator accepts)",
        "data": "use more rows or a different --test-size",
        "fit": "check the data and parameters; the estimator's own message is above",
        "estimator": "choose an estimator from `lambdapack train --help`",
        "import": "the layer must carry scikit-learn, numpy, scipy and joblib "
                  "(`lambdapack build-layer scikit-learn joblib`)",
    }
    return ModelError(message, hint=hints.get(kind, "see the message above"))


def _as_lists(values: Any) -> Sequence[Any]:
    return values.tolist() if hasattr(values, "tolist") else list(values)


def prepare(layer_zip: Path, python: str | None = None) -> IsolatedTrainer:
    """Check that ``layer_zip`` can run here and find its interpreter, with the layer unpacked."""
    layer, _version = layer_for_training(layer_zip)
    return IsolatedTrainer(layer, LayerPython.for_layers([layer], python, error=ModelError))
