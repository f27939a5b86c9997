"""`lambdapack serve` suggests a request built from the served model's own features."""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
import urllib.request
from pathlib import Path

from lambdapack.archive import ZipEntry, write_zip
from lambdapack.events import SEED_EVENT
from lambdapack.function.example import curl_command, example_features, example_request
from lambdapack.function.package import package_function
from lambdapack.model.datasets import load_bundled
from lambdapack.model.manifest import load_manifest
from lambdapack.model.train import train

ROOT = Path(__file__).resolve().parents[2]


def test_the_iris_model_is_offered_the_guides_request(iris_model: Path) -> None:
    features = example_features(load_manifest(iris_model))
    assert features == SEED_EVENT
    assert curl_command("http://127.0.0.1:3000", features) == \
        """curl -X POST http://127.0.0.1:3000/predict -d '{"sl":6.9,"sw":3.1,"pl":5.1,"pw":2.3}'"""


def test_a_function_without_a_model_manifest_is_offered_the_guides_event(tmp_path: Path) -> None:
    bare = tmp_path / "bare.zip"
    write_zip(bare, [ZipEntry("lambda_function.py", b"def lambda_handler(event, context):\n    return 1\n")])
    assert example_request(bare) == SEED_EVENT
    assert example_request(tmp_path / "missing.zip") == SEED_EVENT


def test_a_model_on_other_data_gets_a_value_for_each_of_its_features(tmp_path: Path) -> None:
    out = tmp_path / "wine"
    train(dataset="wine", estimator="decision_tree", out=out)
    manifest = load_manifest(out)
    features = example_features(manifest)
    assert list(features) == [f.alias or f.name for f in manifest.features]
    wine = load_bundled("wine")
    for column, value in enumerate(features.values()):
        observed = [row[column] for row in wine.X]
        assert min(observed) <= value <= max(observed)  # a value the training data holds in its range
    assert "sl" not in features


def _serve_until_ready(function_zip: Path) -> tuple[subprocess.Popen[str], str]:
    """Start `lambdapack serve --no-layer` and return it with its `try: curl …` line."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "lambdapack", "serve", "--port", "0", "--no-layer", "--function", str(function_zip)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
    assert proc.stderr is not None
    seen = []
    for line in proc.stderr:
        seen.append(line)
        if line.startswith("try: "):
            return proc, line.removeprefix("try: ").strip()
    proc.wait(timeout=30)
    raise AssertionError("serve stopped before it was ready:\n" + "".join(seen))


def test_serve_suggests_a_diabetes_request_that_the_function_answers(tmp_path: Path, python312: Path) -> None:
    model = tmp_path / "model"
    train(dataset="diabetes", estimator="decision_tree_regressor", out=model)
    report = package_function(model, tmp_path / "function.zip", python=python312)
    assert report.function.needs_layer is False  # the stdlib predictor serves it: no layer to build here
    proc, command = _serve_until_ready(report.path)
    try:
        words = shlex.split(command)
        assert words[:3] == ["curl", "-X", "POST"] and words[3].endswith("/predict") and words[4] == "-d"
        body = json.loads(words[5])
        assert list(body) == ["age", "sex", "bmi", "bp", "s1", "s2", "s3", "s4", "s5", "s6"]
        request = urllib.request.Request(words[3], data=words[5].encode(), method="POST")
        with urllib.request.urlopen(request, timeout=60) as response:
            status, answer = response.status, json.loads(response.read())
        assert status == 200
        assert isinstance(answer["prediction"], float)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
