from __future__ import annotations

import hashlib
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

from lambdapack.errors import WheelError
from lambdapack.targets import Target
from lambdapack.wheels import Inputs, fetch_wheels, install_requirements, install_wheels
from lambdapack.wheels.check import require_compatible
from lambdapack.wheels.diagnose import _culprit

PY312 = Target.for_runtime("python3.12", "x86_64")
PY311 = Target.for_runtime("python3.11", "x86_64")


@pytest.fixture
def offline(monkeypatch: pytest.MonkeyPatch) -> None:
    """Resolvers see only local wheels: the user's configuration is passed through, so env vars work."""
    monkeypatch.setenv("UV_OFFLINE", "1")
    monkeypatch.setenv("UV_NO_INDEX", "1")
    monkeypatch.setenv("PIP_NO_INDEX", "1")


@pytest.mark.parametrize(("filename", "target", "ok"), [
    ("numpy-2.5.5-cp312-cp312-manylinux_2_27_x86_64.manylinux_2_28_x86_64.whl", PY312, True),
    ("numpy-2.5.5-cp312-cp312-manylinux_2_27_x86_64.manylinux_2_28_x86_64.whl", PY311, False),
    ("numpy-2.2.6-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl", PY311, True),
    ("x-1.0-cp312-cp312-manylinux_2_35_x86_64.whl", PY312, False),
    ("x-1.0-cp312-cp312-manylinux_2_17_aarch64.whl", PY312, False),
    ("x-1.0-cp39-abi3-manylinux2014_x86_64.whl", PY312, True),
    ("x-1.0-py3-none-any.whl", PY312, True),
    ("x-1.0-cp312-cp312-win_amd64.whl", PY312, False),
])
def test_wheel_tags_are_checked_against_the_target(filename: str, target: Target, ok: bool) -> None:
    if ok:
        assert require_compatible(filename, target).name == filename.split("-")[0]
    else:
        with pytest.raises(WheelError) as err:
            require_compatible(filename, target)
        assert target.label in err.value.message and err.value.hint


@pytest.mark.parametrize("filename", ["docopt-0.6.2.tar.gz", "pkg-1.0.zip", "not-a-wheel.txt", "bad.whl"])
def test_sdists_and_odd_files_are_refused(filename: str) -> None:
    with pytest.raises(WheelError) as err:
        require_compatible(filename, PY312)
    assert err.value.hint


def test_install_writes_only_importable_files(tmp_path: Path, wheel_factory: Callable[..., Path]) -> None:
    wheel = wheel_factory("demo", files={
        "demo/__init__.py": b"VALUE = 1\n",
        "demo-1.0.data/scripts/demo-tool": b"#!python\nprint(1)\n",
        "demo-1.0.data/data/share/demo.txt": b"data\n",
        "demo-1.0.data/headers/demo.h": b"int x;\n",
        "demo-1.0.data/purelib/demo_extra.py": b"X = 2\n",
    }, entry_points="[console_scripts]\ndemo = demo:main\n")
    site = tmp_path / "site"
    result = install_wheels([wheel], site)
    files = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file()
                   and not p.is_relative_to(wheel.parent))
    assert "site/demo/__init__.py" in files and "site/demo_extra.py" in files
    assert all(f.startswith("site/") for f in files)
    assert not any("demo-tool" in f or "share" in f or f.endswith(".h") or "/bin/" in f for f in files)
    assert {"scripts/demo", "scripts/demo-tool", "data/share/demo.txt", "headers/demo.h"} <= set(result.dropped)


@pytest.mark.parametrize("hostile", [
    {"raw_members": {"../evil.py": b"x"}},
    {"raw_members": {"/tmp/lambdapack-evil.py": b"x"}},
    {"raw_members": {"demo/../../evil.py": b"x"}},
    {"links": {"demo/link.py": "../../../../etc/passwd"}},
    {"links": {"demo/inner.py": "__init__.py"}},
])
def test_hostile_wheels_are_refused_before_anything_is_written(
        tmp_path: Path, wheel_factory: Callable[..., Path], hostile: dict) -> None:
    good = wheel_factory("good", files={"good/__init__.py": b""})
    bad = wheel_factory("demo", files={"demo/__init__.py": b""}, **hostile)
    site = tmp_path / "out" / "site"
    with pytest.raises(WheelError) as err:
        install_wheels([good, bad], site)
    assert err.value.hint
    assert not site.exists()
    assert not (tmp_path / "evil.py").exists() and not (tmp_path / "out" / "evil.py").exists()


def test_corrupt_wheels_are_refused(tmp_path: Path, wheel_factory: Callable[..., Path]) -> None:
    wheel = wheel_factory("demo", files={"demo/__init__.py": b"A = 1\n" * 100})
    truncated = tmp_path / "truncated" / wheel.name
    truncated.parent.mkdir()
    truncated.write_bytes(wheel.read_bytes()[: wheel.stat().st_size // 2])
    tampered = tmp_path / "tampered" / wheel.name
    tampered.parent.mkdir()
    with zipfile.ZipFile(wheel) as src, zipfile.ZipFile(tampered, "w") as dst:
        for info in src.infolist():
            data = src.read(info)
            dst.writestr(info, b"A = 2\n" * 100 if info.filename == "demo/__init__.py" else data)
    for broken in (truncated, tampered):
        with pytest.raises(WheelError):
            install_wheels([broken], tmp_path / "site")
        assert not (tmp_path / "site").exists()


def test_two_wheels_claiming_one_file_is_an_error(tmp_path: Path, wheel_factory: Callable[..., Path]) -> None:
    a = wheel_factory("a", files={"shared/__init__.py": b"A"})
    b = wheel_factory("b", files={"shared/__init__.py": b"B"})
    with pytest.raises(WheelError, match="both install"):
        install_wheels([a, b], tmp_path / "site")


@pytest.mark.parametrize("resolver", ["uv", "pip"])
def test_both_backends_fetch_local_wheels_with_their_sha256(
        resolver: str, tmp_path: Path, wheel_factory: Callable[..., Path], offline: None) -> None:
    links = wheel_factory("depdemo", files={"depdemo/__init__.py": b""}).parent
    wheels = fetch_wheels(Inputs(requirements=("depdemo",), find_links=(links,)), PY312, resolver=resolver,
                          cache_dir=tmp_path / "cache")
    assert [(w.name, w.version) for w in wheels] == [("depdemo", "1.0")]
    assert wheels[0].sha256 == hashlib.sha256(wheels[0].path.read_bytes()).hexdigest()


def test_install_requirements_replaces_the_directory_atomically(
        tmp_path: Path, wheel_factory: Callable[..., Path], offline: None) -> None:
    good = wheel_factory("gooddemo", files={"gooddemo/__init__.py": b""})
    dest = tmp_path / "deps"
    dest.mkdir()
    (dest / "stale.py").write_text("")
    installed = install_requirements([str(good)], PY312, dest, cache_dir=tmp_path / "cache")
    assert installed.versions() == {"gooddemo": "1.0"}
    assert (dest / "gooddemo" / "__init__.py").is_file() and not (dest / "stale.py").exists()
    hostile = wheel_factory("baddemo", files={"baddemo/__init__.py": b""}, raw_members={"../x.py": b""})
    with pytest.raises(WheelError):
        install_requirements([str(hostile)], PY312, dest, cache_dir=tmp_path / "cache")
    assert (dest / "gooddemo" / "__init__.py").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cache", "deps", "wheels"]


def test_a_foreign_local_wheel_fails_before_resolving(tmp_path: Path, wheel_factory: Callable[..., Path]) -> None:
    arm = wheel_factory("armdemo", tag="cp312-cp312-manylinux_2_17_aarch64")
    with pytest.raises(WheelError, match="aarch64"):
        install_requirements([str(arm)], PY312, tmp_path / "deps", cache_dir=tmp_path / "cache")


@pytest.mark.parametrize(("backend", "output", "package"), [
    ("uv", "error: No solution found when resolving dependencies\n  cause: Because nonexistent-pkg-zzqq was not "
           "found in the package registry and you require nonexistent-pkg-zzqq, we can conclude ...",
     "nonexistent-pkg-zzqq"),
    ("uv", "  cause: Because all versions of docopt have no usable wheels and you require docopt, ...", "docopt"),
    ("uv", "  cause: Because numpy==2.5.5 has no usable wheels and you require numpy==2.5.5, ...", "numpy"),
    ("uv", "  cause: Because only scikit-learn<=1.9.1 is available and you require scikit-learn>=9, ...",
     "scikit-learn"),
    ("pip", "ERROR: Could not find a version that satisfies the requirement numpy==2.5.5 (from versions: 1.26.4, "
            "2.2.6)\nERROR: No matching distribution found for numpy==2.5.5", "numpy"),
    ("pip", "ERROR: No matching distribution found for Scikit_Learn>=9", "scikit-learn"),
])
def test_resolver_failures_name_the_package(backend: str, output: str, package: str) -> None:
    assert _culprit(output, backend) == package


@pytest.mark.parametrize("output", [
    "error: Failed to fetch: `https://pypi.org/simple/numpy/`\n  cause: dns error: failed to lookup address",
    "WARNING: Retrying ... NewConnectionError ... Failed to establish a new connection: [Errno -3] Temporary "
    "failure in name resolution\nERROR: No matching distribution found for numpy",
])
def test_no_network_is_said_plainly(output: str) -> None:
    from lambdapack.wheels.diagnose import resolve_failure

    error = resolve_failure(output, PY312, "uv")
    assert "cannot reach the package index" in error.message and "network" in error.hint


@pytest.mark.parametrize(("output", "backend"), [
    ("ERROR: THESE PACKAGES DO NOT MATCH THE HASHES FROM THE REQUIREMENTS FILE. If you have updated the package "
     "versions, please update the hashes.\n    numpy==2.5.5 from https://x/numpy.whl:\n"
     "        Expected sha256 aaaa\n             Got        bbbb", "pip"),
    ("error: Failed to download `numpy==2.5.5`\n  Caused by: Hash mismatch for `numpy==2.5.5`", "uv"),
])
def test_a_hash_mismatch_is_named_as_such(output: str, backend: str) -> None:
    from lambdapack.wheels.diagnose import resolve_failure

    error = resolve_failure(output, PY312, backend)
    assert "does not match the sha256" in error.message
    assert "re-lock" in error.hint and "spelling" not in error.hint
