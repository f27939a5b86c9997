"""Helpers shared by the function tests (imported by name: tests/function is on sys.path)."""

from __future__ import annotations

import json
from pathlib import Path

import joblib
from sklearn.model_selection import train_test_split

from lambdapack.archive import sha256_file
from lambdapack.model.datasets import load_bundled

EVENTS = Path(__file__).resolve().parents[2] / "examples" / "events"
SEED = {"sl": 6.9, "sw": 3.1, "pl": 5.1, "pw": 2.3}


def split_rows(dataset: str) -> tuple[list[list[float]], list[list[float]]]:
    """The train and test rows ``train`` uses for ``dataset`` (the guide's split)."""
    data = load_bundled(dataset)
    X_train, X_test = train_test_split(data.X, test_size=0.33, random_state=42)
    return X_train.tolist(), X_test.tolist()


def write_model_dir(out: Path, estimator: object, features: list[tuple[str, str | None]],
                    classes: list[str] | None, task: str) -> Path:
    """A model directory for an estimator fitted in the test, with a manifest per docs/formats.md."""
    import numpy
    import scipy
    import sklearn

    out.mkdir(parents=True, exist_ok=True)
    joblib.dump(estimator, out / "model.joblib")
    manifest = {
        "schema": "lambdapack.model/1",
        "task": task,
        "estimator": {"class": f"{type(estimator).__module__}.{type(estimator).__name__}", "params": {}},
        "dataset": None,
        "features": [{"name": n, "alias": a} for n, a in features],
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
