"""The request a packaged function answers, for ``serve`` to suggest: one value for each model feature.

Keys are what the handler reads first: a feature's alias, else its name. The guide's iris
features get the guide's flower (:data:`lambdapack.events.SEED_EVENT`); a model trained on a
dataset bundled with scikit-learn gets each column's median in that data (4 significant
digits); any other model gets 0.0 for every feature, which the handler answers like any
number. A function zip without a readable model manifest gets the guide's event.
"""

from __future__ import annotations

import json
import shlex
import statistics
import zipfile
from collections.abc import Mapping
from pathlib import Path

from lambdapack import archive, defaults
from lambdapack.errors import ArchiveError, LambdapackError
from lambdapack.events import SEED_EVENT
from lambdapack.model.datasets import BUNDLED, load_bundled
from lambdapack.model.manifest import MANIFEST_FILE, Manifest, parse_manifest


def example_request(function_zip: Path) -> dict[str, float]:
    """A feature object the function in ``function_zip`` answers (see the module docstring)."""
    try:
        manifest = _packaged_manifest(Path(function_zip))
    except LambdapackError:
        manifest = None  # the function's runtimes say at init what is wrong with it
    return example_features(manifest)


def example_features(manifest: Manifest | None) -> dict[str, float]:
    """One plausible value for each of ``manifest``'s features, keyed as the handler reads them."""
    if manifest is None:
        return dict(SEED_EVENT)
    keys = [feature.alias or feature.name for feature in manifest.features]
    if keys == list(SEED_EVENT):
        return dict(SEED_EVENT)
    values = _bundled_medians(manifest) or [0.0] * len(keys)
    return dict(zip(keys, values, strict=True))


def curl_command(url: str, features: Mapping[str, float]) -> str:
    """The shell command that POSTs ``features`` to the prediction route of the API at ``url``."""
    body = json.dumps(dict(features), separators=(",", ":"))
    return f"curl -X POST {url}{defaults.PREDICT_PATH} -d {shlex.quote(body)}"


def _bundled_medians(manifest: Manifest) -> list[float] | None:
    """Each feature's median in the bundled dataset the model was trained on, or None for other data."""
    dataset = manifest.dataset
    if dataset is None or dataset.target is not None or dataset.name not in BUNDLED:
        return None
    if dataset.source != f"sklearn.datasets.{BUNDLED[dataset.name][0]}":
        return None
    data = load_bundled(dataset.name)
    if data.feature_names != manifest.feature_names:
        return None
    return [float(f"{statistics.median(column):.4g}") for column in zip(*data.X, strict=True)]


def _packaged_manifest(function_zip: Path) -> Manifest | None:
    """The model manifest at the root of ``function_zip``, or None when the zip holds none."""
    with archive.open_zip(function_zip) as zf:
        try:
            raw = zf.read(MANIFEST_FILE)
        except KeyError:
            return None
        except (zipfile.BadZipFile, OSError, EOFError) as exc:
            raise ArchiveError(f"{function_zip}: cannot read {MANIFEST_FILE} ({exc})",
                               hint="repackage the function with `lambdapack package`") from None
    return parse_manifest(raw, f"{function_zip}:{MANIFEST_FILE}")
