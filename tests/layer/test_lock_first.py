"""Lock-first rebuilds: a rebuild of unchanged inputs installs what they resolved to, from the cache.

The fast tests serve tiny wheels from a local simple index (``UV_INDEX_URL=file://…``), so a
"new release" can be published in the middle of a test; the slow one builds from real PyPI,
then rebuilds with every proxy variable pointing at a dead port.
"""

from __future__ import annotations

import hashlib
import os
import stat
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

from lambdapack.layer.build import PHASES

PROXY_VARS = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy")


@pytest.fixture
def publish(write_wheel_to: Callable[..., Path]) -> Callable[..., Path]:
    """``publish(index, name, version)``: add a wheel to a PEP 503 simple index directory."""

    def add(index: Path, name: str, version: str, files: dict[str, bytes] | None = None) -> Path:
        return _publish(write_wheel_to, index, name, version, files)

    return add


def _publish(write_wheel: Callable[..., Path], index: Path, name: str, version: str,
             files: dict[str, bytes] | None) -> Path:
    project = index / name
    project.mkdir(parents=True, exist_ok=True)
    wheel = write_wheel(project, name, version, files or {f"{name}/__init__.py": f"V = {version!r}\n".encode()})
    links = "".join(f'<a href="{w.name}#sha256={hashlib.sha256(w.read_bytes()).hexdigest()}">{w.name}</a>\n'
                    for w in sorted(project.glob("*.whl")))
    (project / "index.html").write_text(f"<html><body>\n{links}</body></html>\n")
    return wheel


@pytest.fixture
def index(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """A local index the uv resolver reads instead of PyPI; builds run in tmp_path with a private cache."""
    simple = tmp_path / "simple"
    simple.mkdir()
    monkeypatch.setenv("UV_INDEX_URL", simple.as_uri())
    monkeypatch.setenv("UV_OFFLINE", "1")  # file:// still works; nothing may go to the network
    monkeypatch.setenv("LAMBDAPACK_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.chdir(tmp_path)
    return simple


def _versions(doc: dict) -> dict[str, str]:
    return {p["name"]: p["version"] for p in doc["packages"]}


def build(run_cli: Callable, *args: str) -> dict:
    result = run_cli("build-layer", *args, "--no-compile", "--no-check", "--json")
    assert result.exit_code == 0, result.stderr
    assert "timings: resolve" in result.stderr  # the phase line goes to stderr, --json or not
    return result.json()


def test_a_stored_resolution_is_installed_until_upgrade(index: Path, run_cli: Callable, publish: Callable) -> None:
    publish(index, "alpha", "1.0")
    first = build(run_cli, "alpha")
    assert _versions(first) == {"alpha": "1.0"} and first["resolution"] == "resolved"
    assert list(first["timings"]) == list(PHASES)

    publish(index, "alpha", "2.0")  # a new release: the unchanged inputs keep their pins
    again = build(run_cli, "alpha")
    assert _versions(again) == {"alpha": "1.0"} and again["resolution"] == "stored"
    assert again["cached"] is True and again["sha256"] == first["sha256"]
    assert again["timings"]["resolve"] == 0.0

    # nothing changed and dist/'s zip is the one written last time: it is left in place
    placed = Path(first["path"])
    inode = placed.stat().st_ino
    assert build(run_cli, "alpha")["cached"] is True and placed.stat().st_ino == inode
    placed.write_bytes(placed.read_bytes() + b"tampered")  # touched since: written again from the cache
    assert build(run_cli, "alpha")["sha256"] == first["sha256"]
    assert hashlib.sha256(placed.read_bytes()).hexdigest() == first["sha256"]

    upgraded = build(run_cli, "alpha", "--upgrade")
    assert _versions(upgraded) == {"alpha": "2.0"} and upgraded["resolution"] == "resolved"
    assert build(run_cli, "alpha")["resolution"] == "stored"  # the upgrade is what is stored now
    assert _versions(build(run_cli, "alpha")) == {"alpha": "2.0"}


def test_upgrade_package_moves_one_pin_and_keeps_the_others(index: Path, run_cli: Callable,
                                                             publish: Callable) -> None:
    publish(index, "alpha", "1.0")
    publish(index, "beta", "1.0")
    assert _versions(build(run_cli, "alpha", "beta")) == {"alpha": "1.0", "beta": "1.0"}
    publish(index, "alpha", "2.0")
    publish(index, "beta", "2.0")
    doc = build(run_cli, "alpha", "beta", "--upgrade-package", "Beta")
    assert _versions(doc) == {"alpha": "1.0", "beta": "2.0"} and doc["resolution"] == "resolved"
    assert _versions(build(run_cli, "alpha", "beta", "-P", "alpha")) == {"alpha": "2.0", "beta": "2.0"}


def test_changed_inputs_invalidate_exactly_what_they_decide(index: Path, run_cli: Callable, tmp_path: Path,
                                                            publish: Callable) -> None:
    publish(index, "alpha", "1.0")
    base = build(run_cli, "alpha")
    publish(index, "alpha", "2.0")
    # another requirement string, another runtime: resolved anew (and so the new release)
    assert build(run_cli, "alpha>=1")["resolution"] == "resolved"
    other = build(run_cli, "alpha", "--runtime", "python3.13")
    assert other["resolution"] == "resolved" and _versions(other) == {"alpha": "2.0"}
    assert build(run_cli, "alpha", "--arch", "arm64")["resolution"] == "resolved"
    # a slimming option: same pins (no resolve), a new layer
    kept = build(run_cli, "alpha", "--keep-dist-info")
    assert kept["resolution"] == "stored" and kept["cached"] is False and kept["sha256"] != base["sha256"]
    # a requirements file's bytes, and those of the files it includes
    (tmp_path / "base.txt").write_text("alpha\n")
    (tmp_path / "req.txt").write_text("-r base.txt\n")
    assert build(run_cli, "-r", "req.txt")["resolution"] == "resolved"
    assert build(run_cli, "-r", "req.txt")["resolution"] == "stored"
    (tmp_path / "base.txt").write_text("alpha==1.0\n")
    doc = build(run_cli, "-r", "req.txt")
    assert doc["resolution"] == "resolved" and _versions(doc) == {"alpha": "1.0"}


def test_another_lambdapack_version_resolves_and_builds_anew(index: Path, run_cli: Callable, publish: Callable,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    from lambdapack.layer import cache

    publish(index, "alpha", "1.0")
    first = build(run_cli, "alpha")
    publish(index, "alpha", "2.0")
    monkeypatch.setattr(cache, "__version__", "999.0")
    doc = build(run_cli, "alpha")
    assert doc["resolution"] == "resolved" and doc["cached"] is False and _versions(doc) == {"alpha": "2.0"}
    assert doc["sha256"] != first["sha256"]


def test_a_local_wheels_bytes_decide_its_layer(index: Path, run_cli: Callable, tmp_path: Path,
                                               write_wheel_to: Callable[..., Path]) -> None:
    local = tmp_path / "local"
    local.mkdir()
    wheel = write_wheel_to(local, "gamma", "1.0", {"gamma/__init__.py": b"A = 1\n"})
    first = build(run_cli, str(wheel))
    assert build(run_cli, str(wheel))["cached"] is True
    write_wheel_to(local, "gamma", "1.0", {"gamma/__init__.py": b"A = 2\n"})  # same name, new bytes
    rebuilt = build(run_cli, str(wheel))
    assert rebuilt["resolution"] == "resolved" and rebuilt["cached"] is False
    assert rebuilt["packages"][0]["sha256"] != first["packages"][0]["sha256"]
    with zipfile.ZipFile(rebuilt["path"]) as zf:
        assert zf.read("python/lib/python3.12/site-packages/gamma/__init__.py") == b"A = 2\n"


def test_a_cached_layer_gets_the_same_mode_as_a_fresh_one(index: Path, run_cli: Callable, publish: Callable) -> None:
    publish(index, "alpha", "1.0")
    old = os.umask(0o027)
    try:
        fresh = build(run_cli, "alpha", "-o", "fresh.zip")
        cached = build(run_cli, "alpha", "-o", "cached.zip")
    finally:
        os.umask(old)
    assert fresh["cached"] is False and cached["cached"] is True
    assert stat.S_IMODE(Path("fresh.zip").stat().st_mode) == 0o640
    assert stat.S_IMODE(Path("cached.zip").stat().st_mode) == 0o640
    assert build(run_cli, "alpha", "-o", "default.zip")["cached"] is True
    assert stat.S_IMODE(Path("default.zip").stat().st_mode) == 0o666 & ~old


def test_a_pin_missing_from_the_wheel_cache_is_resolved_again(index: Path, run_cli: Callable,
                                                              publish: Callable) -> None:
    publish(index, "alpha", "1.0")
    first = build(run_cli, "alpha")
    (index / "alpha" / "alpha-1.0-py3-none-any.whl").unlink()  # the pinned file is gone from the index
    publish(index, "alpha", "2.0")
    result = run_cli("build-layer", "alpha", "--no-compile", "--no-check", "--json")
    # the stored pin names a local file that no longer exists: resolved again, preferring the old pin
    assert result.exit_code == 0, result.stderr
    assert _versions(result.json()) == {"alpha": "2.0"} and result.json()["sha256"] != first["sha256"]


@pytest.mark.slow
def test_a_rebuild_of_unchanged_inputs_makes_no_network_request(tmp_path: Path, run_cli: Callable,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    for var in ("UV_OFFLINE", "NO_PROXY", "no_proxy", "UV_INDEX_URL", "LAMBDAPACK_CACHE_DIR"):
        monkeypatch.delenv(var, raising=False)
    cache = tmp_path / "cache"
    # a pure-Python package and one with C extensions (strip and the ELF check have work to do)
    args = ("build-layer", "threadpoolctl", "markupsafe", "--cache-dir", str(cache), "--json")
    first = run_cli(*args, "-o", "first.zip")
    assert first.exit_code == 0, first.stderr
    assert first.json()["resolution"] == "resolved"

    dead = "http://127.0.0.1:9"  # the discard port: nothing listens, every connection is refused
    for var in PROXY_VARS:
        monkeypatch.setenv(var, dead)
    probe = run_cli(*args, "--upgrade", "-o", "probe.zip")  # proves the proxy really cuts the index off
    assert probe.exit_code == 1 and "cannot reach the package index" in probe.stderr
    assert not Path("probe.zip").exists()

    for layer in (cache / "layers").iterdir():  # no finished layer to reuse: install from the wheel cache
        layer.unlink()
    second = run_cli(*args, "-o", "second.zip")
    assert second.exit_code == 0, second.stderr
    doc = second.json()
    assert doc["resolution"] == "stored" and doc["cached"] is False
    assert doc["sha256"] == first.json()["sha256"]
    assert hashlib.sha256(Path("second.zip").read_bytes()).hexdigest() == first.json()["sha256"]

    third = run_cli(*args, "-o", "third.zip")  # nothing changed at all: the finished layer is reused
    assert third.exit_code == 0, third.stderr
    assert third.json()["cached"] is True and third.json()["sha256"] == first.json()["sha256"]
    assert Path("third.zip").read_bytes() == Path("first.zip").read_bytes()
