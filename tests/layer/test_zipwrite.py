"""The parallel layer zip writer gives write_zip's exact bytes."""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

import pytest

from lambdapack.archive import ZipEntry, entries_from_dir, write_zip
from lambdapack.errors import ArchiveError
from lambdapack.layer.zipwrite import write_zip_parallel


def _tree(root: Path) -> list[ZipEntry]:
    files = {
        "python/pkg/__init__.py": b"",
        "python/pkg/big.bin": os.urandom(3 * 1024 * 1024) + b"\0" * (5 * 1024 * 1024),
        "python/pkg/text.py": b"x = 1\n" * 50_000,
        "python/pkg/caf\u00e9.py": b"# non-ascii name\n",
        "python/bin/tool.so": b"\x7fELF" + b"\1" * 4000,
    }
    for rel, data in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    (root / "python/bin/tool.so").chmod(0o755)
    return [*entries_from_dir(root / "python", prefix="python"), ZipEntry("lambdapack-layer.json", b"{}\n")]


@pytest.mark.parametrize("workers", [1, 4])
def test_the_parallel_writer_gives_write_zips_bytes(tmp_path: Path, workers: int,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    entries = _tree(tmp_path / "tree")
    serial = write_zip(tmp_path / "serial.zip", entries)
    parallel = write_zip_parallel(tmp_path / "parallel.zip", list(reversed(entries)), workers=workers)
    assert parallel == serial
    assert (tmp_path / "parallel.zip").read_bytes() == (tmp_path / "serial.zip").read_bytes()
    with zipfile.ZipFile(tmp_path / "parallel.zip") as zf:
        assert zf.testzip() is None
        assert zf.read("python/pkg/text.py") == b"x = 1\n" * 50_000
        assert (zf.getinfo("python/bin/tool.so").external_attr >> 16) & 0o777 == 0o755


def test_the_parallel_writer_refuses_duplicates_and_leaves_nothing(tmp_path: Path) -> None:
    with pytest.raises(ArchiveError, match="duplicate"):
        write_zip_parallel(tmp_path / "x.zip", [ZipEntry("a", b"1"), ZipEntry("a", b"2")])
    assert list(tmp_path.iterdir()) == []
