from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from lambdapack.archive import ZipEntry, write_zip
from lambdapack.layer.check import check_layer_zip, check_sizes
from lambdapack.layer.elf import read_elf
from lambdapack.layer.slim import slim, strip_dist_info, strip_extensions
from lambdapack.targets import ARCHES, DIRECT_UPLOAD_LIMIT, UNZIPPED_LIMIT, arch_for_machine, host_machine

SP312 = "python/lib/python3.12/site-packages"
HOST = host_machine()  # this machine's; the tests' ELF files exist for both Lambda machines
FOREIGN = next(machine for machine in ARCHES.values() if machine != HOST)


def _tree(root: Path, files: dict[str, bytes]) -> None:
    for rel, data in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)


def _listing(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}


def test_slim_drops_only_the_measured_safe_files(tmp_path: Path) -> None:
    keep = {"numpy/__init__.py", "numpy/_core/tests/__init__.py", "numpy/_core/tests/_natype.py",
            "numpy/testing/__init__.py", "sklearn/utils/_testing.py", "numpy.libs/libopenblas.so",
            "pkg/data.json", "pkg/ext.cpython-312-x86_64-linux-gnu.so", "tests_helper.py"}
    drop = {"numpy/_core/tests/test_multiarray.py", "numpy/_core/tests/data/x.csv", "sklearn/tests/test_base.py",
            "sklearn/ensemble/tests/__init__.py", "pkg/__pycache__/mod.cpython-312.pyc", "pkg/mod.pyi",
            "pkg/_x.pyx", "pkg/_x.pxd", "pkg/_x.c", "pkg/src/y.cpp", "numpy/_core/include/numpy/ndarraytypes.h"}
    _tree(tmp_path, {p: b"x" * 10 for p in keep | drop})
    result = slim(tmp_path)
    assert _listing(tmp_path) == keep
    assert result.files_removed == len(drop) and result.bytes_removed == 10 * len(drop)


def test_strip_dist_info(tmp_path: Path) -> None:
    _tree(tmp_path, {"a-1.0.dist-info/METADATA": b"m", "a/__init__.py": b""})
    strip_dist_info(tmp_path)
    assert _listing(tmp_path) == {"a/__init__.py"}


def test_strip_touches_only_own_extension_modules_of_the_right_machine(
        tmp_path: Path, elf_files: dict[str, bytes]) -> None:
    """Both Lambda machines' modules in one tree: stripping for this machine touches its own
    extension modules only, never a vendored library, never the other machine's module."""
    own, other = f"pkg/_ext.cpython-312-{HOST}-linux-gnu.so", f"pkg/_other.cpython-312-{FOREIGN}-linux-gnu.so"
    _tree(tmp_path, {own: elf_files[HOST], "pkg.libs/libvendored-1234.so.1": elf_files[HOST],
                     other: elf_files[FOREIGN]})
    result = strip_extensions(tmp_path, HOST)
    assert result.stripped == 1 and result.bytes_saved > 0
    assert len((tmp_path / own).read_bytes()) < len(elf_files[HOST])
    assert (tmp_path / "pkg.libs/libvendored-1234.so.1").read_bytes() == elf_files[HOST]
    assert (tmp_path / other).read_bytes() == elf_files[FOREIGN]


def test_foreign_machine_is_never_stripped_with_the_host_strip(tmp_path: Path, elf_files: dict[str, bytes],
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    bin_dir = tmp_path / "bin"  # the host's strip and no cross strip for the other machine
    bin_dir.mkdir()
    (bin_dir / "strip").symlink_to("/usr/bin/strip")
    monkeypatch.setenv("PATH", str(bin_dir))
    _tree(tmp_path, {"pkg/_other.so": elf_files[FOREIGN]})
    result = strip_extensions(tmp_path, FOREIGN)
    assert result.stripped == 0 and result.skipped_reason and FOREIGN in result.skipped_reason
    assert (tmp_path / "pkg/_other.so").read_bytes() == elf_files[FOREIGN]


def test_elf_reader(elf_files: dict[str, bytes], tmp_path: Path) -> None:
    for name, data in elf_files.items():
        (tmp_path / name).write_bytes(data)
    assert read_elf(tmp_path / "newer").glibc >= (2, 36)
    assert read_elf(tmp_path / "aarch64").machine == "aarch64"
    (tmp_path / "text").write_bytes(b"not elf")
    assert read_elf(tmp_path / "text") is None


def _layer(tmp_path: Path, files: dict[str, bytes], record: dict | None = None, name: str = "layer.zip") -> Path:
    entries = [ZipEntry(k, v) for k, v in files.items()]
    if record is not None:
        entries.append(ZipEntry("lambdapack-layer.json", json.dumps(record).encode()))
    out = tmp_path / name
    write_zip(out, entries)
    return out


def _status(report, name: str) -> str:  # type: ignore[no-untyped-def]
    return next(c for c in report.checks if c.name == name).status


def test_a_good_layer_passes_every_check(tmp_path: Path, elf_files: dict[str, bytes], python312: Path) -> None:
    """A layer whose library is this machine's passes for this machine's arch and fails the ELF check
    for the other one (both Lambda machines' data, checked on whichever machine runs the test)."""
    layer = _layer(tmp_path, {f"{SP312}/good/__init__.py": b"from good import _ext\n",
                              f"{SP312}/good/_ext.py": b"X = 1\n",
                              f"{SP312}/good.libs/libx.so": elf_files[HOST]})
    report = check_layer_zip(layer, runtime="python3.12", arch=arch_for_machine(HOST), python=str(python312))
    assert report.ok, report.checks
    assert _status(report, "elf") == "pass"
    assert _status(report, "import") == "pass"
    other = check_layer_zip(layer, runtime="python3.12", arch=arch_for_machine(FOREIGN), python="/nonexistent")
    elf = next(c for c in other.checks if c.name == "elf")
    assert not other.ok and elf.status == "fail" and any(HOST in o for o in elf.offenders)


def test_elf_failures_name_each_offender(tmp_path: Path, elf_files: dict[str, bytes]) -> None:
    layer = _layer(tmp_path, {f"{SP312}/bad/__init__.py": b"",
                              f"{SP312}/bad/_new.so": elf_files["newer"],
                              f"{SP312}/bad/_arm.so": elf_files["aarch64"]})
    report = check_layer_zip(layer, runtime="python3.12", arch="x86_64")
    elf = next(c for c in report.checks if c.name == "elf")
    assert not report.ok and elf.status == "fail"
    assert any("_new.so" in o and "GLIBC_2.36" in o for o in elf.offenders)
    assert any("_arm.so" in o and "aarch64" in o for o in elf.offenders)


def test_import_failures_show_the_module_and_error(tmp_path: Path, python312: Path) -> None:
    layer = _layer(tmp_path, {f"{SP312}/broken/__init__.py": b"import not_in_the_layer\n",
                              f"{SP312}/fine.py": b"",
                              # the host's own site-packages must not leak in: click is installed there
                              f"{SP312}/needs_click/__init__.py": b"import click\n"})
    report = check_layer_zip(layer, runtime="python3.12")
    imp = next(c for c in report.checks if c.name == "import")
    assert imp.status == "fail"
    assert {o.split(":")[0] for o in imp.offenders} == {"broken", "needs_click"}
    assert "ModuleNotFoundError" in imp.offenders[0]


def test_import_is_skipped_not_passed_without_an_interpreter(tmp_path: Path) -> None:
    layer = _layer(tmp_path, {f"{SP312}/fine.py": b""})
    report = check_layer_zip(layer, runtime="python3.12", python="/nonexistent/python3.12")
    assert _status(report, "import") == "skip" and report.ok


def test_layout_for_another_python_fails(tmp_path: Path) -> None:
    layer = _layer(tmp_path, {"python/lib/python3.11/site-packages/m.py": b""})
    report = check_layer_zip(layer, runtime="python3.12", python="/nonexistent")
    assert _status(report, "layout") == "fail"


def test_runtime_and_arch_come_from_the_build_record(tmp_path: Path) -> None:
    record = {"schema": "lambdapack.layer/1", "runtime": "python3.11", "arch": "arm64", "packages": []}
    layer = _layer(tmp_path, {"python/lib/python3.11/site-packages/m.py": b""}, record)
    report = check_layer_zip(layer, python="/nonexistent")
    assert (report.runtime, report.arch, report.glibc) == ("python3.11", "arm64", "2.26")


def test_size_limits() -> None:
    assert check_sizes(DIRECT_UPLOAD_LIMIT, UNZIPPED_LIMIT).status == "pass"
    assert check_sizes(DIRECT_UPLOAD_LIMIT + 1, UNZIPPED_LIMIT).status == "warn"
    assert check_sizes(1, UNZIPPED_LIMIT + 1).status == "fail"


def test_model_versions_are_checked_against_the_record(tmp_path: Path) -> None:
    record = {"schema": "lambdapack.layer/1", "runtime": "python3.12", "arch": "x86_64",
              "packages": [{"name": "scikit-learn", "version": "1.9.1"}, {"name": "numpy", "version": "2.5.5"}]}
    layer = _layer(tmp_path, {f"{SP312}/m.py": b""}, record)
    model = tmp_path / "model"
    model.mkdir()
    (model / "model.json").write_text(json.dumps({"versions": {"scikit-learn": "1.9.1", "numpy": "2.5.5"}}))
    assert _status(check_layer_zip(layer, python="/nonexistent", model=model), "model") == "pass"
    (model / "model.json").write_text(json.dumps({"versions": {"scikit-learn": "1.7.2", "numpy": "2.5.5"}}))
    report = check_layer_zip(layer, python="/nonexistent", model=model)
    check = next(c for c in report.checks if c.name == "model")
    assert check.status == "fail" and "scikit-learn 1.7.2" in check.offenders[0]


def test_check_layer_cli_exit_codes_and_json(tmp_path: Path, run_cli: Callable, elf_files: dict[str, bytes]) -> None:
    good = _layer(tmp_path, {f"{SP312}/m.py": b""}, name="good.zip")
    result = run_cli("check-layer", str(good), "--runtime", "python3.12", "--python", "/nonexistent", "--json")
    assert result.exit_code == 0 and result.json()["ok"] is True
    bad = _layer(tmp_path, {f"{SP312}/m/_n.so": elf_files["newer"]}, name="bad.zip")
    result = run_cli("check-layer", str(bad), "--runtime", "python3.12", "--python", "/nonexistent", "--json")
    assert result.exit_code == 1
    doc = result.json()
    assert doc["ok"] is False and any(c["name"] == "elf" and c["status"] == "fail" for c in doc["checks"])
    assert "error:" in result.stderr and "hint:" in result.stderr and "_n.so" not in result.stdout.split("checks")[0]
    missing = run_cli("check-layer", str(tmp_path / "nope.zip"))
    assert missing.exit_code == 1 and "no such file" in missing.stderr


def test_loadable_spots_misaligned_load_segments(tmp_path: Path, elf_files: dict[str, bytes]) -> None:
    from elftools.elf.elffile import ELFFile

    from lambdapack.layer.elf import loadable

    good = tmp_path / "good.so"
    good.write_bytes(elf_files["plain"])
    assert loadable(good)
    with open(good, "rb") as fh:
        elf = ELFFile(fh)
        phoff, phentsize = elf["e_phoff"], elf["e_phentsize"]
        index = next(i for i, seg in enumerate(elf.iter_segments())
                     if seg["p_type"] == "PT_LOAD" and seg["p_offset"] > 0)
    data = bytearray(elf_files["plain"])
    at = phoff + index * phentsize + 8  # p_offset of that PT_LOAD (ELF64)
    data[at:at + 8] = (int.from_bytes(data[at:at + 8], "little") + 8).to_bytes(8, "little")
    bad = tmp_path / "bad.so"
    bad.write_bytes(bytes(data))
    assert not loadable(bad)


@pytest.mark.parametrize("version", [(3, 8), (3, 10), (3, 12)])
def test_pyc_bytes_do_not_depend_on_the_hash_seed(version: tuple[int, int], tmp_path: Path,
                                                  require_python: Callable[[tuple[int, int]], Path]) -> None:
    from lambdapack.layer.compile import compile_pycs

    python = require_python(version)
    words = ", ".join(repr(f"word{i}") for i in range(40))
    source = f"def known(x):\n    return x in {{{words}}}\n".encode()
    outputs = []
    for run in range(3):
        site = tmp_path / str(run)
        _tree(site, {"pkg/__init__.py": b"", "pkg/words.py": source})
        compile_pycs(site, python, "/opt/python", "x")
        outputs.append(next(site.rglob("words.*.pyc")).read_bytes())
    assert outputs[0] == outputs[1] == outputs[2]
