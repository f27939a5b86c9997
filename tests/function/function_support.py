"""Helpers shared by the function tests (imported by name: tests/function is on sys.path)."""

from __future__ import annotations

import importlib.util
import json
import shutil
import sys
from pathlib import Path
from types import ModuleType

import joblib
from sklearn.model_selection import train_test_split

from lambdapack.archive import sha256_file
from lambdapack.errors import LambdapackError
from lambdapack.function.package import function_manifest_for, typed_manifest
from lambdapack.model.datasets import load_bundled
from lambdapack.model.manifest import Manifest, load_manifest, verify_model_file
from lambdapack.predictor.build import PREDICTOR_FILE, PredictorBuild, build_predictor
from lambdapack.predictor.files import RUNTIME
from lambdapack.predictor.inputs import describe_here
from lambdapack.template_files import template_path

EVENTS = Path(__file__).resolve().parents[2] / "examples" / "events"
SEED = {"sl": 6.9, "sw": 3.1, "pl": 5.1, "pw": 2.3}


def split_rows(dataset: str) -> tuple[list[list[float]], list[list[float]]]:
    """The train and test rows ``train`` uses for ``dataset`` (the guide's split)."""
    data = load_bundled(dataset)
    X_train, X_test = train_test_split(data.X, test_size=0.33, random_state=42)
    return X_train.tolist(), X_test.tolist()


def write_model_dir(out: Path, estimator: object, features: list[tuple[str, str | None]],
                    classes: list[str] | None, task: str, typed: bool = True) -> Path:
    """A model directory for an estimator fitted in the test, with a manifest per docs/formats.md.

    ``typed``: the inputs typed as the model itself describes them (``lambdapack.model/2``, what
    ``model import`` writes); else an untyped ``lambdapack.model/1`` manifest, as older versions wrote.
    """
    import numpy
    import scipy
    import sklearn

    out.mkdir(parents=True, exist_ok=True)
    joblib.dump(estimator, out / "model.joblib")
    names, aliases = [n for n, _ in features], [a for _, a in features]
    described = describe_here(estimator, names, aliases) if typed else {"features": [
        {"name": n, "alias": a} for n, a in features], "input_frame": None}
    manifest = {
        "schema": "lambdapack.model/2" if typed else "lambdapack.model/1",
        "task": task,
        "estimator": {"class": f"{type(estimator).__module__}.{type(estimator).__name__}", "params": {}},
        "dataset": None,
        "features": described["features"],
        "input_frame": described["input_frame"],
        "classes": classes,
        "metrics": {},
        "versions": {"python": "3.11", "scikit-learn": sklearn.__version__, "numpy": numpy.__version__,
                     "scipy": scipy.__version__, "joblib": joblib.__version__},
        "model": {"file": "model.joblib", "bytes": (out / "model.joblib").stat().st_size,
                  "sha256": sha256_file(out / "model.joblib")},
    }
    (out / "model.json").write_text(json.dumps(manifest, indent=2), encoding="utf-8")
    return out


def event(name: str) -> dict:
    return json.loads((EVENTS / f"{name}.json").read_text())


def body_of(response: dict) -> object:
    return json.loads(response["body"])


_BUILDS: dict[tuple[str, str], PredictorBuild] = {}


def predictor_build(model_dir: Path, manifest: Manifest | None = None,
                    model_path: Path | None = None) -> PredictorBuild:
    """``build_predictor`` for a model directory, once per model file: what ``load_handler`` serves."""
    manifest = manifest or load_manifest(model_dir)
    key = (str(model_dir), manifest.model.sha256)
    if key not in _BUILDS:
        _BUILDS[key] = build_predictor(model_path or verify_model_file(model_dir, manifest), manifest)
    return _BUILDS[key]


def function_files(model_dir: Path) -> dict[str, bytes]:
    """``function.json`` and ``model.predictor`` as ``package`` writes them, for a model that verifies.

    A model directory a test has tampered with gets neither: the handler then serves by joblib
    and meets the tampering at init, as a function packaged before the predictor existed would.
    """
    try:
        manifest = load_manifest(model_dir)
        model_path = verify_model_file(model_dir, manifest)
    except LambdapackError:
        return {}
    build = predictor_build(model_dir, manifest, model_path)
    files = {"function.json": function_manifest_for(build, None).to_bytes()}
    typed, upgraded = typed_manifest(manifest, (model_dir / "model.json").read_bytes(), build)
    if upgraded:  # package gives an untyped manifest the input types it read off the model
        files["model.json"] = typed
    if build.data is not None:
        files[PREDICTOR_FILE] = build.data
    return files


def lay_out_task(model_dir: Path, task: Path, predictor: bool = True) -> Path:
    """A task directory as ``package`` lays it out: handler, its modules, the model and its predictor."""
    task.mkdir(parents=True, exist_ok=True)
    shutil.copy(template_path("lambda_function.py"), task / "lambda_function.py")
    shutil.copytree(template_path(RUNTIME), task / RUNTIME, ignore=shutil.ignore_patterns("__pycache__"))
    for item in Path(model_dir).iterdir():
        if item.is_file():
            shutil.copy(item, task / item.name)
    if predictor and not (task / "function.json").exists():
        for name, data in function_files(Path(model_dir)).items():
            (task / name).write_bytes(data)
    return task


def import_handler(task: Path, name: str) -> ModuleType:
    """Import ``task/lambda_function.py`` as ``name``, with fresh copies of the task's own modules."""
    forget_handler_modules()
    sys.path.insert(0, str(task))
    spec = importlib.util.spec_from_file_location(name, task / "lambda_function.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise
    finally:
        # the modules are imported now; a path left behind would serve the next task this one's files
        if str(task) in sys.path:
            sys.path.remove(str(task))
    return module


def forget_handler_modules() -> None:
    for module_name in [m for m in sys.modules if m == RUNTIME or m.startswith(RUNTIME + ".")]:
        sys.modules.pop(module_name, None)
