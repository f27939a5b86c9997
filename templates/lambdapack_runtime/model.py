"""What the function serves: the predictor when ``package`` compiled one, else the estimator from the layer.

Init (:func:`load`): read ``model.json`` and ``function.json``; when a lambdapack layer is on
``sys.path``, check its build record against the model's versions *before* anything imports
numpy; then load the predictor (sha256 from function.json, self-check) or the estimator
(``model.joblib``'s sha256 from model.json first: a pickle is code). Any failure raises
:class:`~.config.ModelInitError`, which Lambda reports as the function's init error.
"""

from __future__ import annotations

import os
import sys
import time

from . import adapters, manifests, predictor
from .config import ModelInitError, env_int, log, model_dir, switched_off
from .inputs import Inputs

# numpy, joblib and scikit-learn are imported from the layer only on the estimator path, or for a
# batch larger than the predictor's row threshold while the layer is there (function.json says it;
# this is lambdapack.predictor.build.MAX_ROWS, for a function.json without it).
DEFAULT_PREDICTOR_MAX_ROWS = 50


def sha256_of(path: str) -> str:
    digest = predictor.new_sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def display_classes(manifest: dict, fitted: list) -> list:
    """The manifest's class names (in the order of the estimator's classes_), else the fitted labels."""
    names = manifest.get("classes")
    if names is None:
        names = fitted
    elif not isinstance(names, list) or len(names) != len(fitted):
        raise ModelInitError(f"model.json lists {names!r} as classes but the model has {len(fitted)}")
    return [n if isinstance(n, (str, int, float)) and not isinstance(n, bool) else str(n) for n in names]


def read_inputs(manifest: dict) -> Inputs:
    try:
        return Inputs(list(manifest["features"]))
    except (KeyError, TypeError, AttributeError) as exc:
        raise ModelInitError(f"model.json is missing a required field ({exc!r})") from None
    except ValueError as exc:
        raise ModelInitError(str(exc)) from None


class Estimator:
    """The unpickled estimator, answering in the predictor's terms (class indices)."""

    def __init__(self, directory: str, manifest: dict, inputs: Inputs) -> None:
        path, model_file = self._verified_path(directory, manifest)
        # numpy and scikit-learn come from the layer: imported only once it has been checked
        import joblib

        try:
            self.estimator = adapters.adapt(joblib.load(path))
        except Exception as exc:  # noqa: BLE001 -- unpickling runs arbitrary code: any failure is an init error
            raise ModelInitError(f"cannot load {model_file}: {type(exc).__name__}: {exc}") from None
        self._warn_on_other_versions(manifest)
        est = self.estimator
        if not callable(getattr(est, "predict", None)):
            raise ModelInitError(f"{model_file} holds a {type(est).__name__}, which has no predict()")
        n_in = getattr(est, "n_features_in_", None)
        if n_in is not None and int(n_in) != len(inputs):
            raise ModelInitError(f"model.json lists {len(inputs)} features but the model expects {int(n_in)}")
        self.inputs = inputs
        self.frame = manifest.get("input_frame")
        if self.frame:  # the rows become a DataFrame: pandas must be in the layer, known now rather than per request
            import pandas  # noqa: F401
        self.task = manifest.get("task")
        self.fitted_classes = self._fitted_classes() if self.task == "classification" else None
        self.label_index = {label: i for i, label in enumerate(self.fitted_classes or [])}
        self.has_proba = self.task == "classification" and callable(getattr(est, "predict_proba", None))
        # Pipelines fitted on a DataFrame warn on every ndarray; the columns are in the right order.
        self.quiet_feature_names = getattr(est, "feature_names_in_", None) is not None

    @staticmethod
    def _verified_path(directory: str, manifest: dict) -> tuple:
        try:
            model_file = manifest["model"]["file"]
            expected = str(manifest["model"]["sha256"]).lower()
        except (KeyError, TypeError) as exc:
            raise ModelInitError(f"model.json is missing a required field ({exc!r})") from None
        if os.path.basename(str(model_file)) != model_file:
            raise ModelInitError(f"model.json: model file {model_file!r} must be a plain file name")
        path = os.path.join(directory, model_file)
        try:
            actual = sha256_of(path)
        except FileNotFoundError:
            raise ModelInitError(f"model file {path} not found; package the function with `lambdapack package`"
                                 ) from None
        except OSError as exc:
            raise ModelInitError(f"model file {path} is unreadable: {exc}") from None
        if actual != expected:
            raise ModelInitError(
                f"{model_file} does not match model.json (sha256 {actual[:12]}…, manifest says {expected[:12]}…): "
                "refusing to unpickle it; repackage the function from the trained model")
        return path, model_file

    @staticmethod
    def _warn_on_other_versions(manifest: dict) -> None:
        modules = {"scikit-learn": "sklearn", "numpy": "numpy", "scipy": "scipy", "joblib": "joblib",
                   "xgboost": "xgboost", "lightgbm": "lightgbm"}
        wanted = manifest.get("versions") or {}
        differ = []
        for name in manifests.PINNED_PACKAGES:
            have = getattr(sys.modules.get(modules[name]), "__version__", None)
            if isinstance(have, str) and wanted.get(name) and wanted[name] != have:
                differ.append(f"{name} {have} (running) vs {wanted[name]} (model)")
        if differ:  # only reachable without a build record, or with one that lies
            log("WARNING", "the model was trained with other library versions than this function runs: "
                + ", ".join(differ) + "; predictions may differ from training")

    def _fitted_classes(self) -> list:
        import numpy as np

        est = self.estimator
        if getattr(est, "n_outputs_", 1) != 1:
            raise ModelInitError("multi-output classifiers are not supported; serve one classifier per target")
        fitted = getattr(est, "classes_", None)
        if fitted is None or np.ndim(fitted) != 1:
            raise ModelInitError("model.json says classification but the model has no single-output classes_")
        return [c.item() if hasattr(c, "item") else c for c in fitted]

    def predict(self, rows: list) -> tuple:
        """``(class indices or values, probability rows or None)``."""
        import warnings

        import numpy as np

        from .frames import estimator_input

        X = estimator_input(rows, self.inputs.fields, self.frame)
        with warnings.catch_warnings():
            if self.quiet_feature_names:
                warnings.filterwarnings("ignore", message="X does not have valid feature names")
            raw = self.estimator.predict(X)
            proba = self.estimator.predict_proba(X).tolist() if self.has_proba else None
        if self.task == "regression":
            if np.ndim(raw) == 2:  # several targets: one list per row
                return [[float(v) for v in row] for row in raw.tolist()], None
            return [float(v) for v in np.ravel(raw)], None
        indices = []
        for label in raw.tolist():
            index = self.label_index.get(label)
            if index is None:
                raise RuntimeError(f"the model predicted {label!r}, which is not in its classes_")
            indices.append(index)
        return indices, proba


def load_predictor(directory: str, function: dict | None) -> predictor.Predictor | None:
    """The compiled predictor function.json names, verified; None when the function serves by joblib."""
    entry = (function or {}).get("predictor")
    if not entry or (function or {}).get("serving") != "predictor":
        return None
    if switched_off("LAMBDAPACK_PREDICTOR"):
        return None
    name = str(entry.get("file"))
    if os.path.basename(name) != name:
        raise ModelInitError(f"function.json: predictor file {name!r} must be a plain file name")
    path = os.path.join(directory, name)
    try:
        return predictor.load(path, str(entry.get("sha256")))
    except FileNotFoundError:
        raise ModelInitError(f"predictor {path} not found; repackage the function with `lambdapack package`"
                             ) from None
    except (OSError, predictor.PredictorError) as exc:
        raise ModelInitError(f"predictor {path} is unusable: {exc}; repackage the function with "
                             "`lambdapack package`") from None


class Model:
    """The manifest's inputs and classes, a predictor and/or the estimator."""

    def __init__(self, directory: str) -> None:
        manifest = manifests.read_model_manifest(directory)
        function = manifests.read_function_manifest(directory)
        self.directory = directory
        self.manifest = manifest
        self.task = manifest.get("task")
        if self.task not in ("classification", "regression"):
            raise ModelInitError(f"model.json: unknown task {self.task!r}")
        self.inputs = read_inputs(manifest)
        self.layer = manifests.checked_layer_record(manifest)
        self.predictor = load_predictor(directory, function)
        self.max_rows = env_int("LAMBDAPACK_PREDICTOR_MAX_ROWS", int(((function or {}).get("predictor") or {}).get(
            "max_rows") or DEFAULT_PREDICTOR_MAX_ROWS), 1)
        self.claim = (function or {}).get("claim")
        self._estimator: Estimator | None = None
        self._estimator_missing = False  # the layer is not there: the predictor serves everything
        if self.predictor is None:
            try:
                self._estimator = Estimator(directory, manifest, self.inputs)
            except ImportError as exc:
                raise ModelInitError(f"the layer cannot load the model: {exc}; build the layer for the model with "
                                     "`lambdapack build-layer --model DIR`") from None
            fitted = self._estimator.fitted_classes
        else:
            self._check_predictor()
            fitted = self.predictor.classes
        self.classes = display_classes(manifest, fitted) if self.task == "classification" else None
        if self.layer is None and self.predictor is None:
            log("WARNING", f"no {manifests.LAYER_RECORD} on sys.path: not a lambdapack layer, "
                "model/layer versions not checked")
        if manifest.get("schema") != manifests.MODEL_SCHEMA:
            self._nullable_as_before()

    def _nullable_as_before(self) -> None:
        """A ``lambdapack.model/1`` manifest types no input: numbers, missing only where the model routes it."""
        routes = self.predictor.model.missing_left is not None if self.predictor is not None and \
            self.predictor.kind == "trees" else type(getattr(self._estimator, "estimator", None)).__name__.startswith(
                "HistGradientBoosting")
        for field in self.inputs.fields:
            field.nullable = routes

    def _check_predictor(self) -> None:
        predictor_ = self.predictor
        if predictor_.n_inputs != len(self.inputs) or predictor_.task != self.task:
            raise ModelInitError(f"the predictor takes {predictor_.n_inputs} inputs for {predictor_.task}; "
                                 f"model.json says {len(self.inputs)} for {self.task}")

    @property
    def serving(self) -> str:
        return "predictor" if self.predictor is not None else "joblib"

    def estimator(self) -> Estimator | None:
        """The estimator, loaded on first use; None when the layer's libraries are not there."""
        if self._estimator is None and not self._estimator_missing:
            try:
                self._estimator = Estimator(self.directory, self.manifest, self.inputs)
            except ImportError as exc:
                self._estimator_missing = True
                log("INFO", "no scikit-learn layer: the predictor serves every batch", reason=str(exc))
        return self._estimator

    def uses_predictor(self, n_rows: int) -> bool:
        if self.predictor is None:
            return False
        return n_rows <= self.max_rows or self.estimator() is None

    def predict(self, rows: list) -> tuple:
        """``(class indices or values, probability rows or None)`` for rows of inputs."""
        if self.uses_predictor(len(rows)):
            return self.predictor.predict(rows)
        return self.estimator().predict(rows)

    def warm(self) -> None:
        """Run one prediction, so the first request after a snapshot restore finds everything loaded."""
        if self.predictor is not None:
            self.predictor.self_check()
            return
        row = [f.categories[0] if f.kind == "category" and f.categories else 0.0 for f in self.inputs.fields]
        try:
            self._estimator.predict([row])
        except Exception as exc:  # noqa: BLE001 -- a model that refuses this row still serves; the snapshot goes on
            log("WARNING", "warming the model before the snapshot failed; the first request warms it",
                error=f"{type(exc).__name__}: {exc}")

    def metadata(self) -> dict:
        manifest = self.manifest
        layer = None
        if self.layer is not None:
            layer = {key: self.layer.get(key) for key in ("runtime", "arch", "python_version")}
        return {
            "task": self.task,
            "estimator": (manifest.get("estimator") or {}).get("class"),
            "features": [f.describe() for f in self.inputs.fields],
            "classes": self.classes,
            "metrics": manifest.get("metrics"),
            "dataset": (manifest.get("dataset") or {}).get("name"),
            "versions": manifest.get("versions"),
            "sha256": (manifest.get("model") or {}).get("sha256"),
            "layer": layer,
            "serving": self.serving,
            "claim": self.claim,
            "python": ".".join(str(v) for v in sys.version_info[:3]),
        }


def load(directory: str | None = None) -> Model:
    """The model the function serves, loaded once at init; logs one line with what it chose."""
    started = time.perf_counter()
    model = Model(directory or model_dir())
    log("INFO", "model loaded", task=model.task, serving=model.serving,
        estimator=(model.manifest.get("estimator") or {}).get("class"),
        sha256=(model.manifest.get("model") or {}).get("sha256"), layer=(model.layer or {}).get("runtime"),
        init_ms=round((time.perf_counter() - started) * 1000, 1))
    return model


def register_snapstart_hooks(model: Model) -> bool:
    """Under SnapStart: warm the model before the snapshot, re-seed randomness after each restore."""
    if os.environ.get("AWS_LAMBDA_INITIALIZATION_TYPE") != "snap-start":
        return False
    try:
        import snapshot_restore_py
    except ImportError:
        log("WARNING", "SnapStart without snapshot_restore_py: the model is not warmed before the snapshot")
        return False
    snapshot_restore_py.register_before_snapshot(model.warm)
    snapshot_restore_py.register_after_restore(reseed_after_restore)
    return True


def reseed_after_restore() -> None:
    """Every restored copy of a snapshot would otherwise draw the same 'random' numbers."""
    for name in ("random", "numpy.random"):
        module = sys.modules.get(name)
        if module is not None:
            module.seed(int.from_bytes(os.urandom(4), "little"))
