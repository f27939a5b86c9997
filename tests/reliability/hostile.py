"""A generated suite of hostile archives: wheels, layer zips and function zips that try to escape.

Every case is built from scratch by the tests (nothing binary is checked in), so the suite
can be regenerated and extended. ``build_suite(dir)`` writes each archive and returns the
cases; each :class:`HostileCase` says which kinds of input it poses as (a ``wheel``, a
``layer`` zip, a ``function`` zip) and a regular expression the refusal message must match.

Zip has no hard-link member type (Info-ZIP stores a hard-linked file as a second full
copy), so "hard links pointing outside" are tried in the forms that do exist for a zip:

* overlapping entries: two central-directory records sharing one local file's bytes, the
  zip way of aliasing data (the trick behind non-recursive zip bombs);
* a member written onto a path that is already a hard link (or symlink) to a file outside
  the build directory, e.g. a build tree hard-linked from a package cache: extraction must
  replace the link, never write through it (``tests/reliability/test_hostile_archives.py``);
* tar hard links do not arise: lambdapack reads no tarballs (sdists are refused by
  ``--only-binary :all:``).
"""

from __future__ import annotations

import base64
import hashlib
import io
import stat
import struct
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

MIB = 1024 * 1024
OUTSIDE_NAME = "lambdapack-hostile-escape.txt"  # the file every escape tries to create


@dataclass(frozen=True)
class HostileCase:
    name: str
    kinds: frozenset[str]  # "wheel", "layer", "function": the inputs this case poses as
    expect: str  # regex the refusal message must match
    build: Callable[[Path], Path]
    description: str


def _link(name: str, target: str) -> tuple[zipfile.ZipInfo, bytes]:
    info = zipfile.ZipInfo(name)
    info.create_system = 3
    info.external_attr = (stat.S_IFLNK | 0o777) << 16
    return info, target.encode()


def _file(name: str, data: bytes = b"x", mode: int = 0o644) -> tuple[zipfile.ZipInfo, bytes]:
    info = zipfile.ZipInfo(name)
    info.create_system = 3
    info.external_attr = (stat.S_IFREG | mode) << 16
    info.compress_type = zipfile.ZIP_DEFLATED
    return info, data


Member = tuple[zipfile.ZipInfo, bytes]


def _zip(path: Path, members: list[Member]) -> Path:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for info, data in members:
            if info.filename in zf.NameToInfo:
                # zipfile warns about duplicates but writes them, which is what we want
                import warnings

                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    zf.writestr(info, data)
            else:
                zf.writestr(info, data)
    path.write_bytes(buf.getvalue())
    return path


# -- wheels -------------------------------------------------------------------------------

def _record_hash(data: bytes) -> str:
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def wheel_members(name: str = "hostile", version: str = "1.0", files: dict[str, bytes] | None = None,
                  *, record_override: dict[str, str] | None = None, omit_from_record: tuple[str, ...] = (),
                  omit_record: bool = False, requires: tuple[str, ...] = ()) -> list[Member]:
    """The members of a small pure-Python wheel, optionally with a doctored RECORD."""
    files = dict(files if files is not None else {f"{name}/__init__.py": b"VALUE = 1\n"})
    dist_info = f"{name}-{version}.dist-info"
    files[f"{dist_info}/METADATA"] = (f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
                                      + "".join(f"Requires-Dist: {r}\n" for r in requires)).encode()
    files[f"{dist_info}/WHEEL"] = (b"Wheel-Version: 1.0\nGenerator: lambdapack-tests\n"
                                   b"Root-Is-Purelib: true\nTag: py3-none-any\n")
    record_lines = []
    for arc, data in files.items():
        if arc in omit_from_record:
            continue
        digest = (record_override or {}).get(arc, _record_hash(data))
        record_lines.append(f"{arc},{digest},{len(data)}")
    record_lines.append(f"{dist_info}/RECORD,,")
    members = [_file(arc, data) for arc, data in files.items()]
    if not omit_record:
        members.append(_file(f"{dist_info}/RECORD", ("\n".join(record_lines) + "\n").encode()))
    return members


def wheel_filename(name: str = "hostile", version: str = "1.0") -> str:
    return f"{name}-{version}-py3-none-any.whl"


def good_wheel(directory: Path, name: str = "hostile", version: str = "1.0", requires: tuple[str, ...] = (),
               payload: bytes = b"VALUE = 1\n") -> Path:
    """A well-formed wheel, the control: everything that refuses the hostile ones must accept it."""
    directory.mkdir(parents=True, exist_ok=True)
    return _zip(directory / wheel_filename(name, version),
                wheel_members(name, version, {f"{name}/__init__.py": payload}, requires=requires))


def _wheel_case(directory: Path, case: str, **kwargs: object) -> Path:
    path = directory / case / wheel_filename()
    path.parent.mkdir(parents=True, exist_ok=True)
    return _zip(path, wheel_members(**kwargs))  # type: ignore[arg-type]


# -- raw archive surgery --------------------------------------------------------------------

def _overlapping(path: Path) -> Path:
    """Two central-directory entries sharing one local file: aliased data (zip's "hard link")."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("python/a.bin", bytes((i * 7919) % 251 for i in range(64 * 1024)))
    data = buf.getvalue()
    eocd = data.rfind(b"PK\x05\x06")
    cd_offset = struct.unpack("<I", data[eocd + 16:eocd + 20])[0]
    central = data[cd_offset:eocd]
    copies = [central] + [central.replace(b"python/a.bin", f"python/{i}.bin".encode().rjust(12, b"b"))
                          for i in range(1, 8)]
    new_central = b"".join(copies)
    record = bytearray(data[eocd:])
    struct.pack_into("<HH", record, 8, len(copies), len(copies))
    struct.pack_into("<I", record, 12, len(new_central))
    path.write_bytes(data[:cd_offset] + new_central + bytes(record))
    return path


def _truncated(path: Path) -> Path:
    good = _zip(path, [_file(f"python/m{i}.py", bytes(range(256)) * 40) for i in range(4)])
    data = good.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return path


def _corrupt_data(path: Path) -> Path:
    """Central directory intact, compressed bytes of a member damaged (CRC or inflate fails)."""
    payload = bytes((i * 7919) % 251 for i in range(64 * 1024))
    _zip(path, [_file("python/data.bin", payload)])
    data = bytearray(path.read_bytes())
    for offset in range(80, 400, 3):
        data[offset] ^= 0x5A
    path.write_bytes(bytes(data))
    return path


def _lying_size(path: Path) -> Path:
    """The header claims 16 bytes; the stream inflates to 8 MiB (zipfile stops at the claimed size)."""
    _zip(path, [_file("python/small.txt", b"\0" * (8 * MIB))])
    data = bytearray(path.read_bytes())
    eocd = data.rfind(b"PK\x05\x06")
    cd_offset = struct.unpack("<I", data[eocd + 16:eocd + 20])[0]
    struct.pack_into("<I", data, cd_offset + 24, 16)  # central directory uncompressed size
    struct.pack_into("<I", data, 22, 16)  # local header uncompressed size
    path.write_bytes(bytes(data))
    return path


def _repeated_deflate(path: Path, count: int, size: int) -> Path:
    """``count`` members of ``size`` zero bytes, compressed once and copied: fast to build."""
    data = b"\0" * size
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    packed = compressor.compress(data) + compressor.flush()
    crc = zlib.crc32(data)
    out = io.BytesIO()
    central = io.BytesIO()
    for i in range(count):
        name = f"python/z{i:04d}".encode()
        offset = out.tell()
        out.write(struct.pack("<4s5H3L2H", b"PK\x03\x04", 20, 0, 8, 0, 0x21, crc, len(packed), size,
                              len(name), 0) + name + packed)
        central.write(struct.pack("<4s6H3L5H2L", b"PK\x01\x02", 20, 20, 0, 8, 0, 0x21, crc, len(packed),
                                  size, len(name), 0, 0, 0, 0, 0, offset) + name)
    directory = central.getvalue()
    start = out.tell()
    out.write(directory)
    out.write(struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, count, count, len(directory), start, 0))
    path.write_bytes(out.getvalue())
    return path


def _many_small_bomb(path: Path) -> Path:
    """Each member just under the per-member ratio floor; together 1.1 GiB from ~1 MiB."""
    return _repeated_deflate(path, 1100, MIB - 1)


def _medium_bomb_under_total_cap(path: Path) -> Path:
    """400 members of just under 1 MiB: below the 1 GiB total cap, but 1000:1 overall."""
    return _repeated_deflate(path, 400, MIB - 1)


def _simple(members: Callable[[], list[Member]]) -> Callable[[Path], Path]:
    return lambda path: _zip(path, members())


ZIPS = frozenset({"layer", "function"})
ALL = frozenset({"layer", "function", "wheel"})

_ZIP_CASES: list[tuple[str, frozenset[str], str, Callable[[Path], Path], str]] = [
    ("dotdot", ALL, "escapes", _simple(lambda: [_file(f"../{OUTSIDE_NAME}")]),
     "member ../x"),
    ("dotdot-nested", ALL, "escapes", _simple(lambda: [_file(f"python/../../{OUTSIDE_NAME}")]),
     "member python/../../x"),
    ("dotdot-backslash", ALL, "escapes", _simple(lambda: [_file(f"..\\..\\{OUTSIDE_NAME}")]),
     "member ..\\..\\x (Windows separators)"),
    ("absolute", ALL, "absolute", _simple(lambda: [_file(f"/tmp/{OUTSIDE_NAME}")]),
     "member /tmp/x"),
    ("drive-letter", ALL, "absolute", _simple(lambda: [_file(f"C:/{OUTSIDE_NAME}")]),
     "member C:/x"),
    ("symlink-absolute", ALL, "pointing outside", _simple(lambda: [_link("python/passwd", "/etc/passwd")]),
     "symlink to /etc/passwd"),
    ("symlink-up", ALL, "pointing outside", _simple(lambda: [_link("python/up", "../../..")]),
     "symlink to ../../.."),
    ("symlink-then-write", ALL, "pointing outside|escapes|file and a directory",
     _simple(lambda: [_link("python/out", "../.."), _file(f"python/out/{OUTSIDE_NAME}")]),
     "symlink out, then a file written through it"),
    ("symlink-chain", ALL, "pointing outside|escapes",
     # a -> b/../.. stays inside while b does not exist; b -> . then makes a lead outside
     _simple(lambda: [_link("python/a", "b/../.."), _link("python/b", ".")]),
     "a link whose meaning a later link changes"),
    ("symlink-chain-write", ALL, "pointing outside|escapes|file and a directory",
     _simple(lambda: [_link("a", "b/.."), _link("b", "."), _file("a/escaped-dir/"),
                      _file(f"a/escaped-dir/{OUTSIDE_NAME}")]),
     "the same, then a directory and a file written through it"),
    ("duplicate", ALL, "twice|duplicate", _simple(lambda: [_file("python/dup.py", b"1"), _file("python/dup.py", b"2")]),
     "the same name twice (second copy wins in most unzippers)"),
    ("duplicate-normalised", ALL, "twice|duplicate",
     _simple(lambda: [_file("python/dup.py", b"1"), _file("python/./dup.py", b"2")]),
     "python/dup.py and python/./dup.py"),
    ("file-and-directory", ALL, "file and a directory|twice",
     _simple(lambda: [_file("python/mod", b"1"), _file("python/mod/x.py", b"2")]),
     "python/mod is a file and a directory"),
    ("bomb-ratio", ALL, "bomb|compresses", _simple(lambda: [_file("python/zeros", b"\0" * (20 * MIB))]),
     "one member 20 MiB of zeros, about 1000:1"),
    ("bomb-total", ALL, "bomb|more than|compresses", _many_small_bomb,
     "1,100 members of 1 MiB each, each under the ratio floor"),
    ("bomb-overall-ratio", ALL, "bomb|compresses", _medium_bomb_under_total_cap,
     "400 MiB from 400 KiB: under the size cap, but 1000:1 overall"),
    ("bomb-lying-size", ALL, "corrupt|larger|bad|CRC", _lying_size,
     "the header says 16 bytes, the stream holds 8 MiB"),
    ("overlapping-entries", ALL, "overlap", _overlapping,
     "eight directory entries share one local file (aliased data, zip's hard link)"),
    ("truncated", ALL, "not a valid zip|truncated|corrupt", _truncated,
     "the second half of the file is missing"),
    ("corrupt-data", ALL, "corrupt", _corrupt_data,
     "deflate stream damaged, directory intact"),
    ("not-a-zip", ALL, "not a valid zip|corrupt", lambda p: (p.write_bytes(b"#!/bin/sh\nrm -rf /\n"), p)[1],
     "a shell script named .zip"),
    ("empty-file", ALL, "not a valid zip|corrupt|empty", lambda p: (p.write_bytes(b""), p)[1],
     "zero bytes"),
]

_WHEEL_CASES: list[tuple[str, str, dict[str, object], str]] = [
    ("wheel-record-hash-mismatch", "hash|RECORD",
     {"record_override": {"hostile/__init__.py": _record_hash(b"something else")}},
     "RECORD's sha256 for hostile/__init__.py is not the file's"),
    ("wheel-record-missing-entry", "RECORD|not listed|hash",
     {"files": {"hostile/__init__.py": b"VALUE = 1\n", "hostile/sneaky.py": b"import os\n"},
      "omit_from_record": ("hostile/sneaky.py",)},
     "a file the RECORD does not list"),
    ("wheel-record-absent", "RECORD",
     {"omit_record": True}, "no RECORD at all"),
    ("wheel-data-escape", "escapes|absolute|outside",
     {"files": {"hostile/__init__.py": b"", f"hostile-1.0.data/purelib/../../../{OUTSIDE_NAME}": b"x"}},
     ".data/purelib/../../../x"),
]


def cases() -> list[HostileCase]:
    out = [HostileCase(name, kinds, expect, build, desc) for name, kinds, expect, build, desc in _ZIP_CASES]
    for name, expect, kwargs, desc in _WHEEL_CASES:
        out.append(HostileCase(name, frozenset({"wheel"}), expect,
                               lambda d, n=name, k=kwargs: _wheel_case(d, n, **k), desc))
    return out


def build_case(case: HostileCase, directory: Path, base: list[Member] | tuple[Member, ...] = ()) -> Path:
    """Write ``case``'s archive under ``directory``; wheel cases get a valid wheel file name.

    ``base`` members (a layer's build record, a function's handler and manifest) are appended
    when the case is a readable zip, so a reader that first looks for them gets past that
    check and meets the hostile part; unreadable cases stay unreadable.
    """
    directory.mkdir(parents=True, exist_ok=True)
    path = case.build(directory) if case.name.startswith("wheel-") else case.build(directory / f"{case.name}.zip")
    if base and zipfile.is_zipfile(path):
        import warnings

        with zipfile.ZipFile(path, "a") as zf, warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for info, data in base:
                if info.filename not in zf.NameToInfo:
                    zf.writestr(info, data)
    return path


def layer_base(runtime: str = "python3.12", arch: str = "x86_64") -> list[Member]:
    """What makes a zip look like a lambdapack layer: its build record at the root."""
    import json

    py = runtime.removeprefix("python")
    record = {"schema": "lambdapack.layer/1", "runtime": runtime, "arch": arch, "python_version": py,
              "abi": "cp" + py.replace(".", ""), "glibc": "2.34", "platforms": [],
              "site_packages": f"python/lib/python{py}/site-packages", "packages": [], "options": {},
              "compiled_with": None}
    return [_file("lambdapack-layer.json", json.dumps(record).encode())]


def function_base() -> list[Member]:
    """What makes a zip look like a function package: the handler at the root."""
    return [_file("lambda_function.py", b"def lambda_handler(event, context):\n    return event\n")]


def build_suite(directory: Path) -> dict[str, Path]:
    return {case.name: build_case(case, directory) for case in cases()}


def as_wheel(case: HostileCase, directory: Path) -> Path:
    """A generic hostile zip case copied under a wheel file name (a wheel is a zip)."""
    path = build_case(case, directory / "src")
    if path.suffix == ".whl":
        return path
    target = directory / case.name / wheel_filename()
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(path.read_bytes())
    return target


if __name__ == "__main__":  # python tests/reliability/hostile.py OUTDIR: write the suite for a look
    import sys

    out = Path(sys.argv[1] if len(sys.argv) > 1 else "hostile-archives")
    for name, path in build_suite(out).items():
        print(f"{name:32s} {path.stat().st_size:>10,d}  {path}")
