"""End to end against real PyPI (slow): the issue's "Done when" list, measured, not assumed."""

from __future__ import annotations

import json
import shutil
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

from lambdapack.archive import safe_extract
from lambdapack.interpreters import find_python
from lambdapack.layer.elf import iter_elf_files, read_elf
from lambdapack.targets import DIRECT_UPLOAD_LIMIT, UNZIPPED_LIMIT, Target
from lambdapack.wheels import Inputs, fetch_wheels
from lambdapack.wheels.diagnose import newest_version

pytestmark = pytest.mark.slow
STACK = ("scikit-learn", "numpy", "scipy")


def _checks(doc: dict) -> dict[str, dict]:
    return {c["name"]: c for c in doc["check"]["checks"]}


@pytest.fixture(scope="module")
def default_build(tmp_path_factory: pytest.TempPathFactory, layer_download_cache: Path) -> dict:
    """``lambdapack build-layer --json`` with every default (pyc when Python 3.12 is here, check-layer)."""
    from click.testing import CliRunner

    from lambdapack.cli.main import cli

    out = tmp_path_factory.mktemp("default") / "layer.zip"
    result = CliRunner().invoke(cli, ["build-layer", "--cache-dir", str(layer_download_cache), "-o", str(out),
                                      "--json"], catch_exceptions=False)
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


def test_defaults_build_a_current_py312_layer_that_passes_check_layer(default_build: dict) -> None:
    doc = default_build
    assert (doc["runtime"], doc["arch"], doc["glibc"]) == ("python3.12", "x86_64", "2.34")
    names = {p["name"] for p in doc["packages"]}
    assert {"scikit-learn", "numpy", "scipy", "joblib"} <= names
    checks = _checks(doc)
    assert doc["check"]["ok"]
    assert all(checks[n]["status"] == "pass" for n in ("archive", "layout", "elf"))
    if find_python((3, 12)):
        assert checks["import"]["status"] == "pass" and "sklearn" in checks["import"]["detail"]
        assert doc["compiled_with"].startswith("3.12.")
    assert doc["unzipped_bytes"] <= UNZIPPED_LIMIT and doc["fits_unzipped_limit"]
    for pkg in STACK:  # current: the newest release with a wheel for this target
        version = next(p["version"] for p in doc["packages"] if p["name"] == pkg)
        assert version == newest_version(pkg, Target.for_runtime("python3.12", "x86_64"))


def test_no_compile_layer_fits_the_direct_upload(real_layer: Callable[..., Path]) -> None:
    layer = real_layer()
    assert layer.stat().st_size <= DIRECT_UPLOAD_LIMIT
    names = zipfile.ZipFile(layer).namelist()
    assert not any(n.endswith(".pyc") for n in names)
    assert "python/lib/python3.12/site-packages/numpy/_core/tests/_natype.py" in names


def test_two_builds_of_the_same_inputs_are_byte_identical(default_build: dict, layer_download_cache: Path,
                                                          tmp_path: Path, run_cli: Callable) -> None:
    # a private copy of the cache without its finished layers: the second build really rebuilds
    cache = tmp_path / "cache"
    shutil.copytree(layer_download_cache, cache, ignore=shutil.ignore_patterns("layers"))
    result = run_cli("build-layer", "--cache-dir", str(cache), "-o", str(tmp_path / "again.zip"), "--no-check",
                     "--json")
    assert result.exit_code == 0, result.stderr
    assert result.json()["cached"] is False
    assert result.json()["sha256"] == default_build["sha256"]


def _wheels(doc: dict, cache: Path) -> list[Path]:
    """The wheel files a build installed, from the cache it used."""
    return [next((cache / "wheels").rglob(p["wheel"])) for p in doc["packages"]]


def test_files_as_the_wheel_shipped_them_keep_the_wheels_deflated_bytes(default_build: dict,
                                                                         layer_download_cache: Path) -> None:
    """Sources and vendored libraries are copied deflated from their wheel; stripped extensions and
    pycs are deflated anew: every member still inflates to what the tree held (testzip)."""
    site = "python/lib/python3.12/site-packages/"
    shipped: dict[str, zipfile.ZipInfo] = {}
    for wheel in _wheels(default_build, layer_download_cache):
        with zipfile.ZipFile(wheel) as zf:
            shipped.update({i.filename: i for i in zf.infolist()})
    with zipfile.ZipFile(default_build["path"]) as layer:
        assert layer.testzip() is None
        infos = [i for i in layer.infolist() if i.filename.startswith(site)]
    same = {i.filename for i in infos if (w := shipped.get(i.filename[len(site):])) is not None
            and (w.CRC, w.file_size, w.compress_size) == (i.CRC, i.file_size, i.compress_size)}
    sources = {i.filename for i in infos if i.filename.endswith(".py")}
    libs = {i.filename for i in infos if ".libs/" in i.filename}
    assert sources and libs and sources | libs <= same
    extensions = [i for i in infos if i.filename.endswith(".so") and ".libs/" not in i.filename]
    stripped = [i for i in extensions if (w := shipped.get(i.filename[len(site):])) is not None and w.CRC != i.CRC]
    assert len(stripped) > 100 and not {i.filename for i in stripped} & same


def test_the_installer_skips_exactly_what_slimming_deletes(default_build: dict, layer_download_cache: Path,
                                                           tmp_path: Path) -> None:
    from functools import partial

    from lambdapack.layer.slim import dropped_file, slim
    from lambdapack.wheels.install import install_wheels

    wheels = _wheels(default_build, layer_download_cache)
    full, skipped = tmp_path / "full", tmp_path / "skipped"
    installed = install_wheels(wheels, full)
    removed = slim(full, drop_dist_info=True)
    filtered = install_wheels(wheels, skipped, skip=partial(dropped_file, drop_dist_info=True))
    assert slim(skipped, drop_dist_info=True).files_removed == 0
    assert removed.files_removed > 1000 and filtered.skipped_files == removed.files_removed
    assert filtered.files == installed.files - removed.files_removed

    def tree(root: Path) -> dict[str, bytes]:
        return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}

    assert tree(full) == tree(skipped)


def test_python311_gets_the_newest_stack_that_loads_on_glibc_226(real_layer: Callable[..., Path],
                                                                 run_cli: Callable) -> None:
    layer = real_layer("python3.11")
    result = run_cli("check-layer", str(layer), "--json")
    assert result.exit_code == 0, result.stderr
    doc = result.json()
    assert doc["glibc"] == "2.26" and doc["ok"]
    checks = {c["name"]: c["status"] for c in doc["checks"]}
    assert checks["elf"] == "pass"
    record = json.loads(zipfile.ZipFile(layer).read("lambdapack-layer.json"))
    versions = {p["name"]: p["version"] for p in record["packages"]}
    target = Target.for_runtime("python3.11", "x86_64")
    for pkg in STACK:
        assert versions[pkg] == newest_version(pkg, target)


def test_arm64_layers_contain_only_aarch64_elf(real_layer: Callable[..., Path], tmp_path: Path,
                                               run_cli: Callable) -> None:
    layer = real_layer("python3.12", "arm64")
    safe_extract(layer, tmp_path / "x")
    machines = {read_elf(p).machine for p in iter_elf_files(tmp_path / "x")}
    assert machines == {"aarch64"}
    result = run_cli("check-layer", str(layer), "--json")
    assert result.exit_code == 0, result.stderr
    assert {c["name"]: c["status"] for c in result.json()["checks"]}["elf"] == "pass"


# the guide's `pip download` line, word for word after the command name
GUIDE_ARGV = ("--python-version", "38", "--abi", "cp38", "--platform", "manylinux1_x86_64", "--only-binary=:all:",
              "--no-binary=:none:", "scikit-learn")


def test_the_guides_command_line_works(tmp_path: Path, layer_download_cache: Path, run_cli: Callable,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = run_cli("build-layer", *GUIDE_ARGV, "--cache-dir", str(layer_download_cache), "--json")
    assert result.exit_code == 0, result.stderr
    doc = result.json()
    assert doc["resolver"] == "pip" and doc["python_version"] == "3.8" and doc["platforms"] == ["manylinux1_x86_64"]
    assert any("caps wheels at glibc 2.5" in w for w in doc["warnings"])
    # python3.8 is no Lambda runtime any more: said at build time, with what to run instead
    assert doc["lambda_runtimes"] == []
    retired = next(w for w in doc["warnings"] if "no Lambda runtime runs Python 3.8" in w)
    assert "lambdapack build-layer --runtime python3.12 --arch x86_64 scikit-learn" in retired
    assert (tmp_path / "dist/layer-python3.8-x86_64.zip").is_file()
    checks = _checks(doc)
    assert checks["elf"]["status"] == "pass"
    expected = "pass" if find_python((3, 8)) else "skip"
    assert checks["import"]["status"] == expected
    human = run_cli("build-layer", *GUIDE_ARGV, "--cache-dir", str(layer_download_cache))
    assert human.exit_code == 0 and "warning: no Lambda runtime runs Python 3.8" in " ".join(human.stderr.split())


@pytest.mark.parametrize(("runtime", "arch"), [("python3.12", "x86_64"), ("python3.11", "arm64")])
def test_both_backends_choose_the_same_versions(runtime: str, arch: str, layer_download_cache: Path) -> None:
    target = Target.for_runtime(runtime, arch)
    inputs = Inputs(requirements=("scikit-learn", "joblib"))
    chosen = {}
    for resolver in ("uv", "pip"):
        wheels = fetch_wheels(inputs, target, resolver=resolver, cache_dir=layer_download_cache)
        chosen[resolver] = [(w.name, w.version, w.filename, w.sha256) for w in wheels]
    assert chosen["uv"] == chosen["pip"]


@pytest.mark.parametrize(("args", "message", "hint"), [
    (["lambdapack-no-such-package-zzqq"], "no package named 'lambdapack-no-such-package-zzqq'", "spelling"),
    (["numpy==2.5.5", "--runtime", "python3.11"], "numpy", "numpy 2.2.6"),
    (["docopt"], "no release of docopt has a wheel", "wheels"),
])
def test_bad_requirements_give_one_error_with_a_hint_and_no_artifact(
        args: list[str], message: str, hint: str, tmp_path: Path, layer_download_cache: Path,
        run_cli: Callable, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = run_cli("build-layer", *args, "--cache-dir", str(layer_download_cache))
    assert result.exit_code == 1
    error, hint_line = [line for line in result.stderr.splitlines() if line.startswith(("error:", "hint:"))]
    assert message in error and hint in hint_line
    assert not (tmp_path / "dist").exists() or not any((tmp_path / "dist").iterdir())
