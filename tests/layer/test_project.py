"""build-layer --project: real projects created in tmp dirs, locked with real uv against PyPI."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest
from packaging.markers import Marker

from lambdapack.interpreters import find_python
from lambdapack.wheels.tools import uv_binary

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

pytestmark = pytest.mark.slow
SITE = "python/lib/python3.12/site-packages/"


def make_project(directory: Path, dependencies: list[str], *, extra_toml: str = "", lock: bool = True,
                 requires_python: str = ">=3.11") -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    deps = ", ".join(f'"{d}"' for d in dependencies)
    (directory / "pyproject.toml").write_text(
        f'[project]\nname = "iris-service"\nversion = "0.1.0"\nrequires-python = "{requires_python}"\n'
        f"dependencies = [{deps}]\n{extra_toml}")
    if lock:
        python = find_python((3, 12)) or find_python((3, 11))
        assert python is not None, "uv lock needs a CPython 3.11+ to lock with"
        done = subprocess.run([uv_binary(), "lock", "--no-python-downloads", "--python", str(python)],
                              cwd=directory, capture_output=True, text=True, check=False)
        assert done.returncode == 0, done.stderr
    return directory


def uv_lock_versions(project: Path, python: str = "3.12") -> dict[str, str]:
    """Each package's version in uv.lock, for the fork (``resolution-markers``) that ``python`` falls in."""
    doc = tomllib.loads((project / "uv.lock").read_text())
    env = {"python_version": python, "python_full_version": f"{python}.0", "sys_platform": "linux",
           "platform_machine": "x86_64", "platform_system": "Linux", "implementation_name": "cpython"}
    return {p["name"]: p["version"] for p in doc["package"] if p["name"] != "iris-service"
            and any(Marker(m).evaluate(env) for m in p.get("resolution-markers") or ["python_version >= '3'"])}


def _link_or_copy(src: str, dst: str) -> None:
    try:
        os.link(src, dst)
    except OSError:  # another file system
        shutil.copy2(src, dst)


@pytest.fixture
def build(run_cli: Callable, tmp_path: Path, layer_download_cache: Path,
          monkeypatch: pytest.MonkeyPatch) -> Callable[..., object]:
    """build-layer with this test's own cache: the session's wheels (hard links, no download), but
    none of its stored resolutions or finished layers, so every test sees a first build."""
    monkeypatch.chdir(tmp_path)
    cache = tmp_path / "cache"
    if (layer_download_cache / "wheels").is_dir():
        shutil.copytree(layer_download_cache / "wheels", cache / "wheels", copy_function=_link_or_copy)

    def run(*args: str) -> object:
        return run_cli("build-layer", "--cache-dir", str(cache), *args)

    return run


def _refused(result: object, *needles: str, out: str | None = None) -> str:
    """One error and one hint naming ``needles``, exit 1, and no zip (``out``, else anything in dist/)."""
    assert result.exit_code == 1, result.stderr  # type: ignore[attr-defined]
    lines = [line for line in result.stderr.splitlines() if line.startswith(("error:", "hint:"))]  # type: ignore
    assert [line.split(":", 1)[0] for line in lines] == ["error", "hint"], result.stderr  # type: ignore
    text = " ".join(lines)
    for needle in needles:
        assert needle in text, text
    if out is not None:
        assert not Path(out).exists()
    else:
        assert not Path("dist").exists() or not any(Path("dist").iterdir())
    return text


def test_a_uv_project_gives_exactly_its_locked_versions(tmp_path: Path, build: Callable) -> None:
    project = make_project(tmp_path / "svc", ["scikit-learn==1.7.2", "joblib"])
    result = build("--project", str(project), "--json")
    assert result.exit_code == 0, result.stderr
    doc = result.json()
    versions = {p["name"]: p["version"] for p in doc["packages"]}
    assert versions["scikit-learn"] == "1.7.2" and doc["resolution"] == "uv.lock"
    assert versions == {name: v for name, v in uv_lock_versions(project).items() if name in versions}
    assert set(versions) >= {"scikit-learn", "numpy", "scipy", "joblib", "threadpoolctl"}
    assert doc["check"]["ok"] and doc["runtime"] == "python3.12"
    record = zipfile.ZipFile(doc["path"]).read("lambdapack-layer.json")
    assert b'"version": "1.7.2"' in record
    again = build("--project", str(project), "--json")  # unchanged lock: stored pins, cached layer
    assert again.json()["resolution"] == "stored" and again.json()["sha256"] == doc["sha256"]

    # the same lock for python3.11 (glibc 2.26): numpy's locked release has no wheel there
    refused = build("--project", str(project), "--runtime", "python3.11", "-o", "py311.zip")
    text = _refused(refused, f"numpy=={uv_lock_versions(project, '3.11')['numpy']}", "uv.lock",
                    "newest version that loads there is numpy 2.2.6", out="py311.zip")
    assert "python3.11-x86_64" in text


def test_groups_extras_and_markers_are_evaluated_for_the_lambda_target(tmp_path: Path, build: Callable) -> None:
    project = make_project(tmp_path / "svc", ["six", "idna; platform_machine == 'aarch64'",
                                              "colorama; sys_platform == 'win32'"], extra_toml=(
        '\n[project.optional-dependencies]\nfast = ["packaging"]\n'
        '\n[dependency-groups]\ndev = ["pytest"]\ntools = ["attrs"]\n'))
    x86 = build("--project", str(project), "--no-compile", "--no-check", "--json")
    assert x86.exit_code == 0, x86.stderr
    assert {p["name"] for p in x86.json()["packages"]} == {"six"}  # no dev group, no aarch64-only idna
    arm = build("--project", str(project), "--arch", "arm64", "--extra", "fast", "--group", "tools", "--no-compile",
                "--no-check", "--json")
    assert arm.exit_code == 0, arm.stderr
    assert {p["name"] for p in arm.json()["packages"]} == {"six", "idna", "packaging", "attrs"}
    _refused(build("--project", str(project), "--group", "nope", "-o", "nope.zip"), "nope", out="nope.zip")


def test_pylock_toml_from_uv_export(tmp_path: Path, build: Callable) -> None:
    source = make_project(tmp_path / "svc", ["six", "idna"])
    exported = tmp_path / "exported"
    exported.mkdir()
    subprocess.run([uv_binary(), "export", "--frozen", "--no-emit-project", "--no-dev", "--format", "pylock.toml",
                    "-o", str(exported / "pylock.toml")], cwd=source, check=True, capture_output=True)
    result = build("--project", str(exported), "--no-compile", "--no-check", "--json")
    assert result.exit_code == 0, result.stderr
    doc = result.json()
    assert doc["resolution"] == "pylock.toml"
    assert {p["name"]: p["version"] for p in doc["packages"]} == uv_lock_versions(source)


def _compiled(tmp_path: Path, *requirements: str) -> dict[str, dict]:
    """Real file names and hashes for a hand-written lock: what uv pip compile says PyPI serves."""
    work = tmp_path / "compile"
    work.mkdir(exist_ok=True)
    (work / "in.txt").write_text("\n".join(requirements) + "\n")
    subprocess.run([uv_binary(), "pip", "compile", "--format", "pylock.toml", "--no-header", "--python-platform",
                    "x86_64-manylinux_2_34", "--python-version", "3.12", "--only-binary", ":all:", "-o",
                    str(work / "pylock.toml"), str(work / "in.txt")], check=True, capture_output=True)
    doc = tomllib.loads((work / "pylock.toml").read_text())
    return {p["name"]: p for p in doc["packages"]}


def _poetry_lock(packages: dict[str, dict], dependencies: dict[str, str], lock_version: str = "2.1") -> str:
    blocks = []
    for name, entry in sorted(packages.items()):
        wheel = entry["wheels"][0]
        filename = wheel["url"].rsplit("/", 1)[1]
        deps = "".join(f'{d} = {spec}\n' for d, spec in dependencies.items() if d != name and name == "six")
        blocks.append(f'[[package]]\nname = "{name}"\nversion = "{entry["version"]}"\ndescription = ""\n'
                      f'optional = false\npython-versions = ">=3.8"\ngroups = ["main"]\nfiles = [\n'
                      f'    {{file = "{filename}", hash = "sha256:{wheel["hashes"]["sha256"]}"}},\n]\n'
                      + (f"\n[package.dependencies]\n{deps}" if deps else ""))
    return "\n".join(blocks) + (f'\n[metadata]\nlock-version = "{lock_version}"\npython-versions = ">=3.11"\n'
                                'content-hash = "0"\n')


def test_poetry_lock_follows_the_graph_with_the_targets_markers(tmp_path: Path, build: Callable) -> None:
    real = _compiled(tmp_path, "six==1.17.0", "idna==3.10", "attrs")
    project = make_project(tmp_path / "svc", [], lock=False, extra_toml=(
        '\n[tool.poetry.dependencies]\npython = ">=3.11"\nsix = "1.17.0"\n'
        'attrs = {version = "*", markers = "sys_platform == \'win32\'"}\n'))
    # six "depends" on idna on Linux only: the edge's marker decides, for the target
    (project / "poetry.lock").write_text(_poetry_lock(real, {"idna": '{version = "3.10", markers = '
                                                                    '"sys_platform == \\"linux\\""}'}))
    result = build("--project", str(project), "--no-compile", "--no-check", "--json")
    assert result.exit_code == 0, result.stderr
    doc = result.json()
    assert doc["resolution"] == "poetry.lock"
    assert {p["name"]: p["version"] for p in doc["packages"]} == {"six": "1.17.0", "idna": "3.10"}
    assert {p["name"]: p["sha256"] for p in doc["packages"]}["six"] == real["six"]["wheels"][0]["hashes"]["sha256"]

    # a hash the index does not serve: a stale lock, refused before anything is written
    stale = _poetry_lock(real, {}).replace(real["six"]["wheels"][0]["hashes"]["sha256"], "0" * 64)
    (project / "poetry.lock").write_text(stale)
    _refused(build("--project", str(project), "-o", "stale.zip"), "poetry.lock pins six-1.17.0", "does not serve",
             "lock", out="stale.zip")
    (project / "poetry.lock").write_text(_poetry_lock(real, {}, lock_version="9.0"))
    _refused(build("--project", str(project), "-o", "v9.zip"), "lock-version '9.0'", "poetry export",
             out="v9.zip")


def test_bad_projects_are_one_error_and_nothing_written(tmp_path: Path, build: Callable) -> None:
    empty = make_project(tmp_path / "empty", [], lock=False)
    _refused(build("--project", str(empty)), "declares no dependencies", "[project].dependencies")

    sdist = make_project(tmp_path / "sdist", ["docopt==0.6.2"])
    _refused(build("--project", str(sdist)), "docopt==0.6.2", "no wheel", "built from source")

    stale = make_project(tmp_path / "stale", ["six==1.17.0"])
    lock = stale / "uv.lock"
    digest = _compiled(tmp_path, "six==1.17.0")["six"]["wheels"][0]["hashes"]["sha256"]
    lock.write_text(lock.read_text().replace(digest, "f" * 64))
    _refused(build("--project", str(stale), "--no-compile"), "uv.lock pins six-1.17.0", "sha256", "lock")

    # a lock made elsewhere, holding only a macOS wheel for the pin
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "pylock.toml").write_text(
        'lock-version = "1.0"\ncreated-by = "someone"\n\n[[packages]]\nname = "numpy"\nversion = "2.2.6"\n'
        'wheels = [{ url = "https://files.pythonhosted.org/x/numpy-2.2.6-cp312-cp312-macosx_14_0_arm64.whl", '
        'hashes = { sha256 = "' + "a" * 64 + '" } }]\n')
    text = _refused(build("--project", str(foreign)), "numpy==2.2.6", "no wheel that loads on python3.12-x86_64",
                    "newest version that loads there is numpy")
    assert "require numpy==" in text

    unlocked = make_project(tmp_path / "unlocked", ["six==1.17.0"], lock=False)
    result = build("--project", str(unlocked), "--no-compile", "--no-check", "--json")
    assert result.exit_code == 0, result.stderr
    assert result.json()["resolution"] == "resolved" and result.json()["packages"][0]["version"] == "1.17.0"
    _refused(build("--project", str(unlocked), "six", "-o", "mixed.zip"),
             "--project takes its requirements from the project", out="mixed.zip")
