"""Zips and the files around them, shared by every artifact: ``from lambdapack.archive import …``.

One concern per module; this package only gathers their names, so callers have one import path:

- :mod:`~lambdapack.archive.writer`: the one zip writer (:func:`write_zip`, :class:`ZipEntry`):
  sorted entries, fixed timestamps and modes, libdeflate on every core, written atomically;
- :mod:`~lambdapack.archive.reader`: opening a zip and checking every member before anything is
  written (:func:`open_zip`, :func:`validate_members`, :func:`check_member_name`);
- :mod:`~lambdapack.archive.extract`: unpacking what passed (:func:`safe_extract`), links last;
- :mod:`~lambdapack.archive.atomic`: files and directories moved into place only when complete
  (:func:`atomic_path`, :func:`staging_file`, :func:`staging_dir`, :func:`atomic_dir`);
- :mod:`~lambdapack.archive.scratch`: temporary directories named for their process, swept once
  it is gone (:func:`scratch_dir`);
- :mod:`~lambdapack.archive.hashing`: :func:`sha256_file`.
"""

from lambdapack.archive.atomic import (
    STALE_PARTIAL_AGE,
    atomic_dir,
    atomic_path,
    atomic_write_bytes,
    staging_dir,
    staging_file,
    sweep_stale_partials,
)
from lambdapack.archive.extract import ExtractReport, safe_extract
from lambdapack.archive.hashing import sha256_file
from lambdapack.archive.reader import (
    DEFAULT_MAX_RATIO,
    DEFAULT_MAX_UNPACKED,
    check_member_name,
    open_zip,
    unzipped_size,
    validate_members,
)
from lambdapack.archive.scratch import scratch_dir, sweep_dead_scratch
from lambdapack.archive.writer import (
    COMPRESSOR,
    DEFLATE_LEVEL,
    ZIP_EPOCH,
    Deflated,
    ZipEntry,
    deflate_raw,
    entries_from_dir,
    ordered_entries,
    source_date_epoch,
    write_zip,
)

__all__ = [
    "COMPRESSOR",
    "DEFAULT_MAX_RATIO",
    "DEFAULT_MAX_UNPACKED",
    "DEFLATE_LEVEL",
    "STALE_PARTIAL_AGE",
    "ZIP_EPOCH",
    "Deflated",
    "ExtractReport",
    "ZipEntry",
    "atomic_dir",
    "atomic_path",
    "atomic_write_bytes",
    "check_member_name",
    "deflate_raw",
    "entries_from_dir",
    "open_zip",
    "ordered_entries",
    "safe_extract",
    "scratch_dir",
    "sha256_file",
    "source_date_epoch",
    "staging_dir",
    "staging_file",
    "sweep_dead_scratch",
    "sweep_stale_partials",
    "unzipped_size",
    "validate_members",
    "write_zip",
]
