"""The one rule for "does this model load in this layer" (docs/formats.md).

A pickle made by scikit-learn X and loaded by scikit-learn Y warns at best and predicts
wrongly at worst, so a model and a layer agree only when every library that shapes the
pickle is at exactly the same version on both sides. ``templates/lambda_function.py``
applies the same rule at init (it cannot import lambdapack).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from packaging.utils import canonicalize_name

# Libraries whose version changes how a scikit-learn pickle loads.
PINNED_PACKAGES: tuple[str, ...] = ("scikit-learn", "numpy", "scipy", "joblib")


@dataclass(frozen=True)
class Mismatch:
    package: str
    model: str
    layer: str | None  # None: the layer does not carry the package at all

    def describe(self) -> str:
        held = f"layer has {self.layer}" if self.layer else "layer lacks it"
        return f"{self.package} {self.model} (model) vs {held}"


def layer_versions(record: Mapping[str, object]) -> dict[str, str]:
    """``{canonical name: version}`` from a layer build record."""
    packages = record.get("packages") or []
    out: dict[str, str] = {}
    for pkg in packages:  # type: ignore[union-attr]
        out[canonicalize_name(str(pkg["name"]))] = str(pkg["version"])
    return out


def version_mismatches(model_versions: Mapping[str, str], layer: Mapping[str, str]) -> list[Mismatch]:
    """Every pinned library whose version in the model's manifest the layer does not carry."""
    have = {canonicalize_name(k): v for k, v in layer.items()}
    out: list[Mismatch] = []
    for name in PINNED_PACKAGES:
        wanted = model_versions.get(name)
        if wanted is None:
            continue
        if have.get(name) != wanted:
            out.append(Mismatch(name, wanted, have.get(name)))
    return out


def pins_for(model_versions: Mapping[str, str]) -> list[str]:
    """Requirement strings that pin a layer to a model's library versions."""
    return [f"{name}=={model_versions[name]}" for name in PINNED_PACKAGES if model_versions.get(name)]
