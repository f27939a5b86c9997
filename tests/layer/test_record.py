"""The one reader of ``lambdapack-layer.json``: every source kind, every way a record can be unusable."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest

from lambdapack.archive import ZipEntry, write_zip
from lambdapack.errors import EmulatorError, LayerError
from lambdapack.layer.record import RECORD_NAME, SCHEMA, read_record, read_record_lenient, record_bytes

RECORD = {"schema": SCHEMA, "runtime": "python3.12", "arch": "x86_64", "python_version": "3.12", "packages": []}


def _zip(tmp_path: Path, raw: bytes | None) -> Path:
    path = tmp_path / "layer.zip"
    entries = [ZipEntry("python/mod.py", b"x = 1\n")]
    if raw is not None:
        entries.append(ZipEntry(RECORD_NAME, raw))
    write_zip(path, entries)
    return path


def test_reads_from_zip_path_open_zip_and_directory(tmp_path: Path) -> None:
    path = _zip(tmp_path, record_bytes(RECORD))
    assert read_record(path) == RECORD
    with zipfile.ZipFile(path) as zf:
        assert read_record(zf) == RECORD
    (tmp_path / "extracted").mkdir()
    (tmp_path / "extracted" / RECORD_NAME).write_bytes(record_bytes(RECORD))
    assert read_record(tmp_path / "extracted") == RECORD


def test_absent_record_is_none(tmp_path: Path) -> None:
    assert read_record(_zip(tmp_path, None)) is None
    assert read_record(tmp_path) is None


@pytest.mark.parametrize(("raw", "words"), [
    (b"{not json", "is not valid JSON"),
    (b"[1, 2]", "is not a JSON object"),
    (json.dumps({**RECORD, "schema": "lambdapack.layer/9"}).encode(),
     "unknown layer record schema 'lambdapack.layer/9'"),
    (json.dumps({"runtime": "python3.12"}).encode(), "unknown layer record schema None"),
])
def test_unusable_record_is_refused_with_a_hint(tmp_path: Path, raw: bytes, words: str) -> None:
    path = _zip(tmp_path, raw)
    with pytest.raises(LayerError, match=words) as info:
        read_record(path)
    assert str(path) in info.value.message and info.value.hint
    with pytest.raises(EmulatorError, match=words):
        read_record(path, error=EmulatorError)
    assert read_record_lenient(path) is None


def test_not_a_zip_is_refused_or_absent_when_lenient(tmp_path: Path) -> None:
    bad = tmp_path / "layer.zip"
    bad.write_bytes(b"not a zip")
    with pytest.raises(LayerError, match="not a valid zip"):
        read_record(bad)
    assert read_record_lenient(bad) is None
