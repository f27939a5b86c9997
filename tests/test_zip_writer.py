"""The one zip writer: reproducible on any number of cores, and the wheels' deflated bytes reused only when exact."""

from __future__ import annotations

import os
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import pytest

from lambdapack.archive import ZipEntry, entries_from_dir, write_zip
from lambdapack.errors import ArchiveError

FILES = {
    "python/pkg/__init__.py": b"",
    "python/pkg/big.bin": os.urandom(3 * 1024 * 1024) + b"\0" * (5 * 1024 * 1024),
    "python/pkg/text.py": b"x = 1\n" * 50_000,
    "python/pkg/caf\u00e9.py": b"# non-ascii name\n",
    "python/bin/tool.so": b"\x7fELF" + b"\1" * 4000,
}


def _tree(root: Path) -> list[ZipEntry]:
    for rel, data in FILES.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    (root / "python/bin/tool.so").chmod(0o755)
    return [*entries_from_dir(root / "python", prefix="python"), ZipEntry("lambdapack-layer.json", b"{}\n")]


@dataclass(frozen=True)
class Stream:
    """A member deflated elsewhere (as a wheel would hold it): zlib at level 1, so it differs from ours."""

    data: bytes
    crc: int
    file_size: int

    @classmethod
    def of(cls, data: bytes) -> Stream:
        compressor = zlib.compressobj(1, zlib.DEFLATED, -15)
        return cls(compressor.compress(data) + compressor.flush(), zlib.crc32(data), len(data))

    def deflated(self) -> bytes:
        return self.data


def test_the_same_bytes_on_any_number_of_workers_and_in_any_input_order(tmp_path: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    entries = _tree(tmp_path / "tree")
    digests = {write_zip(tmp_path / f"{n}.zip", list(reversed(entries)) if n % 2 else entries, workers=n)
               for n in (1, 2, 4, 7)}
    assert len(digests) == 1
    with zipfile.ZipFile(tmp_path / "1.zip") as zf:
        assert zf.testzip() is None
        assert zf.namelist() == sorted(zf.namelist())
        assert {name: zf.read(name) for name in FILES} == FILES
        assert (zf.getinfo("python/bin/tool.so").external_attr >> 16) & 0o777 == 0o755
        assert (zf.getinfo("python/pkg/text.py").external_attr >> 16) & 0o777 == 0o644
        assert {i.date_time for i in zf.infolist()} == {(2023, 11, 14, 22, 13, 20)}


def test_a_reused_stream_is_copied_as_it_is_when_the_file_still_matches(tmp_path: Path) -> None:
    entries = _tree(tmp_path / "tree")
    text = tmp_path / "tree/python/pkg/text.py"
    stream = Stream.of(text.read_bytes())
    reusing = [ZipEntry(e.arcname, e.source, e.executable, reuse=stream if e.source == text else None)
               for e in entries]
    write_zip(tmp_path / "plain.zip", entries)
    write_zip(tmp_path / "reused.zip", reusing)
    with zipfile.ZipFile(tmp_path / "plain.zip") as plain, zipfile.ZipFile(tmp_path / "reused.zip") as reused:
        assert reused.testzip() is None
        assert reused.read("python/pkg/text.py") == FILES["python/pkg/text.py"]
        assert reused.getinfo("python/pkg/text.py").compress_size == len(stream.data)
        assert plain.getinfo("python/pkg/text.py").compress_size != len(stream.data)
        others = [n for n in plain.namelist() if n != "python/pkg/text.py"]
        assert [plain.getinfo(n).compress_size for n in others] == [reused.getinfo(n).compress_size for n in others]


@pytest.mark.parametrize("change", ["same size, other bytes", "other size"])
def test_a_file_changed_since_its_stream_was_made_is_deflated_afresh(tmp_path: Path, change: str) -> None:
    """What strip does to an extension module: the wheel's stream no longer describes the file."""
    entries = _tree(tmp_path / "tree")
    tool = tmp_path / "tree/python/bin/tool.so"
    stream = Stream.of(tool.read_bytes())
    tool.write_bytes(b"\x7fELF" + b"\2" * 4000 if change == "same size, other bytes" else b"\x7fELF stripped")
    reusing = [ZipEntry(e.arcname, e.source, e.executable, reuse=stream if e.source == tool else None)
               for e in entries]
    write_zip(tmp_path / "out.zip", reusing)
    with zipfile.ZipFile(tmp_path / "out.zip") as zf:
        assert zf.testzip() is None
        assert zf.read("python/bin/tool.so") == tool.read_bytes()
        assert zf.getinfo("python/bin/tool.so").compress_size != len(stream.data)


def test_the_writer_refuses_duplicates_and_leaves_nothing(tmp_path: Path) -> None:
    with pytest.raises(ArchiveError, match="duplicate"):
        write_zip(tmp_path / "x.zip", [ZipEntry("a", b"1"), ZipEntry("a", b"2")])
    assert list(tmp_path.iterdir()) == []
