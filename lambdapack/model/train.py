"""``train``: fit a scikit-learn model and write ``model.joblib`` + ``model.json`` atomically.

Defaults reproduce the guide (iris, RandomForestClassifier, ``train_test_split(test_size=0.33,
random_state=42)``) with the forest seeded too, so the same options give the same model
bytes. With ``layer=`` the fitting runs in an isolated interpreter of the layer's Python that
sees only the layer's packages, so the pickle is made by exactly what will load it.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lambdapack import archive
from lambdapack.archive import sha256_file
from lambdapack.defaults import MODEL_DIR as DEFAULT_OUT
from lambdapack.errors import ModelError
from lambdapack.model import _child_train
from lambdapack.model.datasets import BUNDLED, Dataset, load_bundled, load_csv
from lambdapack.model.estimators import (
    DEFAULT_ESTIMATOR,
    check_params,
    get_estimator,
    literal_params,
    parse_params,
    resolved_params,
)
from lambdapack.model.isolated import failure_to_error, prepare
from lambdapack.model.manifest import (
    MANIFEST_FILE,
    MODEL_FILE,
    DatasetInfo,
    EstimatorInfo,
    Feature,
    Manifest,
    ModelFile,
)
from lambdapack.predictor.inputs import describe_here

DEFAULT_DATASET = "iris"
DEFAULT_TEST_SIZE = 0.33
DEFAULT_RANDOM_STATE = 42


@dataclass(frozen=True)
class TrainReport:
    out: Path
    model_path: Path
    manifest_path: Path
    task: str
    estimator: str
    estimator_class: str
    dataset: str
    rows: int
    train_rows: int
    test_rows: int
    metrics: Mapping[str, float]
    sha256: str
    bytes: int
    compress: int
    versions: Mapping[str, str]
    classes: tuple[str, ...] | None
    warnings: tuple[str, ...]
    layer: Path | None = None
    interpreter: str | None = None  # the isolated interpreter that trained, with --layer


def train(
    *,
    dataset: str | None = None,
    csv: Path | None = None,
    target: str | None = None,
    estimator: str = DEFAULT_ESTIMATOR,
    params: Iterable[str] | Mapping[str, str] = (),
    test_size: float = DEFAULT_TEST_SIZE,
    random_state: int = DEFAULT_RANDOM_STATE,
    compress: int = 0,
    out: Path = DEFAULT_OUT,
    layer: Path | None = None,
    python: str | None = None,
    on_step: Callable[[str], None] | None = None,
) -> TrainReport:
    """Train, score and write the model and its manifest into ``out``; nothing is written on failure.

    ``on_step`` is told what is happening (for a progress display).
    """
    step = on_step or (lambda _description: None)
    spec = get_estimator(estimator)
    if isinstance(params, str):
        params = [params]
    user_params = dict(params) if isinstance(params, Mapping) else parse_params(params)
    merged = resolved_params(spec, user_params, random_state)
    if not 0 <= compress <= 9:
        raise ModelError(f"--compress {compress} is out of range", hint="use 0 (none) to 9 (smallest, slowest)")
    if not 0 < test_size < 1:
        raise ModelError(f"--test-size {test_size} must be between 0 and 1",
                         hint="the guide holds out a third: --test-size 0.33")
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise ModelError(f"--out {out} is a file", hint="pass a directory for model.joblib and model.json")

    isolated = None
    if layer is not None:
        # refuse a layer we cannot run before spending time on the data
        isolated = prepare(Path(layer), python)
    else:
        check_params(spec, merged)

    step("loading the data")
    data = _load_data(dataset, csv, target, spec.task)
    if csv is None and data.task != spec.task:
        kind = "classifier" if data.task == "classification" else "regressor"
        raise ModelError(f"{data.name} is a {data.task} dataset but {spec.name} is a {spec.task} estimator",
                         hint=f"choose a {kind} (see `lambdapack train --help`)")

    request: dict[str, Any] = {
        "estimator": spec.class_path,
        "params": merged,
        "task": spec.task,
        "test_size": test_size,
        "split_random_state": random_state,
        "compress": compress,
        "names": list(data.feature_names),
        "aliases": list(data.aliases),
    }
    with staging_model_dir(out) as staged:
        request["out"] = str(staged / MODEL_FILE)
        if isolated is not None:
            step(f"training {spec.class_name} with the layer's Python {isolated.python}")
            reply = isolated.run(request, data.X, data.y)
        else:
            request["X"], request["y"] = data.X, data.y
            step(f"training {spec.class_name}")
            reply = _fit_here(request)
        model_path = staged / MODEL_FILE
        classes = _class_names(reply["classes"], data.target_names) if reply["classes"] is not None else None
        manifest = Manifest(
            task=spec.task,
            estimator=EstimatorInfo(spec.class_path, literal_params(merged)),
            dataset=DatasetInfo(name=data.name, source=data.source, rows=data.rows, test_size=test_size,
                                split_random_state=random_state, target=data.target),
            features=typed_features(reply.get("schema"), data.feature_names, data.aliases),
            classes=classes,
            metrics=reply["metrics"],
            versions=reply["versions"],
            model=ModelFile(MODEL_FILE, model_path.stat().st_size, sha256_file(model_path)),
            input_frame=(reply.get("schema") or {}).get("input_frame"),
        )
        (staged / MANIFEST_FILE).write_text(manifest.to_json(), encoding="utf-8")
        publish(staged, out)
    return TrainReport(
        out=out,
        model_path=out / MODEL_FILE,
        manifest_path=out / MANIFEST_FILE,
        task=spec.task,
        estimator=spec.name,
        estimator_class=spec.class_path,
        dataset=data.name,
        rows=data.rows,
        train_rows=reply["train_rows"],
        test_rows=reply["test_rows"],
        metrics=dict(reply["metrics"]),
        sha256=manifest.model.sha256,
        bytes=manifest.model.bytes,
        compress=compress,
        versions=dict(manifest.versions),
        classes=classes,
        warnings=tuple(reply.get("warnings") or ()),
        layer=Path(layer) if layer is not None else None,
        interpreter=str(isolated.python) if isolated is not None else None,
    )


def _load_data(dataset: str | None, csv: Path | None, target: str | None, task: str) -> Dataset:
    if csv is not None:
        if dataset is not None:
            raise ModelError("--dataset and --csv both given", hint="train on one of them")
        return load_csv(Path(csv), target, task)
    if target is not None:
        raise ModelError("--target only applies to --csv", hint="drop --target, or pass --csv PATH")
    return load_bundled(dataset or DEFAULT_DATASET)


def typed_features(schema: Mapping[str, Any] | None, names: Iterable[str],
                   aliases: Iterable[str | None]) -> tuple[Feature, ...]:
    """The manifest's inputs: the names given, typed as the model itself describes them."""
    described = {f["name"]: f for f in (schema or {}).get("features") or ()}
    out = []
    for name, alias in zip(names, aliases, strict=True):
        found = described.get(name) or {}
        out.append(Feature(name, alias, found.get("type", "number"), bool(found.get("nullable", False)),
                           tuple(found.get("categories") or ()), found.get("unknown", "error")))
    return tuple(out)


def _fit_here(request: dict[str, Any]) -> dict[str, Any]:
    try:
        return _child_train.fit_and_dump(request, describe_here)
    except _child_train.TrainFailure as exc:
        raise failure_to_error(exc.kind, exc.message) from None
    except OSError as exc:
        raise ModelError(f"cannot write the model ({exc.strerror or exc})",
                         hint="check free space and permissions of the output directory") from None


def _class_names(labels: list[Any], target_names: tuple[str, ...] | None) -> tuple[str, ...]:
    names = []
    for label in labels:
        if target_names is not None and isinstance(label, int) and 0 <= label < len(target_names):
            names.append(target_names[label])
        else:
            names.append(str(label))
    return tuple(names)


@contextlib.contextmanager
def staging_model_dir(out: Path) -> Iterator[Path]:
    """A fresh directory beside ``out`` (same filesystem, so publishing is a rename)."""
    stack = contextlib.ExitStack()
    try:
        staged = stack.enter_context(archive.staging_dir(out.absolute()))
    except OSError as exc:
        raise ModelError(f"cannot create {out.absolute().parent} ({exc.strerror or exc})",
                         hint="check the --out path and its permissions") from None
    with stack:
        yield staged


def publish(staged: Path, out: Path) -> None:
    """Move a complete model directory into place: the previous pair or the new pair, never a mix.

    When ``out`` holds only a previous model pair the whole directory is swapped; when it also
    holds other files, the two files are renamed one by one, the manifest last, so a reader
    that checks the sha256 never trusts a half-updated pair.
    """
    ours = {MODEL_FILE, MANIFEST_FILE}
    try:
        if not out.exists():
            os.replace(staged, out)
            os.chmod(out, 0o755)
            return
        present = {p.name for p in out.iterdir()}
        if present <= ours:
            backup = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".old", dir=out.absolute().parent))
            os.replace(out, backup / "previous")
            os.replace(staged, out)
            os.chmod(out, 0o755)
            shutil.rmtree(backup, ignore_errors=True)
            return
        os.replace(staged / MODEL_FILE, out / MODEL_FILE)
        os.replace(staged / MANIFEST_FILE, out / MANIFEST_FILE)
    except OSError as exc:
        raise ModelError(f"cannot write {out} ({exc.strerror or exc})",
                         hint="check free space and permissions of the output directory") from None


def bundled_datasets() -> tuple[str, ...]:
    return tuple(BUNDLED)
