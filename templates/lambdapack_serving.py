"""The machinery behind ``lambda_function.py``: model loading, events, features and responses.

Ships in the function zip beside the handler, with ``lambdapack_predictor.py``. It imports only
the standard library; numpy, joblib and scikit-learn are imported from the layer only when the
function serves by the estimator (``function.json`` says ``"serving": "joblib"``) or a request
needs it (a batch larger than ``LAMBDAPACK_PREDICTOR_MAX_ROWS`` while the layer is there).

Init (:func:`load_model`): read ``model.json`` and ``function.json``; when a lambdapack layer is
on ``sys.path``, check its build record against the model's versions *before* anything imports
numpy; then load the predictor (sha256 from function.json, self-check) or the estimator
(``model.joblib``'s sha256 from model.json first: a pickle is code). Any failure raises
:class:`ModelInitError`, which Lambda reports as the function's init error.

Requests (:class:`Service`): the guide's direct event ``{"sl": 6.9, "sw": 3.1, "pl": 5.1,
"pw": 2.3}`` answers exactly ``{"statusCode": 200, "body": "virginica"}``; API Gateway REST
(v1) and HTTP API (v2), function URL and ALB events get JSON responses in their own shape. Client
input never causes a 5xx or a traceback in the response; every request writes one JSON log line
(never the body).

Environment variables:
  LAMBDAPACK_CORS_ORIGINS          ``*`` or a comma-separated list of origins (default: no CORS headers)
  LAMBDAPACK_MAX_BATCH             largest batch accepted, beyond it 413 (default 1000)
  LAMBDAPACK_PREDICTOR             ``0`` serves every request with the estimator (default 1)
  LAMBDAPACK_PREDICTOR_MAX_ROWS    batches above this size go to the estimator when the layer is there
                                   (default: function.json's, measured where numpy starts to win)
  LAMBDAPACK_MODEL_DIR             where model.json lives (default: this file's directory)
"""

from __future__ import annotations

import json
import math
import os
import re
import sys
import time

import lambdapack_predictor

# base64, http, traceback, urllib.parse and warnings are imported where they are needed: each
# costs init time (milliseconds) that a direct invocation of the predictor never uses.

MODEL_SCHEMA = "lambdapack.model/1"
FUNCTION_SCHEMA = "lambdapack.function/1"
LAYER_SCHEMA = "lambdapack.layer/1"
LAYER_RECORD = "lambdapack-layer.json"
FUNCTION_MANIFEST = "function.json"
# Keep in sync with lambdapack/model/version_rule.py (tests/function/test_handler_init.py checks both agree).
PINNED_PACKAGES = ("scikit-learn", "numpy", "scipy", "joblib")

# Tree models compare float32 inputs; a larger magnitude would become inf inside scikit-learn.
FLOAT32_MAX = 3.4028234663852886e38
_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?", re.ASCII)
_SITE_PACKAGES = re.compile(r"(.*)[/\\]python[/\\]lib[/\\]python3\.\d+[/\\]site-packages[/\\]?")
_DEFAULT_MAX_BATCH = 1000
_DEFAULT_PREDICTOR_MAX_ROWS = 1000
_OFF = ("0", "false", "no", "off")


class ModelInitError(RuntimeError):
    """The function cannot serve: its model, manifest, predictor or layer is missing, tampered or mismatched."""


# ---------------------------------------------------------------------------------------------
# The model/layer version rule (docs/formats.md), re-implemented: this file cannot import lambdapack.


def canonical_name(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def layer_versions(record: dict) -> dict:
    """``{canonical name: version}`` from a layer build record."""
    return {canonical_name(str(pkg["name"])): str(pkg["version"]) for pkg in record.get("packages") or []}


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


# ---------------------------------------------------------------------------------------------
# Logging: one JSON document per line on stdout, which Lambda sends to CloudWatch.


def log(level: str, message: str, **fields: object) -> None:
    line = {"level": level, "message": message}
    line.update(fields)
    sys.stdout.write(json.dumps(line, default=str) + "\n")
    sys.stdout.flush()


# ---------------------------------------------------------------------------------------------
# Init: manifests, layer check


def env_int(name: str, default: int, minimum: int) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ModelInitError(f"{name}={raw!r} is not an integer") from None
    if value < minimum:
        raise ModelInitError(f"{name}={value} must be at least {minimum}")
    return value


def model_dir() -> str:
    explicit = os.environ.get("LAMBDAPACK_MODEL_DIR")
    if explicit:
        return explicit
    here = os.path.dirname(os.path.abspath(__file__))
    task_root = os.environ.get("LAMBDA_TASK_ROOT")
    if not os.path.isfile(os.path.join(here, "model.json")) and task_root:
        return task_root
    return here


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


def check_layer(manifest: dict) -> dict | None:
    """The layer build record, after checking it matches this Python and the model's versions."""
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


def sha256_of(path: str) -> str:
    digest = lambdapack_predictor.new_sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


class Features:
    """The model's inputs as the manifest names them: names, aliases and where each goes in a row."""

    def __init__(self, manifest: dict) -> None:
        try:
            pairs = [(str(f["name"]), f.get("alias")) for f in manifest["features"]]
        except (KeyError, TypeError, AttributeError) as exc:
            raise ModelInitError(f"model.json is missing a required field ({exc!r})") from None
        if not pairs:
            raise ModelInitError("model.json lists no features")
        self.names = [name for name, _ in pairs]
        self.aliases = [alias if isinstance(alias, str) and alias else None for _, alias in pairs]
        self.index: dict = {}
        for i, (name, alias) in enumerate(zip(self.names, self.aliases, strict=True)):
            for key in (name, alias):
                if key is None:
                    continue
                if self.index.get(key, i) != i:
                    raise ModelInitError(f"model.json: feature name or alias {key!r} is used twice")
                self.index[key] = i
        self.labels = [alias or name for name, alias in zip(self.names, self.aliases, strict=True)]

    def __len__(self) -> int:
        return len(self.names)


def display_classes(manifest: dict, fitted: list) -> list:
    """The manifest's class names (in the order of the estimator's classes_), else the fitted labels."""
    names = manifest.get("classes")
    if names is None:
        names = fitted
    elif not isinstance(names, list) or len(names) != len(fitted):
        raise ModelInitError(f"model.json lists {names!r} as classes but the model has {len(fitted)}")
    return [n if isinstance(n, (str, int, float)) and not isinstance(n, bool) else str(n) for n in names]


# ---------------------------------------------------------------------------------------------
# The estimator, from model.joblib: the path for models the predictor does not cover


class Estimator:
    """The unpickled scikit-learn estimator, answering in the predictor's terms (class indices)."""

    def __init__(self, directory: str, manifest: dict, n_features: int) -> None:
        path, model_file = self._verified_path(directory, manifest)
        # numpy and scikit-learn come from the layer: imported only once it has been checked
        import joblib

        try:
            self.estimator = joblib.load(path)
        except Exception as exc:  # noqa: BLE001 -- unpickling runs arbitrary code: any failure is an init error
            raise ModelInitError(f"cannot load {model_file}: {type(exc).__name__}: {exc}") from None
        self._warn_on_other_versions(manifest)
        est = self.estimator
        if not callable(getattr(est, "predict", None)):
            raise ModelInitError(f"{model_file} holds a {type(est).__name__}, which has no predict()")
        n_in = getattr(est, "n_features_in_", None)
        if n_in is not None and int(n_in) != n_features:
            raise ModelInitError(f"model.json lists {n_features} features but the model expects {int(n_in)}")
        self.task = manifest.get("task")
        self.fitted_classes = self._fitted_classes() if self.task == "classification" else None
        self.label_index = {label: i for i, label in enumerate(self.fitted_classes or [])}
        self.has_proba = self.task == "classification" and callable(getattr(est, "predict_proba", None))
        # Pipelines fitted on a DataFrame warn on every ndarray; the columns are in the right order.
        self.quiet_feature_names = getattr(est, "feature_names_in_", None) is not None
        self.accepts_missing = type(est).__name__.startswith("HistGradientBoosting")

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
        names = {"scikit-learn": "sklearn", "numpy": "numpy", "scipy": "scipy", "joblib": "joblib"}
        wanted = manifest.get("versions") or {}
        differ = []
        for name in PINNED_PACKAGES:
            have = getattr(sys.modules.get(names[name]), "__version__", None)
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

        X = np.array(rows, dtype=np.float64)
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


# ---------------------------------------------------------------------------------------------
# The model: predictor first, estimator when needed


def load_predictor(directory: str, function: dict | None) -> lambdapack_predictor.Predictor | None:
    """The compiled predictor function.json names, verified; None when the function serves by joblib."""
    entry = (function or {}).get("predictor")
    if not entry or (function or {}).get("serving") != "predictor":
        return None
    if os.environ.get("LAMBDAPACK_PREDICTOR", "1").strip().lower() in _OFF:
        return None
    name = str(entry.get("file"))
    if os.path.basename(name) != name:
        raise ModelInitError(f"function.json: predictor file {name!r} must be a plain file name")
    path = os.path.join(directory, name)
    try:
        return lambdapack_predictor.load(path, str(entry.get("sha256")))
    except FileNotFoundError:
        raise ModelInitError(f"predictor {path} not found; repackage the function with `lambdapack package`"
                             ) from None
    except (OSError, lambdapack_predictor.PredictorError) as exc:
        raise ModelInitError(f"predictor {path} is unusable: {exc}; repackage the function with "
                             "`lambdapack package`") from None


class Model:
    """What the function serves: the manifest's features and classes, a predictor and/or the estimator."""

    def __init__(self, directory: str) -> None:
        manifest = read_json(os.path.join(directory, "model.json"), "model manifest model.json")
        if manifest.get("schema") != MODEL_SCHEMA:
            raise ModelInitError(f"model.json has unknown schema {manifest.get('schema')!r} (expected {MODEL_SCHEMA})")
        function = read_json(os.path.join(directory, FUNCTION_MANIFEST), "function manifest", required=False)
        if function is not None and function.get("schema") != FUNCTION_SCHEMA:
            raise ModelInitError(f"{FUNCTION_MANIFEST} has unknown schema {function.get('schema')!r}")
        self.directory = directory
        self.manifest = manifest
        self.task = manifest.get("task")
        if self.task not in ("classification", "regression"):
            raise ModelInitError(f"model.json: unknown task {self.task!r}")
        self.features = Features(manifest)
        self.layer = check_layer(manifest)
        self.predictor = load_predictor(directory, function)
        self.max_rows = env_int("LAMBDAPACK_PREDICTOR_MAX_ROWS", int(((function or {}).get("predictor") or {}).get(
            "max_rows") or _DEFAULT_PREDICTOR_MAX_ROWS), 1)
        self._estimator: Estimator | None = None
        self._estimator_missing = False  # the layer is not there: the predictor serves everything
        if self.predictor is None:
            self._estimator = Estimator(directory, manifest, len(self.features))
            fitted = self._estimator.fitted_classes
        else:
            self._check_predictor()
            fitted = self.predictor.classes
        self.classes = display_classes(manifest, fitted) if self.task == "classification" else None
        if self.layer is None and self.predictor is None:
            log("WARNING", f"no {LAYER_RECORD} on sys.path: not a lambdapack layer, model/layer versions not checked")
        self.accepts_missing = self.predictor.missing if self.predictor else self._estimator.accepts_missing

    def _check_predictor(self) -> None:
        predictor = self.predictor
        if predictor.n_features != len(self.features) or predictor.task != self.task:
            raise ModelInitError(f"the predictor takes {predictor.n_features} features for {predictor.task}; "
                                 f"model.json says {len(self.features)} for {self.task}")

    @property
    def serving(self) -> str:
        return "predictor" if self.predictor is not None else "joblib"

    def estimator(self) -> Estimator | None:
        """The estimator, loaded on first use; None when the layer's libraries are not there."""
        if self._estimator is None and not self._estimator_missing:
            try:
                self._estimator = Estimator(self.directory, self.manifest, len(self.features))
            except ImportError as exc:
                self._estimator_missing = True
                log("INFO", "no scikit-learn layer: the predictor serves every batch", reason=str(exc))
        return self._estimator

    def uses_predictor(self, n_rows: int) -> bool:
        if self.predictor is None:
            return False
        return n_rows <= self.max_rows or self.estimator() is None

    def predict(self, rows: list) -> tuple:
        """``(class indices or values, probability rows or None)`` for float rows."""
        if self.uses_predictor(len(rows)):
            return self.predictor.predict(rows)
        return self.estimator().predict(rows)

    def warm(self) -> None:
        """Run one prediction, so the first request after a snapshot restore finds everything loaded."""
        if self.predictor is not None:
            self.predictor.self_check()
            return
        try:
            self._estimator.predict([[0.0] * len(self.features)])
        except Exception as exc:  # noqa: BLE001 -- a model that refuses zeros still serves; the snapshot goes on
            log("WARNING", "warming the model before the snapshot failed; the first request warms it",
                error=f"{type(exc).__name__}: {exc}")

    def metadata(self) -> dict:
        manifest, features = self.manifest, self.features
        layer = None
        if self.layer is not None:
            layer = {key: self.layer.get(key) for key in ("runtime", "arch", "python_version")}
        return {
            "task": self.task,
            "estimator": (manifest.get("estimator") or {}).get("class"),
            "features": [{"name": n, "alias": a} for n, a in zip(features.names, features.aliases, strict=True)],
            "classes": self.classes,
            "metrics": manifest.get("metrics"),
            "dataset": (manifest.get("dataset") or {}).get("name"),
            "versions": manifest.get("versions"),
            "sha256": (manifest.get("model") or {}).get("sha256"),
            "layer": layer,
            "serving": self.serving,
            "python": ".".join(str(v) for v in sys.version_info[:3]),
        }


def load_model(directory: str | None = None) -> Model:
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


# ---------------------------------------------------------------------------------------------
# Requests


class Reject(Exception):
    """A client error: the response status, a short code, a sentence, and the field at fault."""

    def __init__(self, status: int, error: str, detail: str, field: str | None = None,
                 headers: dict | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.error = error
        self.detail = detail
        self.field = field
        self.headers = headers or {}


def show(value: object, limit: int = 40) -> str:
    try:
        text = json.dumps(value, default=str) if not isinstance(value, str) else repr(value)
    except ValueError:  # an int too long to print
        text = f"a {type(value).__name__}"
    return text if len(text) <= limit else text[: limit - 1] + "…"


def clip(text: str, limit: int = 100) -> str:
    """Client-supplied names echoed back in ``field``, kept short."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def listing(names: list, limit: int = 8) -> str:
    if len(names) <= limit:
        return ", ".join(names)
    return ", ".join(names[:limit]) + f", … ({len(names)} in all)"


def number(value: object, field: str, missing_ok: bool = False) -> float:
    """A feature value as a float; ``null`` or NaN is a missing value for models that route them."""
    if value is None and missing_ok:
        return math.nan
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        kind = "a boolean" if isinstance(value, bool) else "null" if value is None else f"a {type(value).__name__}"
        raise Reject(400, "invalid_value", f"{field} must be a number, got {kind}", field)
    if isinstance(value, str):
        text = value.strip()
        if not _NUMBER.fullmatch(text):
            raise Reject(400, "invalid_value", f"{field} must be a number, got {show(value)}", field)
        value = text
    try:
        result = float(value)
    except OverflowError:
        result = math.inf
    if result != result and missing_ok:
        return result
    if not math.isfinite(result) or abs(result) > FLOAT32_MAX:
        raise Reject(400, "invalid_value", f"{field} must be a finite number within ±3.4e38, got {show(value)}",
                     field)
    return result


class HttpRequest:
    """What an API Gateway (REST v1, HTTP API v2), function URL or ALB event asks for."""

    __slots__ = ("base64", "body", "headers", "method", "multi_value", "path", "query", "request_id", "source")

    def __init__(self, source: str, method: object, path: object, headers: dict, query: dict,
                 body: object, base64_encoded: object, request_id: object, multi_value: bool = False) -> None:
        if not isinstance(method, str) or not method:
            raise Reject(400, "bad_event", "the event has no HTTP method")
        if not isinstance(path, str):
            raise Reject(400, "bad_event", "the event has no request path")
        self.source = source
        self.method = method.upper()
        self.path = path
        self.headers = headers
        self.query = query
        self.body = body
        self.base64 = base64_encoded is True
        self.request_id = request_id if isinstance(request_id, str) else None
        self.multi_value = multi_value  # an ALB target group with multi-value headers: answer in kind

    def route(self) -> str:
        path = self.path.rstrip("/") or "/"
        if path in ("/", "/predict"):
            return "/predict"
        if path == "/health":
            return "/health"
        raise Reject(404, "not_found", f"no route {show(self.path, 60)}; use POST /predict, GET /predict?… "
                     "or GET /health")

    def text_body(self) -> str | None:
        body = self.body
        if body is None:
            return None
        if not isinstance(body, str):
            raise Reject(400, "bad_body", "the event's body is not a string")
        if self.base64:
            import base64
            import binascii

            try:
                raw = base64.b64decode(body, validate=True)
            except (binascii.Error, ValueError):
                raise Reject(400, "bad_body", "the body is marked base64 but is not valid base64") from None
            try:
                body = raw.decode("utf-8")
            except UnicodeDecodeError:
                raise Reject(400, "bad_body", "the body is not UTF-8 text") from None
        return body if body.strip() else None

    def parse(self, body: str) -> object:
        from urllib.parse import parse_qs

        content_type = self.headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type == "application/x-www-form-urlencoded" and body.lstrip()[:1] not in ("{", "["):
            fields = parse_qs(body, keep_blank_values=True)
            if fields:
                return {k: (v[0] if len(v) == 1 else v) for k, v in fields.items()}
        try:
            return json.loads(body)
        except json.JSONDecodeError as exc:
            raise Reject(400, "malformed_json", f"the body is not valid JSON: {exc.msg} at line {exc.lineno} "
                         f"column {exc.colno}") from None
        except RecursionError:
            raise Reject(400, "malformed_json", "the body nests too deeply") from None
        except ValueError as exc:  # e.g. an integer longer than Python's int-to-str digit limit
            raise Reject(400, "malformed_json", f"the body is not usable JSON: {exc}") from None


def lower_headers(raw: object) -> dict:
    if not isinstance(raw, dict):
        return {}
    return {k.lower(): v for k, v in raw.items() if isinstance(k, str) and isinstance(v, str)}


def strip_stage(path: str, stage: object) -> str:
    if isinstance(stage, str) and stage and stage != "$default":
        prefix = "/" + stage
        if path == prefix or path.startswith(prefix + "/"):
            return path[len(prefix):] or "/"
    return path


def single_query(raw: object) -> dict:
    if not isinstance(raw, dict):
        return {}
    return {k: [v] for k, v in raw.items() if isinstance(v, str)}


def http_api_request(event: dict, context: dict) -> HttpRequest:
    """HTTP API (payload 2.0) and function URL events."""
    http = context.get("http") if isinstance(context.get("http"), dict) else {}
    path = event.get("rawPath")
    if not isinstance(path, str):
        path = http.get("path")
    route_key = event.get("routeKey")
    if isinstance(route_key, str) and " " in route_key and "{" not in route_key:
        path = route_key.split(" ", 1)[1]  # the route matched, free of stage and base-path prefixes
    elif isinstance(path, str):
        path = strip_stage(path, context.get("stage"))
    raw_query = event.get("rawQueryString")
    if isinstance(raw_query, str) and raw_query:
        from urllib.parse import parse_qs

        query = parse_qs(raw_query, keep_blank_values=True)
    else:
        query = single_query(event.get("queryStringParameters"))
    source = "function-url" if "lambda-url" in str(context.get("domainName", "")) else "http-api-v2"
    return HttpRequest(source, http.get("method"), path, lower_headers(event.get("headers")), query,
                       event.get("body"), event.get("isBase64Encoded"), context.get("requestId"))


def proxy_request(event: dict, context: dict) -> HttpRequest:
    """REST API (payload 1.0) and ALB events."""
    resource = event.get("resource")
    if isinstance(resource, str) and resource.startswith("/") and "{" not in resource:
        path = resource  # the resource matched, free of stage and custom-domain base paths
    else:
        path = event.get("path")
        if isinstance(path, str):
            path = strip_stage(path, context.get("stage"))
    multi = event.get("multiValueQueryStringParameters")
    if isinstance(multi, dict):
        query = {k: [v for v in vs if isinstance(v, str)] for k, vs in multi.items() if isinstance(vs, list)}
    else:
        query = single_query(event.get("queryStringParameters"))
    headers = lower_headers(event.get("headers"))
    multi_headers = event.get("multiValueHeaders")
    if not headers and isinstance(multi_headers, dict):
        headers = lower_headers({k: v[-1] for k, v in multi_headers.items() if isinstance(v, list) and v})
    alb = "elb" in context
    return HttpRequest("alb" if alb else "rest-api-v1", event.get("httpMethod"), path, headers, query,
                       event.get("body"), event.get("isBase64Encoded"), context.get("requestId"),
                       multi_value=alb and isinstance(multi_headers, dict))


def http_request(event: object) -> HttpRequest | None:
    """The HTTP request an event carries, or None for a direct invocation."""
    if not isinstance(event, dict):
        return None
    context = event.get("requestContext")
    context = context if isinstance(context, dict) else {}
    if event.get("version") == "2.0" or "rawPath" in event or "routeKey" in event:
        return http_api_request(event, context)
    if "httpMethod" in event:
        return proxy_request(event, context)
    return None


# ---------------------------------------------------------------------------------------------
# Responses


def json_response(status: int, payload: object, headers: dict | None = None) -> dict:
    out = {"Content-Type": "application/json"}
    if headers:
        out.update(headers)
    return {"statusCode": status, "headers": out, "body": json.dumps(payload, allow_nan=False)}


def alb_response(response: dict, multi_value: bool) -> dict:
    """What an ALB target must answer: a status line, isBase64Encoded, and headers in the request's shape."""
    from http import HTTPStatus

    status = response["statusCode"]
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = "Unknown"
    headers = response.get("headers") or {}
    out = {"statusCode": status, "statusDescription": f"{status} {phrase}", "isBase64Encoded": False,
           "body": response.get("body", "")}
    if multi_value:
        out["multiValueHeaders"] = {k: [v] for k, v in headers.items()}
    else:
        out["headers"] = headers
    return out


# ---------------------------------------------------------------------------------------------
# The service: events in, responses out


class Call:
    """One invocation: the event, what it asks, and the fields of its log line."""

    def __init__(self, event: object, context: object) -> None:
        self.event = event
        self.started = time.perf_counter()
        self.request: HttpRequest | None = None
        self.batch = False
        self.log: dict = {"request_id": getattr(context, "aws_request_id", None), "source": None}


class Service:
    """Turns events into feature rows, and predictions or rejections into Lambda responses."""

    def __init__(self, model: Model) -> None:
        self.model = model
        self.max_batch = env_int("LAMBDAPACK_MAX_BATCH", _DEFAULT_MAX_BATCH, 1)
        origins = os.environ.get("LAMBDAPACK_CORS_ORIGINS", "").strip()
        self.cors_origins = [o.strip() for o in origins.split(",") if o.strip()]
        self.expected = listing(model.features.labels)

    def begin(self, event: object, context: object) -> Call:
        return Call(event, context)

    # -- what the request asks -----------------------------------------------------------------

    def special(self, call: Call) -> dict | None:
        """The answer to a request that asks no prediction (health, CORS preflight, 404, 405), else None."""
        request = call.request = http_request(call.event)
        if request is None:
            call.log["source"] = "direct"
            return None
        call.log.update(source=request.source, method=request.method)
        call.log["request_id"] = call.log["request_id"] or request.request_id
        route = request.route()
        call.log["route"] = route
        allowed = ("GET",) if route == "/health" else ("GET", "POST")
        if request.method == "OPTIONS" and self.cors_origins:
            preflight = self.cors_headers(request)
            preflight.update({"Access-Control-Allow-Methods": ", ".join((*allowed, "OPTIONS")),
                              "Access-Control-Allow-Headers": "content-type", "Access-Control-Max-Age": "300"})
            return {"statusCode": 204, "headers": preflight, "body": ""}
        if request.method not in allowed:
            raise Reject(405, "method_not_allowed", f"{route} accepts {' and '.join(allowed)}, "
                         f"not {show(request.method)}", headers={"Allow": ", ".join(allowed)})
        if route == "/health":
            return json_response(200, {"status": "ok", "model": self.model.metadata(), "max_batch": self.max_batch},
                                 self.cors_headers(request))
        return None

    def rows(self, call: Call) -> list:
        """The request's features as float rows; Reject (4xx) for any bad input."""
        request = call.request
        if request is None:
            rows, call.batch = self.rows_from_payload(call.event)
        else:
            body = request.text_body()
            if body is None:
                if not request.query:
                    raise Reject(400, "missing_input", "send the features as a JSON body or a query string, "
                                 f"e.g. ?{'&'.join(f'{k}=…' for k in self.model.features.labels[:4])}")
                rows, call.batch = self.rows_from_query(request.query), False
            else:
                rows, call.batch = self.rows_from_payload(request.parse(body))
        call.log["rows"] = len(rows)
        return rows

    def row_from_object(self, obj: dict, where: str) -> list:
        features = self.model.features
        row = [None] * len(features)
        for key, value in obj.items():
            index = features.index.get(key)
            field = clip(f"{where}{key}")
            if index is None:
                raise Reject(400, "unknown_feature",
                             f"unknown feature {show(key)}; the model expects {self.expected}", field)
            if row[index] is not None:
                raise Reject(400, "duplicate_feature",
                             f"feature {features.labels[index]!r} is given twice (by name and by alias)", field)
            row[index] = number(value, field, self.model.accepts_missing)
        missing = [features.labels[i] for i, v in enumerate(row) if v is None]
        if missing:
            raise Reject(400, "missing_feature", f"missing feature {listing(missing)}; the model expects "
                         f"{self.expected}", f"{where}{missing[0]}")
        return row

    def row_from_list(self, values: list, where: str) -> list:
        n = len(self.model.features)
        if len(values) != n:
            raise Reject(400, "wrong_length", f"{where.rstrip('.') or 'the instance'} has {len(values)} values; "
                         f"the model expects {n} ({self.expected})", where.rstrip(".") or None)
        return [number(v, f"{where}[{i}]", self.model.accepts_missing) for i, v in enumerate(values)]

    def rows_from_payload(self, payload: object) -> tuple:
        """``(rows, is_batch)`` from a decoded JSON payload."""
        if isinstance(payload, dict):
            if "instances" in payload:
                extra = sorted(k for k in payload if k != "instances")
                if extra:
                    raise Reject(400, "unknown_field", f"unexpected field {show(extra[0])} next to instances",
                                 clip(extra[0]))
                return self.rows_from_batch(payload["instances"], "instances"), True
            return [self.row_from_object(payload, "")], False
        if isinstance(payload, list):
            return self.rows_from_batch(payload, ""), True
        raise Reject(400, "bad_body", "send a JSON object of features, a list of them, or {\"instances\": [[...]]}")

    def rows_from_batch(self, items: object, name: str) -> list:
        if not isinstance(items, list):
            raise Reject(400, "bad_body", f"{name or 'the batch'} must be a list of instances", name or None)
        if not items:
            raise Reject(400, "empty_batch", f"{name or 'the batch'} is empty", name or None)
        if len(items) > self.max_batch:
            raise Reject(413, "batch_too_large",
                         f"{len(items)} instances; at most {self.max_batch} per request (LAMBDAPACK_MAX_BATCH)",
                         name or None)
        rows = []
        for i, item in enumerate(items):
            where = f"{name}[{i}]"
            if isinstance(item, dict):
                rows.append(self.row_from_object(item, where + "."))
            elif isinstance(item, list):
                rows.append(self.row_from_list(item, where))
            else:
                raise Reject(400, "bad_body", f"{where} must be an object of features or a list of numbers", where)
        return rows

    def rows_from_query(self, query: dict) -> list:
        single = {}
        for key, values in query.items():
            if len(values) != 1:
                raise Reject(400, "duplicate_feature", f"query parameter {show(key)} is given {len(values)} times",
                             clip(key))
            single[key] = values[0]
        return [self.row_from_object(single, "")]

    # -- responses -----------------------------------------------------------------------------

    def answer(self, call: Call, prediction: tuple) -> dict:
        """The response for ``(outputs, probabilities)`` in the shape the event asked for."""
        outputs, probas = prediction
        model = self.model
        if model.task == "regression":
            predictions, probabilities = outputs, None
        else:
            predictions = [model.classes[i] for i in outputs]
            names = [str(c) for c in model.classes]
            probabilities = [dict(zip(names, p, strict=True)) for p in probas] if probas is not None else None
        call.log["predictor"] = model.uses_predictor(len(outputs))
        if call.request is None and not call.batch:
            # the guide's contract, to the byte: {"statusCode": 200, "body": "virginica"}
            value = predictions[0]
            return {"statusCode": 200, "body": value if isinstance(value, str) else json.dumps(value)}
        if call.batch:
            payload = {"predictions": predictions}
            if probabilities is not None:
                payload["probabilities"] = probabilities
        else:
            payload = {"prediction": predictions[0]}
            if probabilities is not None:
                payload["probabilities"] = probabilities[0]
        return json_response(200, payload, self.cors_headers(call.request))

    def cors_headers(self, request: HttpRequest | None) -> dict:
        if not self.cors_origins or request is None:
            return {}
        if "*" in self.cors_origins:
            return {"Access-Control-Allow-Origin": "*"}
        origin = request.headers.get("origin")
        if origin in self.cors_origins:
            return {"Access-Control-Allow-Origin": origin, "Vary": "Origin"}
        return {"Vary": "Origin"}

    def reject(self, call: Call, reject: Reject) -> dict:
        call.log["error"] = reject.error
        payload = {"error": reject.error, "detail": reject.detail}
        if reject.field is not None:
            payload["field"] = reject.field
        headers = self.cors_headers(call.request)
        headers.update(reject.headers)
        return json_response(reject.status, payload, headers)

    def fail(self, call: Call, exc: BaseException) -> dict:
        import traceback

        call.log.update(error="internal_error", exception=f"{type(exc).__name__}: {exc}",
                        traceback=traceback.format_exc())
        return json_response(500, {"error": "internal_error", "detail": "the function failed; see its logs for "
                                   f"request {call.log['request_id']}"})

    def finish(self, call: Call, response: dict) -> dict:
        """Log the request's one line; give the response the shape its event source requires."""
        status = response["statusCode"]
        call.log["status"] = status
        call.log["outcome"] = "ok" if status < 400 else "client_error" if status < 500 else "server_error"
        call.log["latency_ms"] = round((time.perf_counter() - call.started) * 1000, 3)
        log("ERROR" if status >= 500 else "INFO", "request", **call.log)
        if call.request is not None and call.request.source == "alb":
            return alb_response(response, call.request.multi_value)
        return response
