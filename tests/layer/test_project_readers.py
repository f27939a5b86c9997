"""The project readers on their own: pyproject, PEP 751, poetry.lock graphs and markers (no network)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from lambdapack.errors import ProjectError
from lambdapack.project.inputs import Project
from lambdapack.project.locked import LockedFile, LockedPackage
from lambdapack.project.markers import applies, marker_environment
from lambdapack.project.pins import best_wheel
from lambdapack.project.poetry import root_edges, walk
from lambdapack.project.read import read_project
from lambdapack.targets import Target

PY312 = Target.for_runtime("python3.12", "x86_64")
PY311_ARM = Target.for_runtime("python3.11", "arm64")
SHA = "a" * 64


def test_markers_are_the_lambda_targets_not_the_hosts(tmp_path: Path) -> None:
    arm = marker_environment(PY311_ARM, groups=("Tools",))
    assert applies("platform_machine == 'aarch64' and python_version == '3.11'", arm, tmp_path)
    assert not applies("python_full_version >= '3.12'", arm, tmp_path)
    assert not applies("sys_platform == 'win32' or platform_system == 'Darwin'", marker_environment(PY312), tmp_path)
    assert applies("'tools' in dependency_groups", arm, tmp_path)
    with pytest.raises(ProjectError, match="invalid marker"):
        applies("python_version >>> '3'", arm, tmp_path)


def test_a_bare_pyproject_gives_its_dependencies_extras_and_groups(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "svc"\nversion = "1"\ndependencies = ["six"]\n'
        '[project.optional-dependencies]\nfast = ["orjson"]\n'
        '[dependency-groups]\nbase = ["idna"]\nml = ["numpy", {include-group = "base"}]\n')
    project = read_project(tmp_path, groups=("ml",), extras=("fast",))
    assert project.kind == "pyproject.toml" and not project.locked
    assert project.requirements == ("six", "orjson", "numpy", "idna")
    assert read_project(tmp_path).fingerprint != project.fingerprint
    with pytest.raises(ProjectError, match="no optional dependencies named 'slow'"):
        read_project(tmp_path, extras=("slow",))
    with pytest.raises(ProjectError, match="no dependency group named 'nope'"):
        read_project(tmp_path, groups=("nope",))


def test_an_empty_directory_is_named(tmp_path: Path) -> None:
    with pytest.raises(ProjectError, match=re.escape("no uv.lock, pylock.toml, poetry.lock or pyproject.toml")):
        read_project(tmp_path)


def _pylock(tmp_path: Path, body: str, version: str = "1.0") -> Project:
    (tmp_path / "pylock.toml").write_text(f'lock-version = "{version}"\ncreated-by = "test"\n\n{body}')
    return read_project(tmp_path)


def test_pylock_reads_urls_paths_markers_and_sources(tmp_path: Path) -> None:
    (tmp_path / "wheels").mkdir()
    project = _pylock(tmp_path, (
        '[[packages]]\nname = "Six"\nversion = "1.17.0"\n'
        f'wheels = [{{ url = "https://x/six-1.17.0-py2.py3-none-any.whl", hashes = {{ sha256 = "{SHA}" }} }}]\n\n'
        '[[packages]]\nname = "local"\nmarker = "sys_platform == \'linux\'"\n'
        f'wheels = [{{ path = "wheels/local-2.0-py3-none-any.whl", hashes = {{ sha256 = "{SHA}" }} }}]\n\n'
        '[[packages]]\nname = "winonly"\nversion = "1"\nmarker = "sys_platform == \'win32\'"\n'
        f'sdist = {{ url = "https://x/winonly-1.tar.gz", hashes = {{ sha256 = "{SHA}" }} }}\n'))
    env = marker_environment(PY312)
    packages = {p.name: p for p in project.packages(env)}  # type: ignore[misc]
    assert packages["six"].wheels[0].url.endswith("six-1.17.0-py2.py3-none-any.whl")
    assert packages["local"].version == "2.0"
    assert packages["local"].wheels[0].path == str((tmp_path / "wheels/local-2.0-py3-none-any.whl").resolve())
    assert packages["winonly"].source_only
    pins = project.pins_for(PY312, tmp_path / "cache")  # winonly's marker is false on Lambda
    assert [(p.name, p.url is not None, p.path is not None) for p in pins] == [("six", True, False),
                                                                              ("local", False, True)]


@pytest.mark.parametrize(("body", "version", "message"), [
    ("", "2.0", "lock-version '2.0'"),
    ('[[packages]]\nname = "six"\nwheels = [{ url = "https://x/six-1-py3-none-any.whl" }]\n', "1.0",
     "without a sha256"),
    ("", "1.0", "locks no packages"),
])
def test_pylock_refusals(tmp_path: Path, body: str, version: str, message: str) -> None:
    with pytest.raises(ProjectError, match=message):
        _pylock(tmp_path, body, version).packages(marker_environment(PY312))  # type: ignore[misc]


def test_a_source_only_pin_is_refused_before_any_download(tmp_path: Path) -> None:
    sdist = f'sdist = {{ url = "https://x/docopt-0.6.2.tar.gz", hashes = {{ sha256 = "{SHA}" }} }}\n'
    project = _pylock(tmp_path, '[[packages]]\nname = "docopt"\nversion = "0.6.2"\n' + sdist)
    with pytest.raises(ProjectError, match=re.escape("pins docopt==0.6.2, which has no wheel")) as caught:
        project.pins_for(PY312, tmp_path / "cache")
    assert "manylinux" in caught.value.hint
    assert not (tmp_path / "cache").exists()


def test_best_wheel_is_the_most_specific_one_the_target_loads() -> None:
    files = tuple(LockedFile(name, f"https://x/{name}", SHA) for name in (
        "numpy-2.2.6-cp312-cp312-macosx_14_0_arm64.whl",
        "numpy-2.2.6-cp312-cp312-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
        "numpy-2.2.6-cp312-cp312-manylinux_2_28_x86_64.whl",
        "numpy-2.2.6-cp312-cp312-manylinux_2_17_aarch64.manylinux2014_aarch64.whl",
        "numpy-2.2.6.tar.gz"))
    package = LockedPackage("numpy", "2.2.6", files)
    assert best_wheel(package, PY312).filename == "numpy-2.2.6-cp312-cp312-manylinux_2_28_x86_64.whl"
    assert best_wheel(package, Target.for_runtime("python3.12", "arm64")).filename.endswith("aarch64.whl")
    assert best_wheel(package, Target.for_runtime("python3.11", "x86_64")) is None


POETRY_DOC = {
    "package": [
        {"name": "requests", "version": "2.32.0", "dependencies": {
            "idna": "*", "PySocks": {"version": "*", "optional": True, "markers": 'extra == "socks"'},
            "colorama": {"version": "*", "markers": 'sys_platform == "win32"'}},
         "extras": {"socks": ["PySocks (>=1.5.6,!=1.5.7)"]}},
        {"name": "idna", "version": "3.10"},
        {"name": "pysocks", "version": "1.7.1"},
        {"name": "colorama", "version": "0.4.6"},
        {"name": "numpy", "version": "2.2.6", "markers": 'python_version < "3.12"'},
        {"name": "numpy", "version": "2.5.5", "markers": 'python_version >= "3.12"'},
        {"name": "pytest", "version": "8.0"},
    ],
}


def test_poetry_walks_from_the_roots_along_the_targets_edges(tmp_path: Path) -> None:
    pyproject = {"tool": {"poetry": {
        "dependencies": {"python": "^3.11", "requests": {"version": "^2", "extras": ["socks"]}, "numpy": "*"},
        "group": {"dev": {"dependencies": {"pytest": "*"}}}}}}
    roots = root_edges(pyproject, (), (), tmp_path / "pyproject.toml")
    assert sorted(name for name, _, _ in roots) == ["numpy", "requests"]  # no python, no dev group
    lock = tmp_path / "poetry.lock"
    chosen = {e["name"]: e["version"] for e in walk(POETRY_DOC, roots, marker_environment(PY312), lock)}
    # PySocks comes in through requests' "socks" extra; colorama's edge holds on Windows only
    assert chosen == {"requests": "2.32.0", "idna": "3.10", "pysocks": "1.7.1", "numpy": "2.5.5"}
    older = {e["name"]: e["version"] for e in walk(POETRY_DOC, roots, marker_environment(PY311_ARM), lock)}
    assert older["numpy"] == "2.2.6"
    with_dev = root_edges(pyproject, ("dev",), (), tmp_path / "pyproject.toml")
    assert "pytest" in {e["name"] for e in walk(POETRY_DOC, with_dev, marker_environment(PY312), lock)}
    with pytest.raises(ProjectError, match="does not lock missing"):
        walk(POETRY_DOC, [("missing", frozenset(), None)], marker_environment(PY312), lock)


def test_an_unknown_poetry_lock_version_is_refused(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[tool.poetry.dependencies]\nsix = "*"\n')
    (tmp_path / "poetry.lock").write_text('[metadata]\nlock-version = "3.0"\n')
    with pytest.raises(ProjectError, match=re.escape("lock-version '3.0'")) as caught:
        read_project(tmp_path)
    assert "poetry export" in caught.value.hint
