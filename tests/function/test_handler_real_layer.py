"""The packaged handler under the runtime's own Python with a real layer on Lambda's paths (slow)."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from function_support import EVENTS

from lambdapack.archive import safe_extract
from lambdapack.function.package import package_function
from lambdapack.interpreters import find_python
from lambdapack.model.train import train

pytestmark = pytest.mark.slow

# What Lambda puts on sys.path: the task root, then /opt/python and its site-packages.
RUNNER = r"""
import json, sys
task, opt, events = sys.argv[1:4]
sys.path[:0] = [task, opt + "/python", opt + "/python/lib/python3.12/site-packages"]
try:
    import lambda_function
except Exception as exc:
    print(json.dumps({"init_error": type(exc).__name__, "message": str(exc),
                      "numpy_imported": "numpy" in sys.modules}))
    raise SystemExit(0)
out = {name: lambda_function.lambda_handler(event, None) for name, event in json.loads(events).items()}
print(json.dumps({"responses": out}))
"""


def _run(python: Path, function_zip: Path, layer_root: Path, tmp: Path) -> dict:
    task = tmp / "task"
    safe_extract(function_zip, task)
    events = {p.stem: json.loads(p.read_text()) for p in EVENTS.glob("*.json")}
    events["health"] = {"version": "2.0", "rawPath": "/health", "requestContext": {"http": {"method": "GET"}}}
    proc = subprocess.run([str(python), "-I", "-c", RUNNER, str(task), str(layer_root), json.dumps(events)],
                          capture_output=True, text=True, timeout=600, check=True)
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def layer312(real_layer: Callable[..., Path], tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    python = find_python((3, 12))
    assert python is not None, "a CPython 3.12 is needed to run a python3.12 layer (pyenv install 3.12)"
    layer = real_layer(runtime="python3.12", arch="x86_64", compile=False)
    root = tmp_path_factory.mktemp("opt")
    safe_extract(layer, root)
    return Path(str(python)), layer, root


def test_model_trained_in_the_layer_serves_every_sample(layer312: tuple[Path, Path, Path], tmp_path: Path) -> None:
    python, layer, root = layer312
    model = tmp_path / "model"
    train(out=model, layer=layer)
    package_function(model, tmp_path / "function.zip", layer=layer)
    result = _run(python, tmp_path / "function.zip", root, tmp_path)
    responses = result["responses"]
    assert responses.pop("seed-direct") == {"statusCode": 200, "body": "virginica"}
    health = json.loads(responses.pop("health")["body"])
    assert health["model"]["layer"]["runtime"] == "python3.12"
    assert health["model"]["serving"] == "predictor"
    assert health["model"]["python"].startswith("3.12.")
    for name, response in responses.items():
        assert response["statusCode"] == 200, name
        assert json.loads(response["body"])["prediction"] == "virginica", name


def test_host_model_in_a_layer_with_other_versions_fails_init_before_numpy(
        layer312: tuple[Path, Path, Path], iris_model: Path, tmp_path: Path) -> None:
    """A model made by other library versions than the layer carries. The host's own model is one
    whenever the host's releases differ from the layer's; so that the refusal is always exercised, its
    manifest here names a scikit-learn no python3.12 layer can carry (the pickle itself is never read:
    the refusal comes first)."""
    python, _, root = layer312
    model = tmp_path / "model"
    shutil.copytree(iris_model, model)
    manifest = json.loads((model / "model.json").read_text())
    manifest["versions"]["scikit-learn"] = "1.0.2"  # wheels for CPython <= 3.10 only
    (model / "model.json").write_text(json.dumps(manifest))
    record = json.loads((root / "lambdapack-layer.json").read_text())
    assert {p["name"]: p["version"] for p in record["packages"]}["scikit-learn"] != "1.0.2"
    package_function(model, tmp_path / "function.zip")  # without --layer: nothing stops it here
    result = _run(python, tmp_path / "function.zip", root, tmp_path)
    assert result["init_error"] == "ModelInitError"
    assert "lambdapack build-layer --model" in result["message"]
    assert result["numpy_imported"] is False


def test_a_model_from_another_scikit_learn_is_proven_in_the_layers_python(
        real_layer: Callable[..., Path], tmp_path: Path) -> None:
    """python3.11 layers carry scikit-learn 1.7.x, not the host's: the proof runs in the layer itself."""
    python = find_python((3, 11))
    assert python is not None, "a CPython 3.11 is needed to run a python3.11 layer"
    layer = real_layer(runtime="python3.11", arch="x86_64", compile=False)
    model = tmp_path / "model"
    train(out=model, layer=layer)
    without = package_function(model, tmp_path / "plain.zip")
    assert without.function.serving == "joblib"
    assert "give --layer to prove the predictor" in without.function.reason
    report = package_function(model, tmp_path / "function.zip", layer=layer)
    trained_with = json.loads((model / "model.json").read_text())["versions"]["scikit-learn"]
    assert report.function.serving == "predictor" and not report.function.needs_layer
    assert report.predictor.proven_with == f"the layer's Python 3.11, scikit-learn {trained_with}"
    assert report.predictor.verification["sklearn"] == trained_with
    assert report.function.runtime == "python3.11" and report.pycs.files[0].endswith(".cpython-311.pyc")
    task = tmp_path / "task"
    safe_extract(tmp_path / "function.zip", task)
    script = ("import json, sys; sys.path[:] = [sys.argv[1]] + [p for p in sys.path if 'site-packages' not in p]; "
              "import lambda_function as f; print(json.dumps(f.lambda_handler(json.loads(sys.argv[2]), None)))")
    done = subprocess.run([str(python), "-I", "-S", "-c", script, str(task),
                           json.dumps({"sl": 6.9, "sw": 3.1, "pl": 5.1, "pw": 2.3})],
                          capture_output=True, text=True, check=True)
    assert json.loads(done.stdout.strip().splitlines()[-1]) == {"statusCode": 200, "body": "virginica"}
