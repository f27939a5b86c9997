"""``train --layer``: fit the model with the layer's own libraries, so they match by construction.

The layer zip is unpacked (safely) into a temporary directory and ``_child_train.py`` runs by
path in an interpreter of the layer's Python minor version with ``-I -S -B``: no user site,
no interpreter site-packages, no ``PYTHON*`` variables, no script directory; the child puts
only the layer's directories on ``sys.path``. A layer whose machine code cannot run here
(another architecture, a newer glibc, not Linux) is refused before anything starts.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lambdapack import archive, interpreters
from lambdapack.errors import LayerError, ModelError
from lambdapack.layer.inspect import Host, LayerInfo, cannot_run_here, inspect_layer
from lambdapack.layer.record import RECORD_NAME
from lambdapack.model import _child_train, version_rule

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
    python: Path

    def run(self, request: dict[str, Any], X: Any, y: Any) -> dict[str, Any]:
        """Run ``_child_train`` on ``request`` with the layer; the model is written to ``request['out']``."""
        with archive.scratch_dir("train-layer") as tmp:
            root = Path(tmp) / "opt"
            archive.safe_extract(self.layer.path, root)
            paths = [root / where for where in (self.layer.site_packages, "python") if where]
            payload = dict(request, X=_as_lists(X), y=_as_lists(y),
                           sys_path=[str(p) for p in paths if p.is_dir()])
            reply = self._call(payload, cwd=Path(tmp))
            sklearn_path = Path(str(reply.get("sklearn_path", ""))).resolve()
            if not sklearn_path.is_relative_to(root.resolve()):
                raise ModelError(f"the isolated interpreter imported scikit-learn from {sklearn_path}, not the layer",
                                 hint="this is a lambdapack bug; please report it")
        if self.layer.record is not None:
            mismatches = version_rule.version_mismatches(reply["versions"], self.layer.versions)
            if mismatches:
                raise ModelError(f"{self.layer.path}: its record disagrees with the libraries it holds: "
                                 + "; ".join(m.describe() for m in mismatches),
                                 hint="rebuild the layer with `lambdapack build-layer`")
        return reply

    def _call(self, payload: dict[str, Any], cwd: Path) -> dict[str, Any]:
        script = Path(_child_train.__file__).resolve()
        command = [str(self.python), "-I", "-S", "-B", str(script)]
        try:
            done = subprocess.run(command, input=json.dumps(payload), capture_output=True, text=True, cwd=cwd,
                                  check=False)
        except OSError as exc:
            raise ModelError(f"cannot run {self.python} ({exc.strerror or exc})",
                             hint="pass a working interpreter with --python") from None
        try:
            reply = json.loads(done.stdout.strip().splitlines()[-1]) if done.stdout.strip() else None
        except json.JSONDecodeError:
            reply = None
        if done.returncode != 0 or not isinstance(reply, dict):
            tail = " | ".join(done.stderr.strip().splitlines()[-3:]) or f"exit status {done.returncode}"
            raise ModelError(f"training in the layer's Python failed: {tail}",
                             hint="check that the layer was built for this Python and carries scikit-learn "
                                  "(`lambdapack check-layer LAYER.zip`)")
        if not reply.get("ok"):
            from lambdapack.model.train import failure_to_error

            message = str(reply.get("message"))
            if reply.get("kind") == "import":
                message = f"{self.layer.path} cannot train a model here: {message}"
            raise failure_to_error(str(reply.get("kind")), message)
        return reply


def _as_lists(values: Any) -> Sequence[Any]:
    return values.tolist() if hasattr(values, "tolist") else list(values)


def prepare(layer_zip: Path, python: str | None = None) -> IsolatedTrainer:
    """Check that ``layer_zip`` can run here and find its interpreter; nothing is unpacked yet."""
    layer, version = layer_for_training(layer_zip)
    interpreter = interpreters.require_python(version, python)
    return IsolatedTrainer(layer, interpreter)
