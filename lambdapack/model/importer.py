"""``model import``: bring your own fitted estimator and give it a manifest.

The file is unpickled once, here, by the user's own request (a pickle is code: only import
files you trust). It must be a fitted estimator with ``predict`` (scikit-learn, or the
scikit-learn wrappers of XGBoost and LightGBM, alone or at the end of a pipeline) whose
input width matches ``--features`` (or, for a model fitted on a DataFrame, the column names
it was fitted with), pickled by the libraries installed here, because the manifest records
this environment's versions and the layer will be pinned to them. The manifest types each
input as the model itself takes it (:mod:`lambdapack.predictor.inputs`).
"""

from __future__ import annotations

import json
import pickle
import shutil
import sys
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lambdapack.archive import sha256_file
from lambdapack.errors import ModelError
from lambdapack.model._child_train import library_versions
from lambdapack.model.datasets import aliases_for
from lambdapack.model.manifest import MANIFEST_FILE, MODEL_FILE, EstimatorInfo, Manifest, ModelFile
from lambdapack.model.native import as_estimator, load_native
from lambdapack.model.train import DEFAULT_OUT, publish, staging_model_dir, typed_features
from lambdapack.predictor.inputs import describe_here


@dataclass(frozen=True)
class ImportReport:
    out: Path
    model_path: Path
    manifest_path: Path
    task: str
    estimator_class: str
    features: tuple[str, ...]
    classes: tuple[str, ...] | None
    sha256: str
    bytes: int
    versions: Mapping[str, str]
    inputs: tuple[str, ...] = ()  # each input and what a request may send for it
    input_frame: str | None = None


def split_names(text: str | Sequence[str] | None, option: str) -> tuple[str, ...] | None:
    """``"a, b,c"`` -> ``("a", "b", "c")``; refuses blanks and repeats."""
    if text is None:
        return None
    items = [s.strip() for s in (text.split(",") if isinstance(text, str) else text)]
    if not items or any(not s for s in items):
        raise ModelError(f"{option} has an empty name", hint=f"write it as {option} a,b,c")
    repeated = sorted({s for s in items if items.count(s) > 1})
    if repeated:
        raise ModelError(f"{option} repeats {repeated[0]!r}", hint="every name must be unique")
    return tuple(items)


def load_estimator(path: Path) -> Any:
    """Unpickle ``path``, translating every way that can fail into one ModelError."""
    import joblib
    from sklearn.exceptions import InconsistentVersionWarning

    if not path.is_file():
        raise ModelError(f"{path}: no such file", hint="pass the path of a joblib/pickle model file")
    with warnings.catch_warnings(record=True) as records:
        warnings.simplefilter("always")
        try:
            model = joblib.load(path)
        except (pickle.UnpicklingError, EOFError, ValueError, KeyError, IndexError, TypeError,
                AttributeError, ImportError, OSError, MemoryError, RecursionError) as exc:
            raise ModelError(f"{path}: cannot load the model ({type(exc).__name__}: {exc})",
                             hint="it must be a model saved with joblib.dump or pickle.dump, loadable by "
                                  "the scikit-learn installed here") from None
    for record in records:
        if issubclass(record.category, InconsistentVersionWarning):
            message = record.message
            made_with = getattr(message, "original_sklearn_version", "another version")
            running = getattr(message, "current_sklearn_version", "")
            raise ModelError(
                f"{path} was pickled by scikit-learn {made_with}, this environment has {running}",
                hint=f"import it where scikit-learn {made_with} is installed, or retrain it with `lambdapack train`")
    return model


def check_estimator(model: Any, path: Path) -> str:
    """The task of a fitted estimator with ``predict``; ModelError for anything else."""
    from sklearn.base import is_classifier, is_regressor
    from sklearn.exceptions import NotFittedError
    from sklearn.utils.validation import check_is_fitted

    kind = f"{type(model).__module__}.{type(model).__qualname__}"
    if not callable(getattr(model, "predict", None)):
        raise ModelError(f"{path} holds a {kind}, not an estimator with predict()",
                         hint="save the fitted estimator itself: joblib.dump(model, 'model.joblib')")
    try:
        check_is_fitted(model)
    except NotFittedError:
        raise ModelError(f"{path} holds an unfitted {type(model).__name__}",
                         hint="call fit() before saving the model") from None
    except TypeError as exc:
        raise ModelError(f"{path} holds a {kind}, not a scikit-learn estimator ({exc})",
                         hint="lambdapack serves scikit-learn estimators and pipelines") from None
    if is_classifier(model):
        return "classification"
    if is_regressor(model):
        return "regression"
    raise ModelError(f"{path} holds a {type(model).__name__}, neither a classifier nor a regressor",
                     hint="lambdapack serves classifiers and regressors")


def native_task(model: Any, path: Path) -> str:
    """The task of a library's native model as its runtime adapter reads it off the objective."""
    task = getattr(model, "task", None) or ("classification" if hasattr(model, "classes_") else "regression")
    if task not in ("classification", "regression"):
        raise ModelError(f"{path} holds a {type(model).__name__} whose objective ({getattr(model, 'objective', '?')}) "
                         "neither classifies nor regresses", hint="lambdapack serves classifiers and regressors")
    return str(task)


def public_class_path(cls: type) -> str:
    """``sklearn.ensemble.RandomForestClassifier`` rather than its private ``sklearn.ensemble._forest`` home."""
    parts = cls.__module__.split(".")
    for end in range(1, len(parts) + 1):
        if any(part.startswith("_") for part in parts[:end]):
            break
        module = sys.modules.get(".".join(parts[:end]))
        if module is not None and getattr(module, cls.__qualname__, None) is cls:
            return f"{module.__name__}.{cls.__qualname__}"
    return f"{cls.__module__}.{cls.__qualname__}"


def _json_safe(value: Any) -> Any:
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError):
        return repr(value)
    return value


def check_features(model: Any, feature_names: tuple[str, ...]) -> None:
    """Refuse ``--features`` that do not match the width or the column names the model was fitted with."""
    width = getattr(model, "n_features_in_", None)
    if width is not None and width != len(feature_names):
        raise ModelError(f"the model takes {width} features, --features names {len(feature_names)}",
                         hint="list every input column, in the order the model was fitted on")
    fitted_names = getattr(model, "feature_names_in_", None)
    if fitted_names is not None and tuple(str(n) for n in fitted_names) != feature_names:
        raise ModelError("--features differ from the column names the model was fitted with: "
                         + ", ".join(str(n) for n in fitted_names),
                         hint="pass exactly those names, in that order")


def class_names_for(model: Any, task: str, given: tuple[str, ...] | None) -> tuple[str, ...] | None:
    """The class names to record: ``--classes`` if given (one per class), else the model's own labels."""
    if task == "regression":
        if given is not None:
            raise ModelError("--classes given for a regressor", hint="drop --classes; a regressor predicts numbers")
        return None
    labels = getattr(model, "classes_", None)
    if labels is None:
        return given
    if given is not None and len(given) != len(labels):
        raise ModelError(f"the model has {len(labels)} classes, --classes names {len(given)}",
                         hint="name them in the order of the model's classes_: " + ", ".join(str(c) for c in labels))
    return given or tuple(str(c.item() if hasattr(c, "item") else c) for c in labels)


def feature_names_for(model: Any, given: tuple[str, ...] | None) -> tuple[str, ...]:
    """``--features``, else the column names the model was fitted with; checked against the model."""
    if given is None:
        fitted = getattr(model, "feature_names_in_", None)
        if fitted is None:
            width = getattr(model, "n_features_in_", None)
            raise ModelError("the model was not fitted on named columns: --features is needed",
                             hint=f"name its {width or 'input'} columns in order: --features a,b,c")
        given = tuple(str(n) for n in fitted)
    check_features(model, given)
    return given


def _versions_for(model: Any, frame: str | None) -> dict[str, str]:
    """This environment's versions of what the model needs to load and be asked (pandas for a DataFrame)."""
    versions = library_versions()
    modules = {type(step).__module__.split(".")[0] for step in _steps(model)}
    for library in ("xgboost", "lightgbm"):
        if library in modules:
            versions[library] = str(__import__(library).__version__)
    if frame is not None:
        import pandas

        versions["pandas"] = str(pandas.__version__)
    return versions


def _steps(model: Any) -> list[Any]:
    out, todo = [], [model]
    while todo:
        est = todo.pop()
        out.append(est)
        todo += [step for _, step in getattr(est, "steps", [])]
        todo += [trans for _, trans, _ in getattr(est, "transformers_", []) if not isinstance(trans, str)]
    return out


def import_model(
    model_file: Path,
    features: str | Sequence[str] | None = None,
    classes: str | Sequence[str] | None = None,
    out: Path = DEFAULT_OUT,
) -> ImportReport:
    """Check ``model_file`` and write it with a manifest into ``out`` (atomically)."""
    model_file = Path(model_file)
    given_classes = split_names(classes, "--classes")
    native = load_native(model_file) if model_file.is_file() else None
    # a native booster is asked through its adapter, as the handler will ask it; its task is its objective's
    model = as_estimator(native) if native is not None else load_estimator(model_file)
    task = native_task(model, model_file) if native is not None else check_estimator(model, model_file)
    feature_names = feature_names_for(model, split_names(features, "--features"))
    class_names = class_names_for(model, task, given_classes)
    schema = describe_here(model, list(feature_names), list(aliases_for(feature_names)))
    typed = typed_features(schema, feature_names, aliases_for(feature_names))
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise ModelError(f"--out {out} is a file", hint="pass a directory for model.joblib and model.json")
    params = {k: _json_safe(v) for k, v in sorted(model.get_params(deep=False).items())}
    with staging_model_dir(out) as staged:
        staged_model = staged / MODEL_FILE
        try:
            if native is not None:  # a library's own format: pickled like every other model
                import joblib

                joblib.dump(native, staged_model)
            else:
                shutil.copyfile(model_file, staged_model)
        except OSError as exc:
            raise ModelError(f"cannot copy {model_file} ({exc.strerror or exc})",
                             hint="check free space and permissions") from None
        manifest = Manifest(
            task=task,
            estimator=EstimatorInfo(public_class_path(type(model if native is None else native)), params),
            dataset=None,
            features=typed,
            classes=class_names,
            metrics={},
            versions=_versions_for(model if native is None else native, schema.get("input_frame")),
            model=ModelFile(MODEL_FILE, staged_model.stat().st_size, sha256_file(staged_model)),
            input_frame=schema.get("input_frame"),
        )
        (staged / MANIFEST_FILE).write_text(manifest.to_json(), encoding="utf-8")
        publish(staged, out)
    return ImportReport(
        out=out, model_path=out / MODEL_FILE, manifest_path=out / MANIFEST_FILE, task=task,
        estimator_class=manifest.estimator.class_path, features=feature_names, classes=manifest.classes,
        sha256=manifest.model.sha256, bytes=manifest.model.bytes, versions=dict(manifest.versions),
        inputs=tuple(f"{f.name}: {f.describe()}" for f in typed), input_frame=manifest.input_frame,
    )
