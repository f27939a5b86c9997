"""``function.json``: what a function zip serves with, and whether it needs a layer.

``lambdapack package`` writes it at the root of the function zip beside the handler. It says
which path the handler serves requests by (``predictor``: the stdlib predictor compiled from
the model; ``joblib``: the estimator unpickled from the layer's scikit-learn), why, the
predictor file's sha256 (the handler refuses a predictor that does not match it), and whether
the function can run without the scikit-learn layer (``needs_layer``). Every command that
must know (``invoke --local``, ``serve``, ``deploy``, ``--no-layer``) reads it through
:func:`read_function_manifest`. A zip packaged before this file existed reads as one that
needs its layer. Format: docs/formats.md.
"""

from __future__ import annotations

import json
import zipfile
from dataclasses import asdict, dataclass
from pathlib import Path

from lambdapack import archive
from lambdapack.defaults import HANDLER
from lambdapack.errors import PackageError

SCHEMA = "lambdapack.function/1"
FUNCTION_MANIFEST = "function.json"
SERVING_PATHS = ("predictor", "joblib")


@dataclass(frozen=True)
class PredictorFile:
    file: str  # "model.predictor"
    format: str  # "lambdapack.predictor/2"
    sha256: str
    bytes: int
    kind: str  # the model kernel: "trees" or "linear"
    max_rows: int  # batches larger than this go to the estimator when the layer is there


@dataclass(frozen=True)
class FunctionManifest:
    serving: str  # one of SERVING_PATHS
    reason: str  # why that path, in a sentence
    needs_layer: bool
    runtime: str | None  # the runtime the function was packaged for (from --layer or --runtime)
    predictor: PredictorFile | None
    handler: str = HANDLER
    claim: dict | None = None  # what the proof established for the predictor (docs/function.md)

    def to_dict(self) -> dict:
        data = {"schema": SCHEMA, **asdict(self)}
        return data

    def to_bytes(self) -> bytes:
        return (json.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n").encode()

    @classmethod
    def from_dict(cls, data: object, where: str) -> FunctionManifest:
        if not isinstance(data, dict) or data.get("schema") != SCHEMA:
            schema = data.get("schema") if isinstance(data, dict) else None
            raise PackageError(f"{where}: unknown schema {schema!r} (expected {SCHEMA})",
                               hint="repackage the function with this lambdapack (`lambdapack package`)")
        try:
            predictor = data.get("predictor")
            serving = str(data["serving"])
            if serving not in SERVING_PATHS:
                raise ValueError(f"serving {serving!r}")
            return cls(
                serving=serving,
                reason=str(data.get("reason") or ""),
                needs_layer=bool(data["needs_layer"]),
                runtime=str(data["runtime"]) if data.get("runtime") else None,
                predictor=PredictorFile(**predictor) if predictor else None,
                handler=str(data.get("handler") or HANDLER),
                claim=dict(data["claim"]) if isinstance(data.get("claim"), dict) else None,
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise PackageError(f"{where}: malformed function manifest ({exc})",
                               hint="repackage the function with `lambdapack package`") from None


def read_function_manifest(function_zip: Path) -> FunctionManifest:
    """The manifest inside ``function_zip``; a zip without one needs its layer (older packages)."""
    function_zip = Path(function_zip)
    with archive.open_zip(function_zip) as zf:
        try:
            raw = zf.read(FUNCTION_MANIFEST)
        except KeyError:
            return FunctionManifest(serving="joblib", reason=f"packaged without {FUNCTION_MANIFEST}",
                                    needs_layer=True, runtime=None, predictor=None)
        except (zipfile.BadZipFile, OSError, EOFError) as exc:
            raise PackageError(f"{function_zip}: corrupt archive ({exc})",
                               hint="repackage the function with `lambdapack package`") from None
    try:
        data = json.loads(raw)
    except ValueError as exc:
        raise PackageError(f"{function_zip}: {FUNCTION_MANIFEST} is not JSON ({exc})",
                           hint="repackage the function with `lambdapack package`") from None
    return FunctionManifest.from_dict(data, f"{function_zip}:{FUNCTION_MANIFEST}")


def require_layer_free(manifest: FunctionManifest, function_zip: Path) -> None:
    """Refuse ``--no-layer`` for a function that needs the layer, saying why."""
    if manifest.needs_layer:
        raise PackageError(
            f"{function_zip} needs its scikit-learn layer: it serves by {manifest.serving} ({manifest.reason})",
            hint="drop --no-layer and give the layer, or package a model the stdlib predictor covers "
                 "(tree ensembles; see docs/function.md)")
