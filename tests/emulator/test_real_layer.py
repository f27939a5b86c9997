"""End to end with real scikit-learn layers from PyPI (slow): the issue's acceptance checks."""

from __future__ import annotations

import http.client
import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from lambdapack.interpreters import find_python
from lambdapack.targets import get_runtime

pytestmark = pytest.mark.slow

GUIDE_BODY = b'{"sl":6.9,"sw":3.1,"pl":5.1,"pw":2.3}'


def need_python(runtime: str) -> None:
    if find_python(get_runtime(runtime).python) is None:
        pytest.skip(f"no interpreter for {runtime} on this machine")


def guide_function(real_layer: Callable[..., Path], runtime: str, root: Path) -> tuple[Path, Path]:
    """(function.zip, layer.zip): the guide's model trained inside ``runtime``'s layer, packaged."""
    from lambdapack.function.package import package_function
    from lambdapack.model.train import train

    layer = real_layer(runtime=runtime, arch="x86_64", compile=False)
    model = root / "model"
    train(out=model, layer=layer)
    function_zip = root / "function.zip"
    package_function(model, function_zip, layer=layer)
    return function_zip, layer


@pytest.mark.parametrize("runtime", ["python3.12", "python3.11"])
def test_invoke_local_seed_prints_the_guides_answer(runtime: str, real_layer: Callable[..., Path], tmp_path: Path,
                                                    run_cli: Callable) -> None:
    need_python(runtime)
    function_zip, layer = guide_function(real_layer, runtime, tmp_path)
    result = run_cli("invoke", "--local", "--layer", str(layer), "--function", str(function_zip), "--event", "seed")
    assert result.exit_code == 0, result.stderr
    assert result.stdout == '{"statusCode": 200, "body": "virginica"}\n'
    assert f"{runtime} (Python {runtime[6:]}." in result.stderr
    assert "Init Duration" in result.stderr


def test_serve_answers_the_guides_curl(real_layer: Callable[..., Path], tmp_path: Path) -> None:
    need_python("python3.12")
    from lambdapack.emulator.gateway import start_gateway
    from lambdapack.emulator.session import FunctionSpec

    function_zip, layer = guide_function(real_layer, "python3.12", tmp_path)
    chunks: list[bytes] = []
    with start_gateway(FunctionSpec(function_zip, (layer,)), port=0, log_sink=chunks.append) as (_, info):
        host, port = info.url.removeprefix("http://").split(":")
        conn = http.client.HTTPConnection(host, int(port), timeout=120)
        # exactly what `curl -X POST localhost:3000/predict -d '...'` sends
        conn.request("POST", "/predict", body=GUIDE_BODY,
                     headers={"Content-Type": "application/x-www-form-urlencoded", "User-Agent": "curl/8.5.0"})
        response = conn.getresponse()
        body = json.loads(response.read())
        assert response.status == 200
        assert body["prediction"] == "virginica"
        conn.request("GET", "/predict?sl=5.1&sw=3.5&pl=1.4&pw=0.2")
        response = conn.getresponse()
        assert json.loads(response.read())["prediction"] == "setosa"


def test_demo_end_to_end(real_layer: Callable[..., Path], tmp_path: Path, run_cli: Callable) -> None:
    need_python("python3.12")
    # the demo reuses a matching layer in dist/: hand it the session's layer instead of building another
    dist = tmp_path / "dist"
    dist.mkdir()
    shutil.copy(real_layer(runtime="python3.12", arch="x86_64", compile=False), dist / "layer-python3.12-x86_64.zip")
    result = run_cli("demo", "--dir", str(tmp_path), "--json")
    assert result.exit_code == 0, result.stderr
    report = result.json()
    assert report["runtime"] == "python3.12"
    assert report["response"] == {"statusCode": 200, "body": "virginica"}
    assert report["http_status"] == 200 and report["http_body"]["prediction"] == "virginica"
    assert report["layer"]["reused"] is True and report["model"]["reused"] is False
    assert report["model"]["accuracy"] > 0.9
    assert report["cold_ms"] > report["warm_ms"] > 0
    assert (tmp_path / "dist" / "function.zip").is_file() and (tmp_path / "build" / "model" / "model.json").is_file()
    again = run_cli("demo", "--dir", str(tmp_path))
    assert again.exit_code == 0, again.stderr
    assert "reusing the model" in again.stderr and '"body": "virginica"' in again.stderr
