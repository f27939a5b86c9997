"""Tiny wheels and ELF files built inside the tests (no network)."""

from __future__ import annotations

import base64
import hashlib
import shutil
import stat
import subprocess
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import NoReturn

import pytest

from lambdapack.targets import ARCHES, ELF_MACHINES

# the Lambda machines' ELF e_machine values (x86_64: 62, aarch64: 183)
ELF_MACHINE = {name: number for number, name in ELF_MACHINES.items() if name in ARCHES.values()}


def _record_line(name: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).decode().rstrip("=")
    return f"{name},sha256={digest},{len(data)}"


def write_wheel(directory: Path, name: str, version: str = "1.0", files: dict[str, bytes] | None = None,
                tag: str = "py3-none-any", *, links: dict[str, str] | None = None,
                raw_members: dict[str, bytes] | None = None, entry_points: str | None = None,
                requires: tuple[str, ...] = ()) -> Path:
    """A wheel zip written by hand: WHEEL, METADATA, RECORD and ``files``.

    ``links`` become symlink members; ``raw_members`` are added without RECORD entries
    (to build hostile wheels); ``requires`` are its ``Requires-Dist`` lines.
    """
    dist = f"{name.replace('-', '_')}-{version}"
    members: dict[str, bytes] = dict(files or {"__init__.py": b""})
    members[f"{dist}.dist-info/METADATA"] = (f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
                                             + "".join(f"Requires-Dist: {r}\n" for r in requires)).encode()
    members[f"{dist}.dist-info/WHEEL"] = (f"Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: "
                                          f"{'true' if tag.endswith('any') else 'false'}\nTag: {tag}\n").encode()
    if entry_points:
        members[f"{dist}.dist-info/entry_points.txt"] = entry_points.encode()
    record = [_record_line(k, v) for k, v in members.items()]
    record.append(f"{dist}.dist-info/RECORD,,")
    members[f"{dist}.dist-info/RECORD"] = ("\n".join(record) + "\n").encode()
    path = directory / f"{dist}-{tag}.whl"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for member, data in members.items():
            info = zipfile.ZipInfo(member, (2020, 1, 1, 0, 0, 0))
            info.external_attr = (stat.S_IFREG | (0o755 if member.endswith(".so") else 0o644)) << 16
            zf.writestr(info, data)
        for member, data in (raw_members or {}).items():
            zf.writestr(member, data)
        for member, target in (links or {}).items():
            info = zipfile.ZipInfo(member, (2020, 1, 1, 0, 0, 0))
            info.create_system = 3
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            zf.writestr(info, target)
    return path


@pytest.fixture
def write_wheel_to() -> Callable[..., Path]:
    """:func:`write_wheel` itself: ``write_wheel_to(directory, name, version, files, tag)``."""
    return write_wheel


@pytest.fixture
def wheel_factory(tmp_path: Path) -> Callable[..., Path]:
    out = tmp_path / "wheels"
    out.mkdir()

    def make(name: str, version: str = "1.0", files: dict[str, bytes] | None = None, tag: str = "py3-none-any",
             **kw: object) -> Path:
        return write_wheel(out, name, version, files, tag, **kw)  # type: ignore[arg-type]

    return make


def _gcc(source: str, out: Path, debug: bool = True) -> bytes:
    src = out.with_suffix(".c")
    src.write_text(source)
    cmd = ["gcc", "-shared", "-fPIC", "-O1", *(["-g"] if debug else []), "-o", str(out), str(src)]
    subprocess.run(cmd, check=True, capture_output=True)
    return out.read_bytes()


@pytest.fixture(scope="session")
def elf_files(tmp_path_factory: pytest.TempPathFactory, cannot_run: Callable[[str], NoReturn]) -> dict[str, bytes]:
    """Tiny shared objects compiled here: ``plain`` (this machine's, with debug info), ``newer`` (needs
    GLIBC_2.36), and ``x86_64`` / ``aarch64``: the plain one labelled for each Lambda machine, so a test
    holds both machines' files whatever machine it runs on."""
    if shutil.which("gcc") is None:
        cannot_run("gcc is needed to build test ELF files (apt-get install gcc)")
    d = tmp_path_factory.mktemp("elf")
    plain = _gcc("int plus_one(int x) { return x + 1; }\n", d / "plain.so")
    newer = _gcc("#include <stdlib.h>\nunsigned r(void) { return arc4random(); }\n", d / "newer.so")
    return {"plain": plain, "newer": newer, **{machine: relabelled(plain, machine) for machine in ELF_MACHINE}}


def relabelled(elf: bytes, machine: str) -> bytes:
    """The same bytes with e_machine (offset 18, little endian) set to ``machine``: what a wheel built
    for that machine looks like to every reader of headers (only a loader would notice)."""
    data = bytearray(elf)
    data[18:20] = ELF_MACHINE[machine].to_bytes(2, "little")
    return bytes(data)


@pytest.fixture(scope="session")
def build(tmp_path_factory: pytest.TempPathFactory, python312: Path) -> Callable[..., Path]:
    """Compile a shared object: ``build(name, source, cxx=False, flags=())`` -> its path."""
    for tool in ("gcc", "g++"):
        if shutil.which(tool) is None:
            pytest.fail(f"{tool} is needed to compile the test extensions")
    python = python312
    include = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['include'])"],
                             capture_output=True, text=True, check=True).stdout.strip()
    out_dir = tmp_path_factory.mktemp("ext")

    def compile_(name: str, source: str, *, cxx: bool = False, flags: tuple[str, ...] = ()) -> Path:
        src = out_dir / (name + (".cpp" if cxx else ".c"))
        src.write_text(source)
        out = out_dir / name
        command = ["g++" if cxx else "gcc", "-shared", "-fPIC", "-O1", f"-I{include}", "-o", str(out), str(src),
                   *flags]
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        assert done.returncode == 0, done.stderr
        return out

    return compile_
