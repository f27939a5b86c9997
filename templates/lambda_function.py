"""lambdapack's prediction handler for AWS Lambda (``lambda_function.lambda_handler``).

This file ships inside the function zip next to ``model.joblib`` and ``model.json``. It imports
only the standard library and the layer's packages (numpy, joblib, scikit-learn): never
lambdapack, which is not on Lambda.

Init (once per execution environment): check the layer's build record against the model's
manifest *before* numpy is imported (a layer built for another Python or other library
versions fails later with misleading errors), verify ``model.joblib``'s sha256 (a pickle is
code), unpickle it, and prepare a fast path for tree models. Any failure raises
:class:`ModelInitError`, which Lambda reports as the function's init error.

Requests: the guide's direct event ``{"sl": 6.9, "sw": 3.1, "pl": 5.1, "pw": 2.3}`` answers
exactly ``{"statusCode": 200, "body": "virginica"}``; API Gateway REST (v1 proxy), HTTP API
(v2) and function URL events get JSON responses. Client input never causes a 5xx or a
traceback in the response. Every request writes one JSON log line (never the body).

Environment variables:
  LAMBDAPACK_CORS_ORIGINS        ``*`` or a comma-separated list of origins (default: no CORS headers)
  LAMBDAPACK_MAX_BATCH           largest batch accepted, beyond it 413 (default 1000)
  LAMBDAPACK_FAST_PATH           ``0`` evaluates every request with the estimator itself (default 1)
  LAMBDAPACK_FAST_PATH_MAX_ROWS  batches above this size go to the estimator (default 16)
  LAMBDAPACK_FAST_PATH_MAX_NODES tree models with more nodes go to the estimator (default 5,000,000)
  LAMBDAPACK_MODEL_DIR           where model.json lives (default: this file's directory)
"""

from __future__ import annotations

import array
import base64
import binascii
import hashlib
import json
import math
import os
import re
import sys
import time
import traceback
import warnings
from urllib.parse import parse_qs

MODEL_SCHEMA = "lambdapack.model/1"
LAYER_SCHEMA = "lambdapack.layer/1"
LAYER_RECORD = "lambdapack-layer.json"
# Keep in sync with lambdapack/compat.py (tests/function/test_handler_init.py checks both agree).
PINNED_PACKAGES = ("scikit-learn", "numpy", "scipy", "joblib")

# Tree models compare float32 inputs; a larger magnitude would become inf inside scikit-learn.
FLOAT32_MAX = 3.4028234663852886e38
_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?", re.ASCII)
_SITE_PACKAGES = re.compile(r"(.*)[/\\]python[/\\]lib[/\\]python3\.\d+[/\\]site-packages[/\\]?")
_DEFAULT_MAX_BATCH = 1000
_DEFAULT_FAST_MAX_ROWS = 16
_DEFAULT_FAST_MAX_NODES = 5_000_000  # ~100 MB of node tables at most
_LIST_NODES = 200_000  # above this, node tables are array.array instead of lists
_VERIFY_ROWS = 64


class ModelInitError(RuntimeError):
    """The function cannot serve: its model, manifest or layer is missing, tampered or mismatched."""


# ---------------------------------------------------------------------------------------------
# The model/layer version rule (docs/formats.md), re-implemented: this file cannot import lambdapack.


def canonical_name(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def layer_versions(record: dict) -> dict:
    """``{canonical name: version}`` from a layer build record."""
    out = {}
    for pkg in record.get("packages") or []:
        out[canonical_name(str(pkg["name"]))] = str(pkg["version"])
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


# ---------------------------------------------------------------------------------------------
# Logging: one JSON document per line on stdout, which Lambda sends to CloudWatch.


def _log(level: str, message: str, **fields: object) -> None:
    line = {"level": level, "message": message}
    line.update(fields)
    sys.stdout.write(json.dumps(line, default=str) + "\n")
    sys.stdout.flush()


# ---------------------------------------------------------------------------------------------
# Init


def _env_int(name: str, default: int, minimum: int) -> int:
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


def _model_dir() -> str:
    explicit = os.environ.get("LAMBDAPACK_MODEL_DIR")
    if explicit:
        return explicit
    here = os.path.dirname(os.path.abspath(__file__))
    task_root = os.environ.get("LAMBDA_TASK_ROOT")
    if not os.path.isfile(os.path.join(here, "model.json")) and task_root:
        return task_root
    return here


def _read_json(path: str, what: str) -> dict:
    try:
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
    except FileNotFoundError:
        raise ModelInitError(f"{what} not found at {path}; package the function with `lambdapack package`") from None
    except (OSError, ValueError) as exc:
        raise ModelInitError(f"{what} at {path} is unreadable: {exc}") from None
    if not isinstance(data, dict):
        raise ModelInitError(f"{what} at {path} is not a JSON object")
    return data


def _check_layer(manifest: dict) -> dict | None:
    """The layer build record, after checking it matches this Python and the model's versions."""
    path = find_layer_record(sys.path)
    if path is None:
        _log("WARNING", f"no {LAYER_RECORD} on sys.path: not a lambdapack layer, model/layer versions not checked")
        return None
    record = _read_json(path, "layer build record")
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


def _running_versions() -> dict:
    """The versions of the pinned libraries this process has imported (unpickling imports them)."""
    modules = {"scikit-learn": "sklearn", "numpy": "numpy", "scipy": "scipy", "joblib": "joblib"}
    out = {}
    for name in PINNED_PACKAGES:
        module = sys.modules.get(modules.get(name, name))
        version = getattr(module, "__version__", None)
        if isinstance(version, str):
            out[name] = version
    return out


def _sha256(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


class Model:
    """The loaded estimator plus everything the manifest says about it."""

    def __init__(self, model_dir: str) -> None:
        manifest = _read_json(os.path.join(model_dir, "model.json"), "model manifest model.json")
        if manifest.get("schema") != MODEL_SCHEMA:
            raise ModelInitError(f"model.json has unknown schema {manifest.get('schema')!r} (expected {MODEL_SCHEMA})")
        self.manifest = manifest
        self.layer = _check_layer(manifest)
        try:
            features = [(str(f["name"]), f.get("alias")) for f in manifest["features"]]
            model_file = manifest["model"]["file"]
            expected_sha = str(manifest["model"]["sha256"]).lower()
            task = manifest["task"]
        except (KeyError, TypeError, AttributeError) as exc:
            raise ModelInitError(f"model.json is missing a required field ({exc!r})") from None
        if task not in ("classification", "regression"):
            raise ModelInitError(f"model.json: unknown task {task!r}")
        if not features:
            raise ModelInitError("model.json lists no features")
        if os.path.basename(str(model_file)) != model_file:
            raise ModelInitError(f"model.json: model file {model_file!r} must be a plain file name")
        self.task = task
        self.feature_names = [name for name, _ in features]
        self.aliases = [alias if isinstance(alias, str) and alias else None for _, alias in features]
        self.index = {}
        for i, (name, alias) in enumerate(zip(self.feature_names, self.aliases, strict=True)):
            for key in (name, alias):
                if key is None:
                    continue
                if self.index.get(key, i) != i:
                    raise ModelInitError(f"model.json: feature name or alias {key!r} is used twice")
                self.index[key] = i
        self.labels = [alias or name for name, alias in zip(self.feature_names, self.aliases, strict=True)]

        path = os.path.join(model_dir, model_file)
        try:
            actual_sha = _sha256(path)
        except FileNotFoundError:
            raise ModelInitError(f"model file {path} not found; package the function with `lambdapack package`"
                                 ) from None
        except OSError as exc:
            raise ModelInitError(f"model file {path} is unreadable: {exc}") from None
        if actual_sha != expected_sha:
            raise ModelInitError(
                f"{model_file} does not match model.json (sha256 {actual_sha[:12]}…, manifest says "
                f"{expected_sha[:12]}…): refusing to unpickle it; repackage the function from the trained model")

        # numpy and scikit-learn come from the layer: import them only once it has been checked.
        global np
        import joblib
        import numpy as np

        try:
            self.estimator = joblib.load(path)
        except Exception as exc:  # noqa: BLE001 -- unpickling runs arbitrary code: any failure is an init error
            raise ModelInitError(f"cannot load {model_file}: {type(exc).__name__}: {exc}") from None
        self.running_versions = _running_versions()
        differ = [f"{name} {have} (running) vs {want} (model)"
                  for name, have in self.running_versions.items()
                  if (want := (manifest.get("versions") or {}).get(name)) and want != have]
        if differ:  # only reachable without a build record, or with one that lies
            _log("WARNING", "the model was trained with other library versions than this function runs: "
                 + ", ".join(differ) + "; predictions may differ from training")
        est = self.estimator
        if not callable(getattr(est, "predict", None)):
            raise ModelInitError(f"{model_file} holds a {type(est).__name__}, which has no predict()")
        n_in = getattr(est, "n_features_in_", None)
        if n_in is not None and int(n_in) != len(self.feature_names):
            raise ModelInitError(
                f"model.json lists {len(self.feature_names)} features but the model expects {int(n_in)}")

        self.classes = None  # display names, in the order of estimator.classes_
        self.label_index = None
        self.has_proba = False
        self.predict_is_argmax = False
        if task == "classification":
            if getattr(est, "n_outputs_", 1) != 1:
                raise ModelInitError("multi-output classifiers are not supported; serve one classifier per target")
            fitted = getattr(est, "classes_", None)
            if fitted is None or np.ndim(fitted) != 1:
                raise ModelInitError("model.json says classification but the model has no single-output classes_")
            fitted = [c.item() if hasattr(c, "item") else c for c in fitted]
            names = manifest.get("classes")
            if names is None:
                names = fitted
            elif not isinstance(names, list) or len(names) != len(fitted):
                raise ModelInitError(f"model.json lists {names!r} as classes but the model has {len(fitted)}")
            self.classes = [n if isinstance(n, (str, int, float)) and not isinstance(n, bool) else str(n)
                            for n in names]
            self.label_index = {label: i for i, label in enumerate(fitted)}
            self.has_proba = callable(getattr(est, "predict_proba", None))
        # these compute predict() as classes_[argmax(predict_proba())]: one call gives both
        self.predict_is_argmax = self.has_proba and _predict_is_argmax_of_proba(est)
        # Pipelines fitted on a DataFrame warn on every ndarray; the columns are in the right order.
        self.quiet_feature_names = getattr(est, "feature_names_in_", None) is not None

        self.fast = None
        if os.environ.get("LAMBDAPACK_FAST_PATH", "1").strip() not in ("0", "false", "no", "off"):
            self.fast = TreeEvaluator.build(est, task, len(self.feature_names))
            if self.fast is not None and not self.fast.agrees_with(self):
                _log("WARNING", "fast path disabled: it disagreed with scikit-learn on the init sample")
                self.fast = None

    # -- prediction -------------------------------------------------------------------------

    def predict_with_estimator(self, rows: list) -> tuple:
        """``(class indices or values, probability rows or None)`` from the estimator itself."""
        X = np.array(rows, dtype=np.float64)
        with warnings.catch_warnings():
            if self.quiet_feature_names:
                warnings.filterwarnings("ignore", message="X does not have valid feature names")
            if self.predict_is_argmax:
                proba = self.estimator.predict_proba(X)
                return np.argmax(proba, axis=1).tolist(), proba.tolist()
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

    def predict(self, rows: list) -> tuple:
        if self.fast is not None and len(rows) <= self.fast.max_rows:
            return self.fast.predict(rows)
        return self.predict_with_estimator(rows)

    def metadata(self) -> dict:
        manifest = self.manifest
        layer = None
        if self.layer is not None:
            layer = {key: self.layer.get(key) for key in ("runtime", "arch", "python_version")}
        return {
            "task": self.task,
            "estimator": (manifest.get("estimator") or {}).get("class"),
            "features": [{"name": n, "alias": a} for n, a in zip(self.feature_names, self.aliases, strict=True)],
            "classes": self.classes,
            "metrics": manifest.get("metrics"),
            "dataset": (manifest.get("dataset") or {}).get("name"),
            "versions": manifest.get("versions"),
            "sha256": (manifest.get("model") or {}).get("sha256"),
            "layer": layer,
            "fast_path": self.fast is not None,
            "python": ".".join(str(v) for v in sys.version_info[:3]),
        }


def _predict_is_argmax_of_proba(est: object) -> bool:
    from sklearn import ensemble, tree

    exact = (tree.DecisionTreeClassifier, tree.ExtraTreeClassifier, ensemble.RandomForestClassifier,
             ensemble.ExtraTreesClassifier)
    return type(est) in exact and getattr(est, "n_outputs_", None) == 1


def _int_table(values: object, compact: bool) -> object:
    return array.array("q", np.asarray(values, dtype=np.int64).tobytes()) if compact else values.tolist()


def _float_table(values: object, compact: bool) -> object:
    return array.array("d", np.asarray(values, dtype=np.float64).tobytes()) if compact else values.tolist()


class TreeEvaluator:
    """Fitted decision trees evaluated in plain Python, bit-identical to scikit-learn.

    For one row, ``RandomForestClassifier.predict_proba`` spends most of its time in input
    validation and joblib dispatch, not in the trees. Walking the node arrays directly
    answers in tens of microseconds. It follows scikit-learn exactly: inputs rounded to
    float32 and compared ``<=`` to the float64 thresholds, leaf values accumulated tree by
    tree in float64 and divided by the number of trees, ties going to the first class (np.argmax).
    """

    def __init__(self, trees: list, task: str, n_features: int, forest: bool, normalise: bool) -> None:
        self.task = task
        self.n_features = n_features
        self.forest = forest
        self.n_trees = len(trees)
        self.max_rows = _env_int("LAMBDAPACK_FAST_PATH_MAX_ROWS", _DEFAULT_FAST_MAX_ROWS, 1)
        features, thresholds, lefts, rights, leaves, class_values = [], [], [], [], [], []
        offset = 0
        self.roots = []
        for tree in trees:
            t = tree.tree_
            self.roots.append(offset)
            is_leaf = t.children_left == -1
            features.append(np.where(is_leaf, -1, t.feature))
            thresholds.append(t.threshold)
            lefts.append(np.where(is_leaf, -1, t.children_left + offset))
            rights.append(np.where(is_leaf, -1, t.children_right + offset))
            if task == "regression":
                leaves.append(t.value[:, 0, 0])
            else:
                value = np.array(t.value[:, 0, : tree.n_classes_], dtype=np.float64)
                if normalise:  # scikit-learn < 1.4 stored class counts and normalised at predict time
                    normalizer = value.sum(axis=1)[:, np.newaxis]
                    normalizer[normalizer == 0.0] = 1.0
                    value = value / normalizer
                class_values.append(value)
            offset += t.node_count
        # Lists index fastest; past a few hundred thousand nodes their boxed numbers cost more
        # memory than a Lambda can spare, and array.array keeps 8 bytes a node at half the speed.
        compact = offset > _LIST_NODES
        self.feature = _int_table(np.concatenate(features), compact)
        self.left = _int_table(np.concatenate(lefts), compact)
        self.right = _int_table(np.concatenate(rights), compact)
        self.threshold = _float_table(np.concatenate(thresholds), compact)
        self.leaf = _float_table(np.concatenate(leaves), compact) if task == "regression" else None
        self.leaf_matrix = np.concatenate(class_values) if task == "classification" else None

    @classmethod
    def build(cls, est: object, task: str, n_features: int) -> TreeEvaluator | None:
        """An evaluator for the single-output tree models it covers exactly, else None."""
        import sklearn
        from sklearn import ensemble, tree

        kinds = {
            tree.DecisionTreeClassifier: ("classification", False),
            tree.ExtraTreeClassifier: ("classification", False),
            tree.DecisionTreeRegressor: ("regression", False),
            tree.ExtraTreeRegressor: ("regression", False),
            ensemble.RandomForestClassifier: ("classification", True),
            ensemble.ExtraTreesClassifier: ("classification", True),
            ensemble.RandomForestRegressor: ("regression", True),
            ensemble.ExtraTreesRegressor: ("regression", True),
        }
        kind = kinds.get(type(est))  # exact types: a subclass may predict differently
        if kind is None or kind[0] != task or getattr(est, "n_outputs_", None) != 1:
            return None
        trees = list(est.estimators_) if kind[1] else [est]
        if not trees or any(type(t) not in kinds or getattr(t, "n_outputs_", None) != 1 for t in trees):
            return None
        if task == "classification" and any(int(t.n_classes_) != len(est.classes_) for t in trees):
            return None
        if any(int(t.tree_.feature.max(initial=-1)) >= n_features for t in trees):
            return None  # the manifest lists fewer features than the trees use; the estimator will say so
        nodes = sum(int(t.tree_.node_count) for t in trees)
        limit = _env_int("LAMBDAPACK_FAST_PATH_MAX_NODES", _DEFAULT_FAST_MAX_NODES, 0)
        if nodes > limit:
            _log("WARNING", f"fast path off: the trees have {nodes:,} nodes, over LAMBDAPACK_FAST_PATH_MAX_NODES "
                            f"({limit:,})")
            return None
        version = tuple(int(p) for p in re.findall(r"\d+", sklearn.__version__)[:2])
        return cls(trees, task, n_features, forest=kind[1], normalise=version < (1, 4))

    def _leaves(self, x: list) -> list:
        feature, threshold, left, right = self.feature, self.threshold, self.left, self.right
        leaves = []
        for node in self.roots:
            f = feature[node]
            while f >= 0:
                node = left[node] if x[f] <= threshold[node] else right[node]
                f = feature[node]
            leaves.append(node)
        return leaves

    def predict(self, rows: list) -> tuple:
        # scikit-learn's trees see float32 inputs; compare exactly the same numbers.
        rows32 = np.array(rows, dtype=np.float32).tolist()
        leaf = self.leaf
        if self.task == "regression":
            values = []
            for x in rows32:
                leaves = self._leaves(x)
                if not self.forest:
                    values.append(leaf[leaves[0]])
                    continue
                total = 0.0
                for node in leaves:
                    total += leaf[node]
                values.append(total / self.n_trees)
            return values, None
        indices, probas = [], []
        for x in rows32:
            per_tree = self.leaf_matrix[self._leaves(x)]
            # add.accumulate adds strictly tree after tree, as the forest does (np.sum would pair them)
            proba = np.add.accumulate(per_tree, axis=0)[-1] / self.n_trees if self.forest else per_tree[0]
            indices.append(int(np.argmax(proba)))
            probas.append(proba.tolist())
        return indices, probas

    def sample_rows(self) -> list:
        """Rows that sit on, just beside and between the trees' thresholds, plus random ones."""
        rng = np.random.default_rng(0)
        feature = np.array(self.feature)
        threshold = np.array(self.threshold)
        rows = np.zeros((_VERIFY_ROWS, self.n_features))
        for f in range(self.n_features):
            cuts = np.unique(threshold[feature == f])
            if cuts.size == 0:
                rows[:, f] = rng.normal(size=_VERIFY_ROWS)
                continue
            picked = rng.choice(cuts, size=_VERIFY_ROWS)
            as32 = picked.astype(np.float32)
            variants = np.stack([
                picked,
                np.nextafter(as32, np.float32(np.inf)).astype(np.float64),
                np.nextafter(as32, np.float32(-np.inf)).astype(np.float64),
                picked + rng.normal(scale=np.abs(picked) * 0.1 + 1e-3),
            ])
            rows[:, f] = variants[rng.integers(0, 4, size=_VERIFY_ROWS), np.arange(_VERIFY_ROWS)]
        return rows.tolist()

    def agrees_with(self, model: Model) -> bool:
        """Compare with the estimator on :meth:`sample_rows`: identical results or no fast path."""
        rows = self.sample_rows()
        try:
            expected = model.predict_with_estimator(rows)
        except Exception as exc:  # noqa: BLE001 -- the estimator itself failed: serve with it anyway, and say so
            _log("WARNING", f"the estimator failed on the init sample: {type(exc).__name__}: {exc}")
            return False
        return self.predict(rows) == expected


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


def _show(value: object, limit: int = 40) -> str:
    try:
        text = json.dumps(value, default=str) if not isinstance(value, str) else repr(value)
    except ValueError:  # an int too long to print
        text = f"a {type(value).__name__}"
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _clip(text: str, limit: int = 100) -> str:
    """Client-supplied names echoed back in ``field``, kept short."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _listing(names: list, limit: int = 8) -> str:
    if len(names) <= limit:
        return ", ".join(names)
    return ", ".join(names[:limit]) + f", … ({len(names)} in all)"


def _number(value: object, field: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        kind = "a boolean" if isinstance(value, bool) else f"a {type(value).__name__}"
        raise Reject(400, "invalid_value", f"{field} must be a number, got {kind}", field)
    if isinstance(value, str):
        text = value.strip()
        if not _NUMBER.fullmatch(text):
            raise Reject(400, "invalid_value", f"{field} must be a number, got {_show(value)}", field)
        value = text
    try:
        number = float(value)
    except OverflowError:
        number = math.inf
    if not math.isfinite(number) or abs(number) > FLOAT32_MAX:
        raise Reject(400, "invalid_value", f"{field} must be a finite number within ±3.4e38, got {_show(value)}",
                     field)
    return number


class Handler:
    """Routes events to the model and turns results and rejections into Lambda responses."""

    def __init__(self, model: Model) -> None:
        self.model = model
        self.max_batch = _env_int("LAMBDAPACK_MAX_BATCH", _DEFAULT_MAX_BATCH, 1)
        origins = os.environ.get("LAMBDAPACK_CORS_ORIGINS", "").strip()
        self.cors_origins = [o.strip() for o in origins.split(",") if o.strip()]
        self.expected = _listing(model.labels)

    # -- features ---------------------------------------------------------------------------

    def row_from_object(self, obj: dict, where: str) -> list:
        model = self.model
        row = [None] * len(model.feature_names)
        for key, value in obj.items():
            index = model.index.get(key)
            field = _clip(f"{where}{key}")
            if index is None:
                raise Reject(400, "unknown_feature",
                             f"unknown feature {_show(key)}; the model expects {self.expected}", field)
            if row[index] is not None:
                raise Reject(400, "duplicate_feature",
                             f"feature {model.labels[index]!r} is given twice (by name and by alias)", field)
            row[index] = _number(value, field)
        missing = [model.labels[i] for i, v in enumerate(row) if v is None]
        if missing:
            raise Reject(400, "missing_feature", f"missing feature {_listing(missing)}; the model expects "
                         f"{self.expected}", f"{where}{missing[0]}")
        return row

    def row_from_list(self, values: list, where: str) -> list:
        n = len(self.model.feature_names)
        if len(values) != n:
            raise Reject(400, "wrong_length", f"{where.rstrip('.') or 'the instance'} has {len(values)} values; "
                         f"the model expects {n} ({self.expected})", where.rstrip(".") or None)
        return [_number(v, f"{where}[{i}]") for i, v in enumerate(values)]

    def rows_from_payload(self, payload: object) -> tuple:
        """``(rows, is_batch)`` from a decoded JSON payload."""
        if isinstance(payload, dict):
            if "instances" in payload:
                extra = sorted(k for k in payload if k != "instances")
                if extra:
                    raise Reject(400, "unknown_field", f"unexpected field {_show(extra[0])} next to instances",
                                 _clip(extra[0]))
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
                raise Reject(400, "duplicate_feature", f"query parameter {_show(key)} is given {len(values)} times",
                             _clip(key))
            single[key] = values[0]
        return [self.row_from_object(single, "")]

    # -- results ----------------------------------------------------------------------------

    def results(self, rows: list) -> tuple:
        """``(predictions, probability dicts or None)`` as JSON values."""
        model = self.model
        outputs, probas = model.predict(rows)
        if model.task == "regression":
            return outputs, None
        predictions = [model.classes[i] for i in outputs]
        if probas is None:
            return predictions, None
        return predictions, [dict(zip(map(str, model.classes), p, strict=True)) for p in probas]

    # -- responses --------------------------------------------------------------------------

    def cors_headers(self, headers: dict) -> dict:
        if not self.cors_origins:
            return {}
        if "*" in self.cors_origins:
            return {"Access-Control-Allow-Origin": "*"}
        origin = headers.get("origin")
        if origin in self.cors_origins:
            return {"Access-Control-Allow-Origin": origin, "Vary": "Origin"}
        return {"Vary": "Origin"}

    @staticmethod
    def json_response(status: int, payload: object, headers: dict | None = None) -> dict:
        out = {"Content-Type": "application/json"}
        if headers:
            out.update(headers)
        return {"statusCode": status, "headers": out, "body": json.dumps(payload, allow_nan=False)}

    @staticmethod
    def rejection(reject: Reject, headers: dict) -> dict:
        payload = {"error": reject.error, "detail": reject.detail}
        if reject.field is not None:
            payload["field"] = reject.field
        merged = dict(headers)
        merged.update(reject.headers)
        return Handler.json_response(reject.status, payload, merged)

    # -- events -----------------------------------------------------------------------------

    def direct(self, event: object, log: dict) -> dict:
        log["source"] = "direct"
        rows, batch = self.rows_from_payload(event)
        log["rows"] = len(rows)
        predictions, probabilities = self.results(rows)
        if not batch:
            # the guide's contract, to the byte: {"statusCode": 200, "body": "virginica"}
            value = predictions[0]
            return {"statusCode": 200, "body": value if isinstance(value, str) else json.dumps(value)}
        payload = {"predictions": predictions}
        if probabilities is not None:
            payload["probabilities"] = probabilities
        return self.json_response(200, payload)

    def http(self, request: HttpRequest, log: dict) -> dict:
        log.update(source=request.source, method=request.method)
        cors = self.cors_headers(request.headers)
        try:
            route = request.route()
            log["route"] = route
            allowed = ("GET",) if route == "/health" else ("GET", "POST")
            if request.method == "OPTIONS" and self.cors_origins:
                preflight = dict(cors)
                preflight.update({"Access-Control-Allow-Methods": ", ".join((*allowed, "OPTIONS")),
                                  "Access-Control-Allow-Headers": "content-type",
                                  "Access-Control-Max-Age": "300"})
                return {"statusCode": 204, "headers": preflight, "body": ""}
            if request.method not in allowed:
                raise Reject(405, "method_not_allowed", f"{route} accepts {' and '.join(allowed)}, "
                             f"not {_show(request.method)}", headers={"Allow": ", ".join(allowed)})
            if route == "/health":
                return self.json_response(200, {"status": "ok", "model": self.model.metadata(),
                                                "max_batch": self.max_batch}, cors)
            body = request.text_body()
            if body is None:
                if not request.query:
                    raise Reject(400, "missing_input", "send the features as a JSON body or a query string, "
                                 f"e.g. ?{'&'.join(f'{k}=…' for k in self.model.labels[:4])}")
                rows, batch = self.rows_from_query(request.query), False
            else:
                rows, batch = self.rows_from_payload(request.parse(body))
            log["rows"] = len(rows)
            predictions, probabilities = self.results(rows)
            if batch:
                payload = {"predictions": predictions}
                if probabilities is not None:
                    payload["probabilities"] = probabilities
            else:
                payload = {"prediction": predictions[0]}
                if probabilities is not None:
                    payload["probabilities"] = probabilities[0]
            return self.json_response(200, payload, cors)
        except Reject as reject:
            log["error"] = reject.error
            return self.rejection(reject, cors)

    def __call__(self, event: object, context: object) -> dict:
        started = time.perf_counter()
        log = {"request_id": getattr(context, "aws_request_id", None), "source": None}
        try:
            request = HttpRequest.from_event(event)
            if request is not None:
                log["request_id"] = log["request_id"] or request.request_id
                response = self.http(request, log)
            else:
                try:
                    response = self.direct(event, log)
                except Reject as reject:
                    log["error"] = reject.error
                    response = self.rejection(reject, {})
        except Reject as reject:  # an HTTP-looking event too malformed to route
            log["error"] = reject.error
            response = self.rejection(reject, {})
        except Exception as exc:  # noqa: BLE001 -- a bug, not the client's fault: log it here, never send it
            log.update(error="internal_error", exception=f"{type(exc).__name__}: {exc}",
                       traceback=traceback.format_exc())
            response = self.json_response(500, {"error": "internal_error",
                                                "detail": f"the function failed; see its logs for request "
                                                          f"{log['request_id']}"})
        status = response["statusCode"]
        log["status"] = status
        log["outcome"] = "ok" if status < 400 else "client_error" if status < 500 else "server_error"
        log["latency_ms"] = round((time.perf_counter() - started) * 1000, 3)
        if log.get("rows"):
            log["fast_path"] = self.model.fast is not None and log["rows"] <= self.model.fast.max_rows
        _log("ERROR" if status >= 500 else "INFO", "request", **log)
        return response


def _lower_headers(raw: object) -> dict:
    if not isinstance(raw, dict):
        return {}
    return {k.lower(): v for k, v in raw.items() if isinstance(k, str) and isinstance(v, str)}


def _strip_stage(path: str, stage: object) -> str:
    if isinstance(stage, str) and stage and stage != "$default":
        prefix = "/" + stage
        if path == prefix or path.startswith(prefix + "/"):
            return path[len(prefix):] or "/"
    return path


class HttpRequest:
    """What an API Gateway (REST v1, HTTP API v2), function URL or ALB event asks for."""

    __slots__ = ("base64", "body", "headers", "method", "path", "query", "request_id", "source")

    def __init__(self, source: str, method: object, path: object, headers: dict, query: dict,
                 body: object, base64_encoded: object, request_id: object) -> None:
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

    @classmethod
    def from_event(cls, event: object) -> HttpRequest | None:
        if not isinstance(event, dict):
            return None
        context = event.get("requestContext")
        context = context if isinstance(context, dict) else {}
        if event.get("version") == "2.0" or "rawPath" in event or "routeKey" in event:
            http = context.get("http") if isinstance(context.get("http"), dict) else {}
            path = event.get("rawPath")
            if not isinstance(path, str):
                path = http.get("path")
            route_key = event.get("routeKey")
            if isinstance(route_key, str) and " " in route_key and "{" not in route_key:
                path = route_key.split(" ", 1)[1]  # the route matched, free of stage and base-path prefixes
            elif isinstance(path, str):
                path = _strip_stage(path, context.get("stage"))
            query = {}
            raw_query = event.get("rawQueryString")
            if isinstance(raw_query, str) and raw_query:
                query = parse_qs(raw_query, keep_blank_values=True)
            elif isinstance(event.get("queryStringParameters"), dict):
                query = {k: [v] for k, v in event["queryStringParameters"].items() if isinstance(v, str)}
            source = "function-url" if "lambda-url" in str(context.get("domainName", "")) else "http-api-v2"
            return cls(source, http.get("method"), path, _lower_headers(event.get("headers")), query,
                       event.get("body"), event.get("isBase64Encoded"), context.get("requestId"))
        if "httpMethod" in event:
            resource = event.get("resource")
            if isinstance(resource, str) and resource.startswith("/") and "{" not in resource:
                path = resource  # the resource matched, free of stage and custom-domain base paths
            else:
                path = event.get("path")
                if isinstance(path, str):
                    path = _strip_stage(path, context.get("stage"))
            query = {}
            multi = event.get("multiValueQueryStringParameters")
            single = event.get("queryStringParameters")
            if isinstance(multi, dict):
                query = {k: [v for v in vs if isinstance(v, str)] for k, vs in multi.items() if isinstance(vs, list)}
            elif isinstance(single, dict):
                query = {k: [v] for k, v in single.items() if isinstance(v, str)}
            headers = _lower_headers(event.get("headers"))
            if not headers and isinstance(event.get("multiValueHeaders"), dict):
                headers = _lower_headers({k: v[-1] for k, v in event["multiValueHeaders"].items()
                                          if isinstance(v, list) and v})
            source = "alb" if "elb" in context else "rest-api-v1"
            return cls(source, event.get("httpMethod"), path, headers, query, event.get("body"),
                       event.get("isBase64Encoded"), context.get("requestId"))
        return None

    def route(self) -> str:
        path = self.path.rstrip("/") or "/"
        if path in ("/", "/predict"):
            return "/predict"
        if path == "/health":
            return "/health"
        raise Reject(404, "not_found", f"no route {_show(self.path, 60)}; use POST /predict, GET /predict?… "
                     "or GET /health")

    def text_body(self) -> str | None:
        body = self.body
        if body is None:
            return None
        if not isinstance(body, str):
            raise Reject(400, "bad_body", "the event's body is not a string")
        if self.base64:
            try:
                body = base64.b64decode(body, validate=True).decode("utf-8")
            except (binascii.Error, ValueError):
                raise Reject(400, "bad_body", "the body is marked base64 but is not valid base64 UTF-8 text") from None
        return body if body.strip() else None

    def parse(self, body: str) -> object:
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


def _init() -> Handler:
    started = time.perf_counter()
    model = Model(_model_dir())
    handler = Handler(model)
    _log("INFO", "model loaded", task=model.task, estimator=type(model.estimator).__name__,
         sha256=(model.manifest.get("model") or {}).get("sha256"), fast_path=model.fast is not None,
         layer=(model.layer or {}).get("runtime"), init_ms=round((time.perf_counter() - started) * 1000, 1))
    return handler


np = None  # numpy, imported by Model once the layer has been checked
_HANDLER = _init()


def lambda_handler(event: object, context: object) -> dict:
    """The function's entry point (``lambda_function.lambda_handler``)."""
    return _HANDLER(event, context)
