"""Finding the runtime's CPython (PATH, pyenv, uv's managed Pythons), and the CLI on every host Python 3.10-3.13.

Host interpreters are found the way lambdapack finds them; with ``CI`` set, a missing one
fails the test with the reason instead of skipping it.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from lambdapack import interpreters
from lambdapack.archive import ZipEntry, write_zip
from lambdapack.errors import InterpreterError

ROOT = Path(__file__).resolve().parents[1]
HOST_VERSIONS = [(3, 10), (3, 11), (3, 12), (3, 13)]
# Declared dependencies that --help and check-layer never import, left out to keep four venvs cheap;
# every other declared dependency is installed, so an import the project does not declare fails here.
NOT_ON_THE_CLI_PATH = {"scikit-learn", "joblib", "boto3", "awslambdaric", "pip", "wheel", "installer"}


def _declared_dependencies() -> list[str]:
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib
    from packaging.requirements import Requirement

    declared = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["dependencies"]
    return [d for d in declared if Requirement(d).name not in NOT_ON_THE_CLI_PATH]


def _hide_interpreters(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No interpreter on PATH, in pyenv or among uv's managed Pythons (an empty install dir)."""
    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    monkeypatch.setenv("PYENV_ROOT", str(empty))
    monkeypatch.setenv("UV_PYTHON_INSTALL_DIR", str(empty))
    monkeypatch.delenv("VIRTUAL_ENV", raising=False)
    return empty


@pytest.fixture
def nowhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    return _hide_interpreters(tmp_path, monkeypatch)


def test_uv_managed_pythons_are_found(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, python312: Path) -> None:
    real = python312.resolve()
    _hide_interpreters(tmp_path, monkeypatch)
    assert interpreters.find_python((3, 12)) is None
    # the layout `uv python install 3.12` leaves, pointing at a real CPython 3.12
    managed = tmp_path / "uv-python"
    bin_dir = managed / "cpython-3.12.1-linux-x86_64-gnu" / "bin"
    bin_dir.mkdir(parents=True)
    (bin_dir / "python3.12").symlink_to(real)
    (bin_dir / "python3").symlink_to("python3.12")
    monkeypatch.setenv("UV_PYTHON_INSTALL_DIR", str(managed))
    found = interpreters.find_python((3, 12))
    assert found == bin_dir / "python3.12"
    assert interpreters.interpreter_version(str(found))[0][:2] == (3, 12)  # type: ignore[index]
    assert interpreters.find_python((3, 11)) is None  # an exact minor version, never "some Python"


def test_no_interpreter_says_how_to_install_one(nowhere: Path) -> None:
    with pytest.raises(InterpreterError, match=r"looked on PATH, in pyenv and in uv's managed Pythons") as info:
        interpreters.require_python((3, 12))
    assert "`uv python install 3.12`" in info.value.hint and "pyenv install 3.12" in info.value.hint


def test_check_layer_says_how_to_get_the_interpreter_it_skipped(nowhere: Path, tmp_path: Path) -> None:
    from lambdapack.layer.check import check_layer_zip

    layer = tmp_path / "layer.zip"
    write_zip(layer, [ZipEntry("python/lib/python3.12/site-packages/m.py", b"")])
    report = check_layer_zip(layer, runtime="python3.12")
    imp = next(c for c in report.checks if c.name == "import")
    assert imp.status == "skip" and "uv python install 3.12" in imp.detail


@pytest.fixture(scope="module")
def tiny_layer(tmp_path_factory: pytest.TempPathFactory) -> Path:
    layer = tmp_path_factory.mktemp("layer") / "layer.zip"
    write_zip(layer, [ZipEntry("python/lib/python3.12/site-packages/tinymod.py", b"X = 1\n")])
    return layer


@pytest.mark.slow
@pytest.mark.parametrize("version", HOST_VERSIONS, ids=[f"{v[0]}.{v[1]}" for v in HOST_VERSIONS])
def test_the_cli_runs_under_every_host_python(version: tuple[int, int], tmp_path: Path, tiny_layer: Path,
                                              require_python: Callable[[tuple[int, int]], Path]) -> None:
    """lambdapack's own code (PYTHONPATH=the repository) in a fresh venv of that Python with the CLI's dependencies."""
    python = require_python(version)
    from lambdapack.wheels.fetch import uv_binary

    uv = uv_binary()
    venv = tmp_path / "venv"
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}
    subprocess.run([uv, "venv", "--quiet", "--python", str(python), str(venv)], check=True, env=env, timeout=300)
    installed = subprocess.run([uv, "pip", "install", "--quiet", "--python", str(venv / "bin" / "python"),
                                *_declared_dependencies()], capture_output=True, text=True, env=env, timeout=600)
    assert installed.returncode == 0, installed.stderr
    run_env = {**env, "PYTHONPATH": str(ROOT)}
    venv_python = str(venv / "bin" / "python")
    shown = subprocess.run([venv_python, "-m", "lambdapack", "--help"], capture_output=True, text=True,
                           env=run_env, cwd=tmp_path, timeout=120)
    assert shown.returncode == 0, shown.stderr
    assert "check-layer" in shown.stdout and "deploy" in shown.stdout
    checked = subprocess.run([venv_python, "-m", "lambdapack", "check-layer", str(tiny_layer), "--json"],
                             capture_output=True, text=True, env=run_env, cwd=tmp_path, timeout=300)
    assert checked.returncode == 0, checked.stderr
    doc = json.loads(checked.stdout)
    assert doc["ok"] is True and doc["runtime"] == "python3.12"
    ran = subprocess.run([venv_python, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
                         capture_output=True, text=True, env=run_env, timeout=60)
    assert ran.stdout.strip() == f"{version[0]}.{version[1]}"
