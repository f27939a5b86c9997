"""Pinning a layer to a model: its library versions for a runtime, or why the runtime cannot carry them.

``build-layer --model DIR`` pins scikit-learn, numpy, scipy and joblib (and xgboost, through its
CPU-only build ``xgboost-cpu``, and lightgbm, when the model uses them; pandas when the model
takes a DataFrame) to the versions in ``DIR/model.json`` (the agreement rule of
docs/formats.md, :mod:`lambdapack.model.version_rule`). Some runtimes cannot carry some
versions at all: Amazon Linux 2 (python3.10, python3.11) has glibc 2.26, and the releases
that moved to ``manylinux_2_28`` wheels never load there. Asking the resolver would only
produce a cryptic "no matching distribution"; this module refuses up front, naming both ways
out: retrain on a layer for that runtime, or pick a newer runtime.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from packaging.version import InvalidVersion, Version

from lambdapack.errors import ResolveError, VersionMismatchError
from lambdapack.model import version_rule
from lambdapack.model.manifest import load_manifest
from lambdapack.targets import RUNTIMES, Target

# The newest release with a wheel loadable on glibc 2.26 (measured; later releases require
# manylinux_2_28 wheels, and no new manylinux2014 wheels will appear for these lines).
_GLIBC_2_26_CAPS: dict[str, dict[str, str]] = {
    "x86_64": {"scikit-learn": "1.7.2", "numpy": "2.2.6", "scipy": "1.16.3"},
    "arm64": {"scikit-learn": "1.7.0"},
}
_MANYLINUX_2_28 = (2, 28)


@dataclass(frozen=True)
class CarryProblem:
    package: str
    wanted: str  # the model's version
    newest: str  # the newest version the target can load


def newest_loadable(target: Target) -> dict[str, str]:
    """``{package: newest loadable version}`` for the pinned libraries the target caps, if any."""
    if target.glibc >= _MANYLINUX_2_28:
        return {}
    return dict(_GLIBC_2_26_CAPS.get(target.arch, {}))


def uncarriable(versions: Mapping[str, str], target: Target) -> list[CarryProblem]:
    """The model's pinned library versions that ``target`` can never load."""
    caps = newest_loadable(target)
    problems: list[CarryProblem] = []
    for name in version_rule.PINNED_PACKAGES:
        wanted, newest = versions.get(name), caps.get(name)
        if wanted is None or newest is None:
            continue
        try:
            too_new = Version(wanted) > Version(newest)
        except InvalidVersion:
            continue
        if too_new:
            problems.append(CarryProblem(name, wanted, newest))
    return problems


def _runtime_text(target: Target) -> str:
    if target.runtime is None:
        return f"python{target.python_version} with glibc {target.glibc_version}"
    runtime = RUNTIMES[target.runtime]
    return f"{target.runtime} ({runtime.os}, glibc {target.glibc_version})"


def _newer_runtimes(target: Target) -> list[str]:
    return [name for name, rt in RUNTIMES.items()
            if rt.glibc >= _MANYLINUX_2_28 and rt.python >= target.python and name != target.runtime]


def ways_out(model_dir: Path, target: Target) -> str:
    """The hint naming both remedies: retrain for this runtime, or serve on a newer one."""
    layer_zip = f"dist/layer-{target.label}.zip"
    runtime_flag = f"--runtime {target.runtime} --arch {target.arch}" if target.runtime else "(same tags)"
    newer = _newer_runtimes(target)
    newer_text = f"--runtime {newer[0]} or newer" if newer else "another runtime with wheels for these versions"
    return (f"either retrain for this runtime: `lambdapack build-layer {runtime_flag}` then "
            f"`lambdapack train --layer {layer_zip} --out {model_dir}`; or serve the model on {newer_text}")


def layer_pins(model_dir: Path, target: Target) -> list[str]:
    """Requirement pins (``scikit-learn==1.9.1``, ``xgboost-cpu==3.1.0`` ...) tying a layer for ``target`` to
    the model in ``model_dir``."""
    manifest = load_manifest(Path(model_dir))
    problems = uncarriable(manifest.versions, target)
    if problems:
        trained = ", ".join(f"{p.package} {p.wanted}" for p in problems)
        newest = ", ".join(f"{p.package} {p.newest}" for p in problems)
        raise VersionMismatchError(
            f"{model_dir} was trained with {trained}, but {_runtime_text(target)} loads at most {newest}",
            hint=ways_out(Path(model_dir), target))
    pins = version_rule.pins_for(manifest.versions)
    if manifest.input_frame is not None:  # the estimator path hands the model a DataFrame
        pandas = manifest.versions.get("pandas")
        pins.append(f"pandas=={pandas}" if pandas else "pandas")
    return pins


def explain_resolve_failure(exc: ResolveError, model_dir: Path, target: Target) -> VersionMismatchError:
    """A resolver failure under ``--model`` pins, restated as the version tie it is."""
    manifest = load_manifest(Path(model_dir))
    pins = ", ".join(version_rule.pins_for(manifest.versions))
    return VersionMismatchError(
        f"no wheels for the model's pinned versions ({pins}) on {_runtime_text(target)}: {exc.message}",
        hint=ways_out(Path(model_dir), target))
