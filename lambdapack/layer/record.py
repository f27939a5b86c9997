"""The layer build record ``lambdapack-layer.json``: its name, its schema, and the one reader.

``build-layer`` writes it at the root of the layer zip (docs/formats.md). Everything that
reads it — check-layer, ``train --layer``, ``package --layer``, the emulator, the demo and
deploy's preflight — goes through :func:`read_record`, so every reader refuses the same
things with the same words: an unreadable member, invalid JSON, a non-object, a schema this
lambdapack does not know. A missing record is not an error here (``None``): each caller says
what a record-less layer means for it.
"""

from __future__ import annotations

import json
import zipfile
import zlib
from pathlib import Path
from typing import Any

from lambdapack.archive import open_zip
from lambdapack.errors import ArchiveError, LambdapackError, LayerError

RECORD_NAME = "lambdapack-layer.json"
SCHEMA = "lambdapack.layer/1"
_REBUILD = "rebuild the layer with `lambdapack build-layer`"


def record_bytes(record: dict[str, Any]) -> bytes:
    """The record as written into the layer (stable key order from the builder, trailing newline)."""
    return (json.dumps(record, indent=2) + "\n").encode()


def read_record(source: zipfile.ZipFile | Path | str, *,
                error: type[LambdapackError] = LayerError) -> dict[str, Any] | None:
    """The validated build record of a layer, or None when it has none.

    ``source``: an open layer zip, the path of a layer zip, or an extracted layer directory.
    A record that is present but unusable raises ``error`` (the caller's area error; LayerError
    by default) with a hint to rebuild or upgrade.
    """
    if isinstance(source, zipfile.ZipFile):
        return _read_from_zip(source, str(source.filename or "the layer"), error)
    path = Path(source)
    if path.is_dir():
        try:
            raw = (path / RECORD_NAME).read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise error(f"{path}: cannot read {RECORD_NAME} ({exc.strerror or exc})",
                        hint="check the directory's permissions, or " + _REBUILD) from None
        return _parse(raw, str(path), error)
    try:
        zf = open_zip(path)
    except ArchiveError as exc:
        raise error(exc.message, hint=exc.hint) from None
    with zf:
        return _read_from_zip(zf, str(path), error)


def read_record_lenient(source: zipfile.ZipFile | Path | str) -> dict[str, Any] | None:
    """Like :func:`read_record`, but an unusable record (or an unreadable zip) counts as absent.

    For callers that only use the record as a hint and fall back to something else without it:
    check-layer's report (the layout and the ELF headers still say what the layer is) and the
    demo's reuse test (an unusable layer is simply rebuilt).
    """
    try:
        return read_record(source)
    except LayerError:
        return None


def _read_from_zip(zf: zipfile.ZipFile, label: str, error: type[LambdapackError]) -> dict[str, Any] | None:
    try:
        raw = zf.read(RECORD_NAME)
    except KeyError:
        return None
    except (OSError, EOFError, ValueError, zipfile.BadZipFile, zlib.error, NotImplementedError) as exc:
        # CRC mismatch, truncated data, unsupported compression: the member is there but unreadable
        raise error(f"{label}: cannot read {RECORD_NAME} ({exc})",
                    hint="the layer is corrupt; " + _REBUILD) from None
    return _parse(raw, label, error)


def _parse(raw: bytes, label: str, error: type[LambdapackError]) -> dict[str, Any]:
    try:
        record = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise error(f"{label}: {RECORD_NAME} is not valid JSON ({exc})", hint=_REBUILD) from None
    if not isinstance(record, dict):
        raise error(f"{label}: {RECORD_NAME} is not a JSON object", hint=_REBUILD)
    if record.get("schema") != SCHEMA:
        raise error(f"{label}: unknown layer record schema {record.get('schema')!r} "
                    f"(this lambdapack reads {SCHEMA!r})",
                    hint="upgrade lambdapack, or rebuild the layer with this version")
    return record
