"""``model show``: a model directory's manifest, and whether its file still matches it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lambdapack.errors import ModelError
from lambdapack.model.manifest import Manifest, load_manifest, verify_model_file


@dataclass(frozen=True)
class ModelSummary:
    directory: Path
    manifest: dict[str, Any]  # the model.json document, as written
    file_ok: bool
    file_problem: str | None
    _parsed: Manifest

    @property
    def parsed(self) -> Manifest:
        return self._parsed


def describe_model(directory: Path) -> ModelSummary:
    """Read ``DIR/model.json`` and check ``model.joblib`` against its size and sha256."""
    directory = Path(directory)
    manifest = load_manifest(directory)
    problem = None
    try:
        verify_model_file(directory, manifest)
    except ModelError as exc:
        problem = exc.message
    return ModelSummary(directory, manifest.to_dict(), problem is None, problem, manifest)
