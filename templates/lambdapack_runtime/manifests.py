"""The files beside the handler: ``model.json``, ``function.json`` and the layer's build record.

This package cannot import lambdapack, so the schema names and the model/layer version rule
are written again here; tests/function/test_runtime_constants.py checks that each equals its
owner in the library (``lambdapack.model.manifest``, ``lambdapack.function.manifest``,
``lambdapack.layer.record``, ``lambdapack.model.version_rule``).
"""

from __future__ import annotations

import json
import os
import re
import sys

from .config import ModelInitError

MODEL_SCHEMA = "lambdapack.model/2"
MODEL_SCHEMAS = ("lambdapack.model/1", MODEL_SCHEMA)  # /1: every input a number
FUNCTION_SCHEMA = "lambdapack.function/1"
LAYER_SCHEMA = "lambdapack.layer/1"
LAYER_RECORD = "lambdapack-layer.json"
MODEL_MANIFEST = "model.json"
FUNCTION_MANIFEST = "function.json"
PINNED_PACKAGES = ("scikit-learn", "numpy", "scipy", "joblib", "xgboost", "lightgbm")
# a layer's distribution that provides a pinned package under another name
PROVIDED_BY = {"xgboost-cpu": "xgboost"}
_SITE_PACKAGES = re.compile(r"(.*)[/\\]python[/\\]lib[/\\]python3\.\d+[/\\]site-packages[/\\]?")


def canonical_name(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def layer_versions(record: dict) -> dict:
    """``{canonical name: version}`` from a layer build record, each provider under the name it provides."""
    out = {}
    for pkg in record.get("packages") or []:
        name = canonical_name(str(pkg["name"]))
        out[PROVIDED_BY.get(name, name)] = str(pkg["version"])
    return out


def version_mismatches(model_versions: dict, layer: dict) -> list:
    """``[(package, model version, layer version or None)]`` for each pinned package that differs."""
    have = {canonical_name(k): v for k, v in layer.items()}
    out = []
    for name in PINNED_PACKAGES:
        wanted = model_versions.get(name)
        if wanted is not None and have.get(name) != wanted:
            out.append((name, wanted, have.get(name)))
    return out


def find_layer_record(path_entries: list) -> str | None:
    """The first ``lambdapack-layer.json`` beside a layer's ``python/`` directory on ``sys.path``."""
    for entry in path_entries:
        if not isinstance(entry, str) or not entry:
            continue
        stripped = entry.rstrip("/\\")
        match = _SITE_PACKAGES.fullmatch(entry)
        if match:
            root = match.group(1)
        elif os.path.basename(stripped) == "python":
            root = os.path.dirname(stripped)
        else:
            continue
        candidate = os.path.join(root, LAYER_RECORD)
        if os.path.isfile(candidate):
            return candidate
    return None


def read_json(path: str, what: str, required: bool = True) -> dict | None:
    try:
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
    except FileNotFoundError:
        if not required:
            return None
        raise ModelInitError(f"{what} not found at {path}; package the function with `lambdapack package`") from None
    except (OSError, ValueError) as exc:
        raise ModelInitError(f"{what} at {path} is unreadable: {exc}") from None
    if not isinstance(data, dict):
        raise ModelInitError(f"{what} at {path} is not a JSON object")
    return data


def read_model_manifest(directory: str) -> dict:
    manifest = read_json(os.path.join(directory, MODEL_MANIFEST), f"model manifest {MODEL_MANIFEST}")
    if manifest.get("schema") not in MODEL_SCHEMAS:
        raise ModelInitError(f"{MODEL_MANIFEST} has unknown schema {manifest.get('schema')!r} "
                             f"(expected {MODEL_SCHEMA})")
    return manifest


def read_function_manifest(directory: str) -> dict | None:
    function = read_json(os.path.join(directory, FUNCTION_MANIFEST), "function manifest", required=False)
    if function is not None and function.get("schema") != FUNCTION_SCHEMA:
        raise ModelInitError(f"{FUNCTION_MANIFEST} has unknown schema {function.get('schema')!r}")
    return function


def checked_layer_record(manifest: dict) -> dict | None:
    """The layer build record on ``sys.path``, after checking it matches this Python and the model's versions."""
    path = find_layer_record(sys.path)
    if path is None:
        return None
    record = read_json(path, "layer build record")
    if record.get("schema") != LAYER_SCHEMA:
        raise ModelInitError(f"{path}: unknown schema {record.get('schema')!r} (expected {LAYER_SCHEMA})")
    running = f"{sys.version_info[0]}.{sys.version_info[1]}"
    built_for = record.get("python_version")
    if built_for and str(built_for) != running:
        raise ModelInitError(
            f"the layer was built for Python {built_for} but the function runs Python {running}; "
            f"set the function's runtime to python{built_for} or rebuild the layer for python{running}")
    try:
        mismatches = version_mismatches(manifest.get("versions") or {}, layer_versions(record))
    except (KeyError, TypeError, AttributeError) as exc:
        raise ModelInitError(f"{path}: malformed packages list ({exc!r})") from None
    if mismatches:
        described = ", ".join(f"{name} {model} (model) vs {layer or 'missing'} (layer)"
                              for name, model, layer in mismatches)
        raise ModelInitError(
            f"the model was trained with other library versions than the layer carries: {described}; "
            "rebuild the layer with `lambdapack build-layer --model DIR` or retrain with "
            "`lambdapack train --layer LAYER.zip`")
    return record
