from __future__ import annotations

import os
import stat
import time
import zipfile
from pathlib import Path

import pytest

from lambdapack.archive import (
    ZipEntry,
    atomic_dir,
    entries_from_dir,
    safe_extract,
    sha256_file,
    write_zip,
)
from lambdapack.errors import ArchiveError


def _tree(root: Path) -> Path:
    (root / "b").mkdir(parents=True)
    (root / "b" / "x.py").write_text("x = 1\n")
    (root / "a.txt").write_text("hello\n")
    tool = root / "b" / "tool.sh"
    tool.write_text("#!/bin/sh\n")
    tool.chmod(0o700)
    return root


def test_zip_is_byte_identical_whatever_the_file_times(tmp_path: Path) -> None:
    src = _tree(tmp_path / "src")
    first = write_zip(tmp_path / "one.zip", entries_from_dir(src, "python"))
    os.utime(src / "a.txt", (1_000_000_000, 1_000_000_000))
    (src / "b" / "x.py").chmod(0o600)
    second = write_zip(tmp_path / "two.zip", entries_from_dir(src, "python"))
    assert first == second == sha256_file(tmp_path / "one.zip")
    with zipfile.ZipFile(tmp_path / "one.zip") as zf:
        names = zf.namelist()
        assert names == sorted(names) == ["python/a.txt", "python/b/tool.sh", "python/b/x.py"]
        modes = {i.filename: stat.S_IMODE(i.external_attr >> 16) for i in zf.infolist()}
        assert modes == {"python/a.txt": 0o644, "python/b/tool.sh": 0o755, "python/b/x.py": 0o644}
        assert {i.date_time for i in zf.infolist()} == {(1980, 1, 1, 0, 0, 0)}


def test_source_date_epoch_is_honoured(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    write_zip(tmp_path / "z.zip", [ZipEntry("f", b"1")])
    with zipfile.ZipFile(tmp_path / "z.zip") as zf:
        assert zf.infolist()[0].date_time == (2023, 11, 14, 22, 13, 20)


def test_failed_write_keeps_the_previous_artifact(tmp_path: Path) -> None:
    dest = tmp_path / "out.zip"
    good = write_zip(dest, [ZipEntry("f", b"good")])
    with pytest.raises(FileNotFoundError):
        write_zip(dest, [ZipEntry("a", b"1"), ZipEntry("b", tmp_path / "missing")])
    assert sha256_file(dest) == good
    assert [p.name for p in tmp_path.iterdir()] == ["out.zip"]


def test_duplicate_entries_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ArchiveError, match="duplicate"):
        write_zip(tmp_path / "d.zip", [ZipEntry("f", b"1"), ZipEntry("f", b"2")])
    assert not (tmp_path / "d.zip").exists()


def _raw_zip(path: Path, members: list[tuple[str, bytes]], symlinks: dict[str, str] | None = None) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members:
            zf.writestr(name, data)
        for name, target in (symlinks or {}).items():
            info = zipfile.ZipInfo(name)
            info.create_system = 3
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            zf.writestr(info, target)
    return path


@pytest.mark.parametrize(("members", "links", "message"), [
    ([("../evil.txt", b"x")], None, "escapes"),
    ([("a/../../evil.txt", b"x")], None, "escapes"),
    ([("/etc/evil", b"x")], None, "absolute"),
    ([("C:/evil", b"x")], None, "absolute"),
    ([], {"link": "../../outside"}, "pointing outside"),
    ([], {"link": "/etc/passwd"}, "pointing outside"),
    ([("dup", b"1"), ("dup", b"2")], None, "twice"),
])
def test_hostile_members_are_refused(tmp_path: Path, members, links, message: str) -> None:
    with pytest.warns(UserWarning) if len(members) == 2 else _nothing():
        archive = _raw_zip(tmp_path / "bad.zip", members, links)
    dest = tmp_path / "out" / "inner"
    with pytest.raises(ArchiveError, match=message):
        safe_extract(archive, dest)
    assert not (tmp_path / "evil.txt").exists() and not (tmp_path / "out" / "evil.txt").exists()


class _nothing:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


def test_links_inside_the_target_are_kept(tmp_path: Path) -> None:
    archive = _raw_zip(tmp_path / "ok.zip", [("lib/libfoo.so.1", b"elf")], {"lib/libfoo.so": "libfoo.so.1"})
    report = safe_extract(archive, tmp_path / "out")
    assert report.files == 2
    assert (tmp_path / "out" / "lib" / "libfoo.so").read_bytes() == b"elf"


def test_a_decompression_bomb_is_refused(tmp_path: Path) -> None:
    bomb = tmp_path / "bomb.zip"
    with zipfile.ZipFile(bomb, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("zeros", b"\0" * (20 * 1024 * 1024))
    with pytest.raises(ArchiveError, match=r"decompression bomb|compresses"):
        safe_extract(bomb, tmp_path / "out")
    with pytest.raises(ArchiveError, match="more than"):
        safe_extract(bomb, tmp_path / "out2", max_unpacked=1024, max_ratio=10**9)


def test_corrupt_and_missing_archives_are_reported(tmp_path: Path) -> None:
    (tmp_path / "junk.zip").write_bytes(b"not a zip at all")
    with pytest.raises(ArchiveError, match="not a valid zip"):
        safe_extract(tmp_path / "junk.zip", tmp_path / "o")
    with pytest.raises(ArchiveError, match="no such file"):
        safe_extract(tmp_path / "nope.zip", tmp_path / "o")
    good = write_zip(tmp_path / "t.zip", [ZipEntry("f", os.urandom(4096))])
    assert good
    data = bytearray((tmp_path / "t.zip").read_bytes())
    data[60:200] = b"\0" * 140  # damage the deflate stream, keep the directory
    (tmp_path / "t.zip").write_bytes(bytes(data))
    with pytest.raises(ArchiveError):
        safe_extract(tmp_path / "t.zip", tmp_path / "o2")


def test_a_killed_runs_staging_files_are_swept_but_a_live_writers_are_not(tmp_path: Path) -> None:
    from lambdapack.archive import STALE_PARTIAL_AGE

    dest = tmp_path / "function.zip"
    old = time.time() - STALE_PARTIAL_AGE - 60
    stale_file = tmp_path / ".function.zip.abc123.tmp"
    stale_file.write_bytes(b"half a zip")
    stale_dir = tmp_path / ".function.zip.def456.building"
    stale_dir.mkdir()
    (stale_dir / "x").write_text("x")
    for p in (stale_file, stale_dir):
        os.utime(p, (old, old))
    live = tmp_path / ".function.zip.live99.tmp"
    live.write_bytes(b"being written right now")
    backup = tmp_path / ".function.zip.keep.old"  # a previous artifact kept aside: never swept
    backup.write_bytes(b"previous")
    os.utime(backup, (old, old))
    other = tmp_path / ".other.zip.zzz.tmp"
    other.write_bytes(b"someone else's")
    os.utime(other, (old, old))

    write_zip(dest, [ZipEntry("f", b"1")])

    assert not stale_file.exists() and not stale_dir.exists()
    assert live.exists() and backup.exists() and other.exists()


def test_atomic_dir_publishes_only_a_finished_directory(tmp_path: Path) -> None:
    dest = tmp_path / "cache" / "opt-1"
    with pytest.raises(RuntimeError), atomic_dir(dest, ".complete") as tmp:
        (tmp / "half").write_text("x")
        raise RuntimeError("killed halfway")
    assert not dest.exists() and list(dest.parent.iterdir()) == []
    with atomic_dir(dest, ".complete") as tmp:
        (tmp / "whole").write_text("x")
        (tmp / ".complete").write_text("")
    assert sorted(p.name for p in dest.iterdir()) == [".complete", "whole"]
    # another process finished the same work first: theirs stays, ours goes
    with atomic_dir(dest, ".complete") as tmp:
        (tmp / "ours").write_text("x")
        (tmp / ".complete").write_text("")
    assert sorted(p.name for p in dest.iterdir()) == [".complete", "whole"]
    assert [p.name for p in dest.parent.iterdir()] == ["opt-1"]


def test_atomic_dir_replaces_a_crashs_leftover(tmp_path: Path) -> None:
    dest = tmp_path / "runtime"
    dest.mkdir()
    (dest / "partial").write_text("x")  # no marker: never finished
    with atomic_dir(dest, ".complete") as tmp:
        (tmp / ".complete").write_text("")
    assert [p.name for p in dest.iterdir()] == [".complete"]
