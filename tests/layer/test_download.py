"""The wheel store's download step: a file appears under its final name only when complete and verified.

Served from a ``file://`` URL (urllib's own handler), so no network is involved.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from lambdapack.errors import ResolveError, WheelError
from lambdapack.wheels.store import download

NAME = "demo-1.0-py3-none-any.whl"


def _source(tmp_path: Path) -> tuple[str, str]:
    path = tmp_path / "served" / NAME
    path.parent.mkdir()
    path.write_bytes(b"wheel bytes" * 1000)
    return path.as_uri(), hashlib.sha256(path.read_bytes()).hexdigest()


def _leftovers(cache: Path) -> list[Path]:
    """Files in the store, not counting the per-wheel lock files."""
    return [p for p in cache.rglob("*") if p.is_file() and "locks" not in p.parts] if cache.exists() else []


def test_verified_download_lands_in_the_store(tmp_path: Path) -> None:
    url, digest = _source(tmp_path)
    cache = tmp_path / "cache"
    dest = download(url, digest, NAME, cache, None, None)
    assert dest.read_bytes() == b"wheel bytes" * 1000
    assert _leftovers(cache) == [dest]


def test_a_sha256_mismatch_leaves_nothing(tmp_path: Path) -> None:
    url, _ = _source(tmp_path)
    cache = tmp_path / "cache"
    with pytest.raises(WheelError, match="sha256 mismatch"):
        download(url, "0" * 64, NAME, cache, None, None)
    assert _leftovers(cache) == []


def test_an_unreachable_source_is_a_resolve_error_and_leaves_nothing(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    with pytest.raises(ResolveError, match=f"cannot download {NAME}"):
        download((tmp_path / "missing.whl").as_uri(), "1" * 64, NAME, cache, None, None)
    assert _leftovers(cache) == []
