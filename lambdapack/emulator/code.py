"""The function's code on disk, laid out like Lambda: the task root.

The layers (Lambda's ``/opt``) are unpacked and checked by :mod:`lambdapack.layer_python`, which
training and the predictor's proof share; the runtime runs with ``-B`` so no ``.pyc`` lands there,
as on Lambda's read-only ``/opt``. The function zip is small and unpacked into a fresh temporary
task root per session.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from lambdapack import archive
from lambdapack.errors import EmulatorError, LambdapackError
from lambdapack.layer.inspect import LayerInfo, inspect_layer


def inspect_layers(paths: Sequence[Path]) -> list[LayerInfo]:
    """Each layer as the shared reader sees it, refused as the emulator's own error."""
    return [inspect_layer(Path(p), error=EmulatorError) for p in paths]


def unpack_function(function_zip: Path, dest: Path) -> Path:
    """Unpack the function package into ``dest`` (the task root)."""
    try:
        archive.safe_extract(function_zip, dest)
    except LambdapackError:
        raise
    except OSError as exc:
        raise EmulatorError(f"cannot unpack {function_zip}: {exc.strerror or exc}",
                            hint="free some disk space in the temporary directory") from None
    return dest
