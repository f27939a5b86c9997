"""The one rule for "does this model load in this layer" (docs/formats.md).

A pickle made by scikit-learn X and loaded by scikit-learn Y warns at best and predicts
wrongly at worst, so a model and a layer agree only when every library that shapes the
pickle is at exactly the same version on both sides. ``templates/lambdapack_runtime/manifests.py``
applies the same rule at init (it cannot import lambdapack): it mirrors :data:`PINNED_PACKAGES`
and :data:`LAYER_ALIASES`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from packaging.utils import canonicalize_name

# Libraries whose version changes how a model's pickle loads; each is compared only when the
# model's manifest lists it (a model that does not use XGBoost says nothing of xgboost).
PINNED_PACKAGES: tuple[str, ...] = ("scikit-learn", "numpy", "scipy", "joblib", "xgboost", "lightgbm")
# A distribution that is a pinned library under another name: a layer carrying xgboost-cpu X
# carries xgboost X (the CPU-only build build-layer puts in a layer; Lambda has no GPU).
LAYER_ALIASES: dict[str, str] = {"xgboost-cpu": "xgboost"}
# The reverse, for pinning a layer to a model: the distribution a layer gets a pinned library from.
LAYER_DISTRIBUTIONS: dict[str, str] = {library: dist for dist, library in LAYER_ALIASES.items()}


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
    return with_aliases(out)


def with_aliases(versions: Mapping[str, str]) -> dict[str, str]:
    """``versions`` plus the pinned library each alias stands for (``xgboost-cpu`` 3.1.0 -> ``xgboost`` 3.1.0)."""
    out = {canonicalize_name(k): v for k, v in versions.items()}
    for alias, library in LAYER_ALIASES.items():
        if alias in out and library not in out:
            out[library] = out[alias]
    return out


def version_mismatches(model_versions: Mapping[str, str], layer: Mapping[str, str]) -> list[Mismatch]:
    """Every pinned library whose version in the model's manifest the layer does not carry."""
    have = with_aliases(layer)
    out: list[Mismatch] = []
    for name in PINNED_PACKAGES:
        wanted = model_versions.get(name)
        if wanted is None:
            continue
        if have.get(name) != wanted:
            out.append(Mismatch(name, wanted, have.get(name)))
    return out


def pins_for(model_versions: Mapping[str, str]) -> list[str]:
    """Requirement strings that pin a layer to a model's library versions (xgboost through xgboost-cpu)."""
    return [f"{LAYER_DISTRIBUTIONS.get(name, name)}=={model_versions[name]}" for name in PINNED_PACKAGES
            if model_versions.get(name)]
