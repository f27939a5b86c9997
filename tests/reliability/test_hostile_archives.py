"""The generated hostile archives against lambdapack's own zip reader (``lambdapack.archive``).

Each archive must be refused with an ArchiveError carrying a hint, and nothing may appear
outside the build directory: no file, no directory, no link leading out.
"""

from __future__ import annotations

import os
import stat
import zipfile
from pathlib import Path

import hostile
import pytest
from escape_checks import assert_nothing_outside, links_leaving, snapshot

from lambdapack.archive import ZipEntry, open_zip, safe_extract, validate_members, write_zip
from lambdapack.errors import ArchiveError

ZIP_CASES = [c for c in hostile.cases() if "layer" in c.kinds]


@pytest.mark.parametrize("case", ZIP_CASES, ids=lambda c: c.name)
def test_safe_extract_refuses_every_hostile_zip(case: hostile.HostileCase, hostile_dir: Path,
                                                tmp_path: Path) -> None:
    archive = hostile.build_case(case, hostile_dir)
    sandbox = tmp_path / "sandbox"
    build = sandbox / "project" / "build"
    (sandbox / "project").mkdir(parents=True)
    (sandbox / "project" / "keep.txt").write_text("untouched\n")
    before = snapshot(sandbox)
    with pytest.raises(ArchiveError, match=case.expect) as caught:
        safe_extract(archive, build)
    assert caught.value.hint, "every refusal says what to do"
    assert_nothing_outside(sandbox, build, before)


# Only an extraction sees these: the data or the link targets must be read.
NEEDS_EXTRACTION = {"symlink-absolute", "symlink-up", "symlink-chain", "bomb-lying-size", "corrupt-data"}


@pytest.mark.parametrize("case", [c for c in ZIP_CASES if c.name not in NEEDS_EXTRACTION], ids=lambda c: c.name)
def test_validation_alone_refuses_before_writing(case: hostile.HostileCase, hostile_dir: Path) -> None:
    """Readers that only list a zip (check-layer, deploy's pre-flight) get the same verdict,
    except for the cases only an actual extraction can see (corrupt data, link resolution)."""
    archive = hostile.build_case(case, hostile_dir)
    with pytest.raises(ArchiveError, match=case.expect), open_zip(archive) as zf:
        validate_members(zf)


def test_a_normal_layer_zip_still_extracts(tmp_path: Path) -> None:
    """The control: the checks don't refuse an ordinary archive with an internal link."""
    archive = tmp_path / "ok.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("python/lib/python3.12/site-packages/pkg/__init__.py", "VALUE = 1\n")
        zf.writestr("python/lib/python3.12/site-packages/pkg/data/", "")
        zf.writestr("python/lib/python3.12/site-packages/pkg.libs/libx.so.1", b"\x7fELF" + os.urandom(5000))
        link = zipfile.ZipInfo("python/lib/python3.12/site-packages/pkg.libs/libx.so")
        link.create_system = 3
        link.external_attr = (stat.S_IFLNK | 0o777) << 16
        zf.writestr(link, "libx.so.1")
        text = "".join(f"row {i},{i * i},{i % 7}\n" for i in range(200_000))  # ~3 MiB of CSV-like text
        zf.writestr("python/data.csv", text)
    report = safe_extract(archive, tmp_path / "out")
    assert report.files == 4
    assert (tmp_path / "out/python/lib/python3.12/site-packages/pkg.libs/libx.so").is_symlink()
    assert links_leaving(tmp_path / "out") == []


def test_a_planted_hard_link_is_replaced_not_written_through(tmp_path: Path) -> None:
    """A build tree hard-linked from a cache: extracting over it must leave the cache intact."""
    cache_file = tmp_path / "cache" / "mod.py"
    cache_file.parent.mkdir()
    cache_file.write_text("CACHED = True\n")
    build = tmp_path / "build"
    (build / "python").mkdir(parents=True)
    os.link(cache_file, build / "python" / "mod.py")
    archive = write_zip(tmp_path / "a.zip", [ZipEntry("python/mod.py", b"NEW = True\n")]) and tmp_path / "a.zip"
    safe_extract(archive, build)
    assert cache_file.read_text() == "CACHED = True\n"
    assert (build / "python" / "mod.py").read_text() == "NEW = True\n"
    assert os.stat(build / "python" / "mod.py").st_nlink == 1


def test_a_planted_symlink_is_replaced_not_followed(tmp_path: Path) -> None:
    outside = tmp_path / "outside.txt"
    outside.write_text("precious\n")
    build = tmp_path / "build"
    (build / "python").mkdir(parents=True)
    (build / "python" / "mod.py").symlink_to(outside)
    write_zip(tmp_path / "a.zip", [ZipEntry("python/mod.py", b"NEW = True\n")])
    safe_extract(tmp_path / "a.zip", build)
    assert outside.read_text() == "precious\n"
    assert not (build / "python" / "mod.py").is_symlink()


def test_a_planted_directory_link_is_not_followed_even_by_mkdir(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    build = tmp_path / "build"
    build.mkdir()
    (build / "python").symlink_to(outside, target_is_directory=True)
    write_zip(tmp_path / "a.zip", [ZipEntry("python/deep/new/mod.py", b"x")])
    with pytest.raises(ArchiveError, match="escapes"):
        safe_extract(tmp_path / "a.zip", build)
    assert list(outside.iterdir()) == []


def test_special_modes_are_not_reproduced(tmp_path: Path) -> None:
    """setuid bits and device types in external_attr are dropped: a plain 0755/0644 file results."""
    archive = tmp_path / "modes.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for name, mode in [("suid", stat.S_IFREG | 0o4755), ("dev", stat.S_IFCHR | 0o666),
                           ("fifo", stat.S_IFIFO | 0o644)]:
            info = zipfile.ZipInfo(f"python/{name}")
            info.create_system = 3
            info.external_attr = mode << 16
            zf.writestr(info, b"payload")
    safe_extract(archive, tmp_path / "out")
    modes = {p.name: p.lstat().st_mode for p in (tmp_path / "out" / "python").iterdir()}
    assert all(stat.S_ISREG(m) for m in modes.values())
    assert {n: stat.S_IMODE(m) for n, m in modes.items()} == {"suid": 0o755, "dev": 0o644, "fifo": 0o644}


def test_the_suite_is_complete(hostile_dir: Path) -> None:
    """The brief's categories are all present; a case removed by accident fails here."""
    names = {c.name for c in hostile.cases()}
    for required in ("dotdot", "absolute", "symlink-absolute", "symlink-up", "symlink-chain", "duplicate",
                     "bomb-ratio", "bomb-total", "bomb-overall-ratio", "overlapping-entries",
                     "wheel-record-hash-mismatch", "truncated", "corrupt-data"):
        assert required in names
    assert len(list(hostile_dir.rglob("*.zip")) + list(hostile_dir.rglob("*.whl"))) == len(names)
