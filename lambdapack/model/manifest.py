"""``model.json``: what a model is, what it was trained with, and the sha256 of its bytes.

The manifest is the contract between ``train``/``model import`` and everything that serves
the model (docs/formats.md). Readers refuse a schema they don't know, and nothing unpickles
``model.joblib`` before its sha256 matches: a pickle is code.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lambdapack.archive import sha256_file
from lambdapack.defaults import MODEL_DIR
from lambdapack.errors import ModelError

SCHEMA = "lambdapack.model/2"
# /1 typed no input: every input a number (missing only where the model routed it); still read
SCHEMAS = ("lambdapack.model/1", SCHEMA)
MODEL_FILE = "model.joblib"
MANIFEST_FILE = "model.json"
TASKS = ("classification", "regression")
# The libraries recorded in ``versions``, in the order the manifest lists them.
RECORDED_LIBRARIES = ("scikit-learn", "numpy", "scipy", "joblib", "threadpoolctl")


INPUT_TYPES = ("number", "category", "unused")  # unused: a column the model's column transformer drops
UNKNOWN_POLICIES = ("error", "accept")
# how the estimator takes rows: an array (None), or a pandas DataFrame named like the features
INPUT_FRAMES = (None, "pandas", "pandas_categorical")


@dataclass(frozen=True)
class Feature:
    """One input of the model: its name (and a short alias), its type, and what a request may send."""

    name: str
    alias: str | None = None
    type: str = "number"
    nullable: bool = False  # a request may send null: the model takes a missing value here
    categories: tuple[Any, ...] = ()  # a category input's learned categories (strings or numbers)
    unknown: str = "error"  # a category input's unseen values: refused, or accepted as the encoder does

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "alias": self.alias, "type": self.type, "nullable": self.nullable}
        if self.type == "category":
            out.update(categories=list(self.categories), unknown=self.unknown)
        return out

    def describe(self) -> str:
        """``number``, ``number or null``, ``category (3: a, b, c)``: the type as a person reads it."""
        if self.type == "unused":
            return "not used by the model (any value, or none)"
        if self.type == "category":
            shown = ", ".join(str(c) for c in self.categories[:6]) + (", …" if len(self.categories) > 6 else "")
            accepted = "; unknown accepted" if self.unknown == "accept" else ""
            text = f"category ({len(self.categories)}: {shown}{accepted})"
        else:
            text = "number"
        return text + (" or null" if self.nullable else "")


@dataclass(frozen=True)
class EstimatorInfo:
    class_path: str  # "sklearn.ensemble.RandomForestClassifier"; JSON key "class"
    params: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class DatasetInfo:
    name: str
    source: str
    rows: int
    test_size: float | None = None
    split_random_state: int | None = None
    target: str | None = None  # the CSV column trained on; None for bundled datasets


@dataclass(frozen=True)
class ModelFile:
    file: str
    bytes: int
    sha256: str


@dataclass(frozen=True)
class Manifest:
    task: str
    estimator: EstimatorInfo
    dataset: DatasetInfo | None  # None for an imported model
    features: tuple[Feature, ...]
    classes: tuple[str, ...] | None
    metrics: Mapping[str, float]
    versions: Mapping[str, str]
    model: ModelFile
    schema: str = SCHEMA
    input_frame: str | None = None

    @property
    def typed(self) -> bool:
        """Whether the manifest says each input's type (``lambdapack.model/2``)."""
        return self.schema == SCHEMA

    @property
    def feature_names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.features)

    def to_dict(self) -> dict[str, Any]:
        dataset = None
        if self.dataset is not None:
            dataset = {
                "name": self.dataset.name,
                "source": self.dataset.source,
                "rows": self.dataset.rows,
                "test_size": self.dataset.test_size,
                "split_random_state": self.dataset.split_random_state,
            }
            if self.dataset.target is not None:
                dataset["target"] = self.dataset.target
        return {
            "schema": self.schema,
            "task": self.task,
            "estimator": {"class": self.estimator.class_path, "params": dict(self.estimator.params)},
            "dataset": dataset,
            "features": [f.to_dict() for f in self.features],
            "input_frame": self.input_frame,
            "classes": list(self.classes) if self.classes is not None else None,
            "metrics": dict(self.metrics),
            "versions": dict(self.versions),
            "model": {"file": self.model.file, "bytes": self.model.bytes, "sha256": self.model.sha256},
        }

    def to_json(self) -> str:
        # sorted-free but fixed key order (the dict above) and a trailing newline: stable bytes
        return json.dumps(self.to_dict(), indent=2, allow_nan=False) + "\n"

    @classmethod
    def from_dict(cls, data: Any, source: str = "model.json") -> Manifest:
        """Parse and validate a manifest document; every problem is a ModelError naming ``source``."""
        schema = _check_schema(data, source)
        try:
            task = _expect(data, "task", str)
            if task not in TASKS:
                raise _FieldError(f"task must be one of {', '.join(TASKS)}, not {task!r}")
            est = _expect(data, "estimator", dict)
            estimator = EstimatorInfo(_expect(est, "class", str), dict(_expect(est, "params", dict)))
            frame = data.get("input_frame")
            if frame not in INPUT_FRAMES:
                raise _FieldError(f"input_frame must be one of {', '.join(str(f) for f in INPUT_FRAMES)}")
            return cls(task=task, estimator=estimator,
                       dataset=_dataset(data.get("dataset")), features=_features(_expect(data, "features", list)),
                       classes=_classes(data.get("classes")), metrics=_metrics(_expect(data, "metrics", dict)),
                       versions=_versions(data), model=_model_file(_expect(data, "model", dict)), schema=schema,
                       input_frame=frame)
        except _FieldError as exc:
            raise _corrupt(source, str(exc)) from None


class _FieldError(Exception):
    pass


def _expect(data: dict[str, Any], key: str, kind: type | tuple[type, ...]) -> Any:
    if key not in data:
        raise _FieldError(f"missing field {key!r}")
    value = data[key]
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise _FieldError(f"field {key!r} has the wrong type ({type(value).__name__})")
    return value


def _optional(data: dict[str, Any], key: str, kind: type | tuple[type, ...]) -> Any:
    if data.get(key) is None:
        return None
    return _expect(data, key, kind)


def _check_schema(data: Any, source: str) -> str:
    if not isinstance(data, dict):
        raise _corrupt(source, "the document is not a JSON object")
    schema = data.get("schema")
    if schema not in SCHEMAS:
        raise ModelError(
            f"{source}: unknown manifest schema {schema!r} (this lambdapack reads {' and '.join(map(repr, SCHEMAS))})",
            hint="upgrade lambdapack, or recreate the manifest with `lambdapack train` "
                 "or `lambdapack model import`",
        )
    return schema


def _dataset(raw: Any) -> DatasetInfo | None:
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise _FieldError("dataset must be an object or null")
    return DatasetInfo(
        name=_expect(raw, "name", str),
        source=_expect(raw, "source", str),
        rows=_expect(raw, "rows", int),
        test_size=_optional(raw, "test_size", (int, float)),
        split_random_state=_optional(raw, "split_random_state", int),
        target=_optional(raw, "target", str),
    )


def _feature(item: Any) -> Feature:
    if not isinstance(item, dict):
        raise _FieldError("each feature must be an object with name and alias")
    name = _expect(item, "name", str)
    kind = item.get("type", "number")
    if kind not in INPUT_TYPES:
        raise _FieldError(f"feature {name!r}: type must be one of {', '.join(INPUT_TYPES)}, not {kind!r}")
    nullable = item.get("nullable", False)
    if not isinstance(nullable, bool):
        raise _FieldError(f"feature {name!r}: nullable must be true or false")
    categories: tuple[Any, ...] = ()
    unknown = item.get("unknown", "error")
    if kind == "category":
        raw = _expect(item, "categories", list)
        if not raw or not all(isinstance(c, (str, int, float)) and not isinstance(c, bool) for c in raw):
            raise _FieldError(f"feature {name!r}: categories must be a non-empty list of strings or numbers")
        categories = tuple(raw)
        if unknown not in UNKNOWN_POLICIES:
            raise _FieldError(f"feature {name!r}: unknown must be one of {', '.join(UNKNOWN_POLICIES)}")
    return Feature(name, _optional(item, "alias", str), kind, nullable, categories, unknown)


def _features(raw: list[Any]) -> tuple[Feature, ...]:
    features = [_feature(item) for item in raw]
    if not features:
        raise _FieldError("features is empty")
    names = [f.name for f in features]
    if len(set(names)) != len(names):
        raise _FieldError("feature names repeat")
    return tuple(features)


def _classes(raw: Any) -> tuple[str, ...] | None:
    if raw is None:
        return None
    if not isinstance(raw, list) or not all(isinstance(c, str) for c in raw):
        raise _FieldError("classes must be a list of strings or null")
    return tuple(raw)


def _metrics(raw: dict[str, Any]) -> dict[str, float]:
    if not all(isinstance(v, (int, float)) and math.isfinite(v) for v in raw.values()):
        raise _FieldError("metrics must be finite numbers")
    return dict(raw)


def _versions(data: dict[str, Any]) -> dict[str, str]:
    versions = _expect(data, "versions", dict)
    if not all(isinstance(v, str) for v in versions.values()):
        raise _FieldError("versions must be strings")
    return dict(versions)


def _model_file(raw: dict[str, Any]) -> ModelFile:
    model = ModelFile(_expect(raw, "file", str), _expect(raw, "bytes", int), _expect(raw, "sha256", str))
    if "/" in model.file or "\\" in model.file or model.file in ("", ".", ".."):
        raise _FieldError(f"model.file must be a plain file name, not {model.file!r}")
    if len(model.sha256) != 64 or any(c not in "0123456789abcdef" for c in model.sha256):
        raise _FieldError("model.sha256 is not a sha256 hex digest")
    return model


def _corrupt(source: str, why: str) -> ModelError:
    return ModelError(f"{source} is not a valid model manifest: {why}",
                      hint="recreate it with `lambdapack train` or `lambdapack model import`")


def _manifest_path(directory: Path) -> Path:
    directory = Path(directory)
    return directory if directory.suffix == ".json" and directory.is_file() else directory / MANIFEST_FILE


def _read_text(path: Path) -> str:
    if not path.parent.is_dir():
        raise ModelError(f"{path.parent}: no such model directory",
                         hint=f"train one with `lambdapack train` (writes {MODEL_DIR}/) or pass the right directory")
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ModelError(f"{path}: no model manifest",
                         hint="a model directory holds model.joblib and model.json; create them with "
                              "`lambdapack train` or `lambdapack model import`") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ModelError(f"{path}: cannot read the manifest ({exc})", hint="check the file") from None


def load_manifest(directory: Path) -> Manifest:
    """Read ``DIR/model.json`` (or a path to the manifest itself), refusing anything malformed."""
    path = _manifest_path(directory)
    return Manifest.from_dict(_decode(_read_text(path), str(path)), source=str(path))


def parse_manifest(raw: str | bytes, source: str) -> Manifest:
    """A manifest document read from elsewhere (the copy inside a function zip), refused like a file's."""
    return Manifest.from_dict(_decode(raw, source), source=source)


def load_versions(directory: Path) -> dict[str, str]:
    """Only the library versions of ``DIR/model.json``: all that ``check-layer --model`` compares.

    Unlike :func:`load_manifest` the other fields are not required, and a document without a
    ``schema`` is read as this one (check-layer has always accepted a bare ``{"versions": ...}``);
    a schema this lambdapack does not know is still refused.
    """
    path = _manifest_path(directory)
    data = _decode(_read_text(path), str(path))
    if isinstance(data, dict) and "schema" not in data:
        data = {**data, "schema": SCHEMA}
    return _versions_of(data, str(path))


def _decode(text: str | bytes, source: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise _corrupt(source, f"invalid JSON at line {exc.lineno} column {exc.colno}") from None
    except UnicodeDecodeError as exc:
        raise _corrupt(source, f"not UTF-8 ({exc.reason})") from None


def read_versions(raw: str | bytes, source: str) -> dict[str, str]:
    """The library versions of a manifest document, its schema checked: what a model is compared to a layer by.

    For a copy that was validated in full when it was written (the one inside a function zip,
    which ``package`` checked); everything else goes through :func:`load_manifest`.
    """
    return _versions_of(_decode(raw, source), source)


def _versions_of(data: Any, source: str) -> dict[str, str]:
    _check_schema(data, source)
    try:
        return _versions(data)
    except _FieldError as exc:
        raise _corrupt(source, str(exc)) from None


def verify_model_file(directory: Path, manifest: Manifest) -> Path:
    """The model file's path, after checking its size and sha256 against the manifest."""
    path = Path(directory) / manifest.model.file
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise ModelError(f"{path}: model file missing (the manifest names it)",
                         hint="retrain or re-import the model; the directory is incomplete") from None
    digest = sha256_file(path)
    if digest != manifest.model.sha256 or size != manifest.model.bytes:
        raise ModelError(
            f"{path}: sha256 {digest[:12]}… does not match the manifest's {manifest.model.sha256[:12]}…",
            hint="the file changed after the manifest was written; retrain or re-import it "
                 "(never load a pickle you cannot vouch for)")
    return path
