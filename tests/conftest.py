"""Fixtures shared by every test area. Area-specific fixtures live in tests/<area>/conftest.py."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

import pytest
from ci_skips import pytest_make_collect_report, pytest_runtest_makereport  # noqa: F401  (hooks: no skip under CI)
from click.testing import CliRunner

from lambdapack.cli.main import cli
from lambdapack.interpreters import find_python, install_hint
from lambdapack.targets import DEFAULT_RUNTIME, get_runtime

SHARED = Path(__file__).resolve().parents[2] / "shared"
EVENTS = Path(__file__).resolve().parents[1] / "examples" / "events"


@dataclass(frozen=True)
class CliResult:
    exit_code: int
    stdout: str
    stderr: str

    def json(self) -> object:
        return json.loads(self.stdout)


@pytest.fixture
def run_cli(monkeypatch: pytest.MonkeyPatch) -> Callable[..., CliResult]:
    """Run ``lambdapack ARGS`` in-process; stdout and stderr kept apart, exceptions not swallowed."""

    def run(*args: str, input: str | None = None, env: dict[str, str] | None = None) -> CliResult:
        runner = CliRunner()
        result = runner.invoke(cli, list(args), input=input, env=env, catch_exceptions=False)
        return CliResult(result.exit_code, result.stdout, result.stderr)

    return run


# The default runtime's Python: .ci/run provides it, and the tests that need it must run, never skip.
REQUIRED_PYTHONS = frozenset({get_runtime(DEFAULT_RUNTIME).python})


def require_python(version: tuple[int, int]) -> Path:
    """A CPython of ``version`` for a test that cannot run without one.

    Without it the test fails with the reason when the project requires that Python (the
    default runtime's) or when ``CI`` is set, so a green run never hides a test that did not
    run; on a developer's machine another missing minor version only skips.
    """
    found = find_python(version)
    if found is not None:
        return found
    wanted = "{}.{}".format(*version)
    reason = f"no CPython {wanted} here (PATH, pyenv, uv): {install_hint(version)}"
    if version in REQUIRED_PYTHONS:
        pytest.fail(f"{reason}; the tests require it (.ci/run provides it)", pytrace=False)
    cannot_run(reason)


def cannot_run(reason: str) -> NoReturn:
    """End a test that cannot run here: a failure with ``reason`` when ``CI`` is set (a green run
    never hides a test that did not run), a skip on a developer's machine."""
    if os.environ.get("CI"):
        pytest.fail(f"{reason}; with CI set a test that cannot run is a failure", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(name="cannot_run", scope="session")
def cannot_run_fixture() -> Callable[[str], NoReturn]:
    """:func:`cannot_run` for a test or fixture."""
    return cannot_run


@pytest.fixture(name="require_python")
def require_python_fixture() -> Callable[[tuple[int, int]], Path]:
    """:func:`require_python` for a test: ``python = require_python((3, 11))``."""
    return require_python


@pytest.fixture(scope="session")
def python312() -> Path:
    """The CPython 3.12 of the default runtime (required: its absence fails the test)."""
    return require_python((3, 12))


@pytest.fixture
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Run the test with the current directory set to a fresh temporary directory."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture(autouse=True)
def _no_real_aws(monkeypatch: pytest.MonkeyPatch) -> None:
    """No test may reach AWS: fake credentials, and no profile from the developer's machine."""
    for var in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", os.environ.get("LAMBDAPACK_TEST_KEY", "testing"))
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/dev/null")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")


@pytest.fixture(scope="session")
def iris_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A model directory (model.joblib + model.json) from the default ``train``: the guide's iris forest.

    Trained once per session on the host interpreter; treat it as read-only (copy it to change it).
    """
    from lambdapack.model.train import train

    out = tmp_path_factory.mktemp("iris-model") / "model"
    train(out=out)
    return out


@pytest.fixture(scope="session")
def layer_download_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The one lambdapack cache directory (wheels, resolver caches, finished layers) of the session."""
    return Path(os.environ.get("LAMBDAPACK_TEST_CACHE") or tmp_path_factory.mktemp("layer-cache"))


@pytest.fixture(scope="session")
def real_layer(tmp_path_factory: pytest.TempPathFactory, layer_download_cache: Path) -> Callable[..., Path]:
    """Factory: ``real_layer(runtime="python3.12", arch="x86_64", compile=False, **kw) -> Path``.

    Builds a real layer zip from PyPI with :func:`lambdapack.layer.build.build_layer` (extra
    ``kw`` are :class:`~lambdapack.layer.build.LayerOptions` fields, e.g.
    ``requirements=("scikit-learn", "joblib")``, ``check=True``). Each argument set is built once
    per session and every build shares one download cache. Treat the zip as read-only.
    """
    from lambdapack.layer.build import LayerOptions, build_layer

    cache = layer_download_cache
    built: dict[tuple, Path] = {}

    def build(runtime: str = "python3.12", arch: str = "x86_64", compile: bool = False, **kw: object) -> Path:
        key = (runtime, arch, compile, tuple(sorted((k, repr(v)) for k, v in kw.items())))
        if key not in built:
            kw.setdefault("check", False)
            out = tmp_path_factory.mktemp("real-layer") / f"layer-{runtime}-{arch}.zip"
            build_layer(LayerOptions(runtime=runtime, arch=arch, compile=compile, cache_dir=cache, out=out,
                                     **kw))  # type: ignore[arg-type]
            built[key] = out
        return built[key]

    return build
