"""build-layer end to end on tiny local wheels: no network (the resolvers are told so via env)."""

from __future__ import annotations

import json
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest


@pytest.fixture
def offline(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    monkeypatch.setenv("UV_OFFLINE", "1")
    monkeypatch.setenv("UV_NO_INDEX", "1")
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("LAMBDAPACK_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_build_from_local_wheels_is_complete_and_reproducible(
        offline: Path, wheel_factory: Callable[..., Path], run_cli: Callable, python312: Path) -> None:
    """Needs CPython 3.12 (``python312``) for the pycs and the import check."""
    wheel = wheel_factory("tinydemo", "2.0", files={
        "tinydemo/__init__.py": b"from tinydemo.core import answer\n",
        "tinydemo/core.py": b"def answer():\n    return {'a', 'b', 'c'}\n",
        "tinydemo/core.pyi": b"def answer() -> set[str]: ...\n",
        "tinydemo/tests/test_core.py": b"assert True\n",
    })
    first = run_cli("build-layer", str(wheel), "--json")
    assert first.exit_code == 0, first.stderr
    doc = first.json()
    for key in ("path", "sha256", "runtime", "arch", "python_version", "abi", "glibc", "platforms", "packages",
                "zip_bytes", "unzipped_bytes", "file_count", "fits_direct_upload", "fits_unzipped_limit"):
        assert key in doc
    assert doc["path"] == "dist/layer-python3.12-x86_64.zip" and doc["compiled_with"].startswith("3.12.")
    assert [(p["name"], p["version"]) for p in doc["packages"]] == [("tinydemo", "2.0")]
    assert doc["check"]["ok"] and {c["name"]: c["status"] for c in doc["check"]["checks"]}["import"] == "pass"
    with zipfile.ZipFile(offline / doc["path"]) as zf:
        names = set(zf.namelist())
        record = json.loads(zf.read("lambdapack-layer.json"))
        pyc = zf.read("python/lib/python3.12/site-packages/tinydemo/__pycache__/core.cpython-312.pyc")
    sp = "python/lib/python3.12/site-packages/"
    assert f"{sp}tinydemo/core.py" in names
    assert not any(".dist-info" in n or n.endswith(".pyi") or "/tests/" in n for n in names)
    assert record["packages"][0]["sha256"] == doc["packages"][0]["sha256"]
    assert record["options"] == {"resolver": "uv", "slim": True, "keep_dist_info": False, "compile": True}
    assert int.from_bytes(pyc[4:8], "little") == 0b01  # hash-based, unchecked (PEP 552)
    second = run_cli("build-layer", str(wheel), "--json", "--resolver", "pip")
    assert second.exit_code == 0, second.stderr
    assert second.json()["sha256"] != doc["sha256"]  # the record names the resolver
    third = run_cli("build-layer", str(wheel), "--json")
    assert third.json()["sha256"] == doc["sha256"] and third.json()["cached"] is True


def test_keep_dist_info_no_slim_no_compile(offline: Path, wheel_factory: Callable[..., Path],
                                           run_cli: Callable) -> None:
    wheel = wheel_factory("tinydemo", files={"tinydemo/__init__.py": b"", "tinydemo/x.pyi": b""})
    result = run_cli("build-layer", str(wheel), "--keep-dist-info", "--no-slim", "--no-compile", "--no-check",
                     "-o", "out/l.zip", "--json")
    assert result.exit_code == 0, result.stderr
    names = zipfile.ZipFile(offline / "out/l.zip").namelist()
    assert any(n.endswith("tinydemo-1.0.dist-info/METADATA") for n in names)
    assert any(n.endswith("x.pyi") for n in names) and not any(n.endswith(".pyc") for n in names)
    assert result.json()["check"] is None


def test_a_layer_failing_its_check_is_not_written(offline: Path, wheel_factory: Callable[..., Path],
                                                  run_cli: Callable, elf_files: dict[str, bytes]) -> None:
    good = wheel_factory("tinydemo", files={"tinydemo/__init__.py": b""})
    assert run_cli("build-layer", str(good), "--runtime", "python3.11", "--no-compile").exit_code == 0
    out = offline / "dist/layer-python3.11-x86_64.zip"
    before = out.read_bytes()
    bad = wheel_factory("newdemo", tag="cp311-cp311-manylinux_2_17_x86_64",
                        files={"newdemo/__init__.py": b"", "newdemo/_n.so": elf_files["newer"]})
    result = run_cli("build-layer", str(bad), "--runtime", "python3.11", "--no-compile")
    assert result.exit_code == 1
    assert "error:" in result.stderr and "GLIBC_2.36" in result.stderr and "hint:" in result.stderr
    assert out.read_bytes() == before
    assert sorted(p.name for p in out.parent.iterdir()) == [out.name]


@pytest.mark.parametrize(("args", "needle"), [
    (["--runtime", "python3.9"], "python3.9"),
    (["--arch", "aarch64"], "aarch64"),
    (["--resolver", "uv", "--python-version", "38", "--platform", "manylinux1_x86_64"], "uv cannot"),
    (["--python-version", "38"], "--platform"),
    (["--platform", "win_amd64"], "win_amd64"),
    (["--python", "/nonexistent/python"], "/nonexistent/python"),
    (["./missing.whl"], "missing.whl"),
    (["docopt-0.6.2.tar.gz"], "source distribution"),
    (["./srcdir"], "source directory"),
])
def test_bad_input_is_one_error_and_no_artifact(offline: Path, run_cli: Callable, args: list[str],
                                                needle: str) -> None:
    if args == ["docopt-0.6.2.tar.gz"]:
        (offline / "docopt-0.6.2.tar.gz").write_bytes(b"sdist")
    (offline / "srcdir").mkdir()
    result = run_cli("build-layer", *args)
    assert result.exit_code in (1, 2)
    assert needle in result.stderr
    if result.exit_code == 1:
        assert "hint:" in result.stderr
    assert not (offline / "dist").exists() or not any((offline / "dist").iterdir())


def test_guide_form_with_local_wheels_uses_pip_and_warns(offline: Path, wheel_factory: Callable[..., Path],
                                                         run_cli: Callable) -> None:
    wheel = wheel_factory("tinydemo", files={"tinydemo/__init__.py": b""})
    result = run_cli("build-layer", "--python-version", "38", "--abi", "cp38", "--platform", "manylinux1_x86_64",
                     "--only-binary=:all:", "--no-binary=:none:", "--find-links", str(wheel.parent), "tinydemo",
                     "--no-compile", "--json")
    assert result.exit_code == 0, result.stderr
    doc = result.json()
    assert doc["resolver"] == "pip" and doc["runtime"] is None and doc["python_version"] == "3.8"
    assert doc["path"] == "dist/layer-python3.8-x86_64.zip"
    assert any("caps wheels at glibc 2.5" in w for w in doc["warnings"])
    assert doc["lambda_runtimes"] == []
    assert any(w.startswith("no Lambda runtime runs Python 3.8") and "--runtime python3.12" in w
               for w in doc["warnings"])
    assert "python/lib/python3.8/site-packages/tinydemo/__init__.py" in zipfile.ZipFile(doc["path"]).namelist()


def test_a_hand_written_tag_set_for_a_current_python_names_its_runtime(
        offline: Path, wheel_factory: Callable[..., Path], run_cli: Callable) -> None:
    wheel = wheel_factory("tinydemo", files={"tinydemo/__init__.py": b""})
    result = run_cli("build-layer", "--python-version", "3.12", "--platform", "manylinux2014_x86_64", str(wheel),
                     "--no-compile", "--no-check", "--json")
    assert result.exit_code == 0, result.stderr
    doc = result.json()
    assert doc["lambda_runtimes"] == ["python3.12"]
    assert not any("no Lambda runtime" in w for w in doc["warnings"])


@pytest.mark.parametrize("value", ["scikit-learn", ":all:"])
def test_no_binary_accepts_only_none(offline: Path, run_cli: Callable, value: str) -> None:
    result = run_cli("build-layer", f"--no-binary={value}", "tinydemo")
    assert result.exit_code == 2 and "--no-binary" in result.stderr


def test_check_layer_refuses_a_hostile_archive(tmp_path: Path, run_cli: Callable) -> None:
    evil = tmp_path / "evil.zip"
    with zipfile.ZipFile(evil, "w") as zf:
        zf.writestr("python/ok.py", b"")
        zf.writestr("../escape.py", b"")
    result = run_cli("check-layer", str(evil), "--json")
    assert result.exit_code == 1
    checks = {c["name"]: c for c in result.json()["checks"]}
    assert checks["archive"]["status"] == "fail" and checks["import"]["status"] == "skip"
    assert not (tmp_path.parent / "escape.py").exists()
