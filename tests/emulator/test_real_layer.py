"""End to end with real scikit-learn layers from PyPI (slow): the issue's acceptance checks."""

from __future__ import annotations

import http.client
import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from lambdapack.targets import get_runtime

pytestmark = pytest.mark.slow

GUIDE_BODY = b'{"sl":6.9,"sw":3.1,"pl":5.1,"pw":2.3}'


@pytest.fixture
def need_python(require_python: Callable[[tuple[int, int]], Path]) -> Callable[[str], Path]:
    """``need_python(runtime)``: the runtime's CPython, required (see tests/conftest.py)."""
    return lambda runtime: require_python(get_runtime(runtime).python)


@pytest.fixture(scope="module")
def guide(real_layer: Callable[..., Path],
          tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], tuple[Path, Path]]:
    """``guide(runtime) -> (function.zip, layer.zip)``: the guide's model trained in the layer, packaged (once)."""
    from lambdapack.function.package import package_function
    from lambdapack.model.train import train

    built: dict[str, tuple[Path, Path]] = {}

    def make(runtime: str) -> tuple[Path, Path]:
        if runtime not in built:
            root = tmp_path_factory.mktemp(f"guide-{runtime}")
            layer = real_layer(runtime=runtime, arch="x86_64", compile=False)
            train(out=root / "model", layer=layer)
            package_function(root / "model", root / "function.zip", layer=layer)
            built[runtime] = (root / "function.zip", layer)
        return built[runtime]

    return make


@pytest.mark.parametrize("runtime", ["python3.12", "python3.11"])
def test_invoke_local_seed_prints_the_guides_answer(runtime: str, guide: Callable[[str], tuple[Path, Path]],
                                                    run_cli: Callable, need_python: Callable[[str], Path]) -> None:
    need_python(runtime)
    function_zip, layer = guide(runtime)
    result = run_cli("invoke", "--local", "--layer", str(layer), "--function", str(function_zip), "--event", "seed")
    assert result.exit_code == 0, result.stderr
    assert result.stdout == '{"statusCode": 200, "body": "virginica"}\n'
    assert f"{runtime} (Python {runtime[6:]}." in result.stderr
    assert "Init Duration" in result.stderr


def test_serve_answers_the_guides_curl(guide: Callable[[str], tuple[Path, Path]],
                                       need_python: Callable[[str], Path]) -> None:
    need_python("python3.12")
    from lambdapack.emulator.gateway import start_gateway
    from lambdapack.emulator.session import LocalFunctionSpec

    function_zip, layer = guide("python3.12")
    chunks: list[bytes] = []
    with start_gateway(LocalFunctionSpec(function_zip, (layer,)), port=0, log_sink=chunks.append) as (_, info):
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
        # docs/emulator.md's session: `curl -i -X POST localhost:3007/predict -d '{"sl":"big"}'`
        conn.request("POST", "/predict", body=b'{"sl":"big"}',
                     headers={"Content-Type": "application/x-www-form-urlencoded", "User-Agent": "curl/8.5.0"})
        response = conn.getresponse()
        assert (response.status, response.getheader("Content-Type")) == (400, "application/json")
        assert json.loads(response.read()) == {"error": "invalid_value", "detail": "sl must be a number, got 'big'",
                                               "field": "sl"}


def test_demo_end_to_end(real_layer: Callable[..., Path], tmp_path: Path, run_cli: Callable,
                         need_python: Callable[[str], Path]) -> None:
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
