"""Every kind of check-layer failure carries its own hint (lambdapack.layer.check_hints), and the
command's error line carries the first failure's, not advice meant for another check."""

from __future__ import annotations

import json
import platform
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import NoReturn

import pytest

from lambdapack.archive import ZipEntry, write_zip
from lambdapack.errors import LayerError
from lambdapack.layer import check_hints
from lambdapack.layer.check import Check, CheckReport, check_layer_zip, check_model, check_sizes, require_ok
from lambdapack.targets import UNZIPPED_LIMIT, Target

SP = "python/lib/python3.12/site-packages"
NO_PYTHON = "/nonexistent/python3.12"


def _layer(tmp_path: Path, files: dict[str, bytes], name: str = "layer.zip") -> Path:
    out = tmp_path / name
    write_zip(out, [ZipEntry(k, v) for k, v in files.items()])
    return out


def _failed(path: Path, name: str, **kw: object) -> Check:
    report = check_layer_zip(path, runtime="python3.12", arch="x86_64", **kw)  # type: ignore[arg-type]
    check = next(c for c in report.checks if c.name == name)
    assert check.status == "fail", report.checks
    assert all(c.hint == "" for c in report.checks if c.status != "fail")
    return check


def test_archive(tmp_path: Path) -> None:
    path = tmp_path / "hostile.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("../evil.py", b"")
    assert _failed(path, "archive", python=NO_PYTHON).hint == check_hints.archive_hint()
    assert "corrupt or hostile" in check_hints.archive_hint()


def test_layout_for_another_python_and_empty(tmp_path: Path) -> None:
    other = _failed(_layer(tmp_path, {"python/lib/python3.11/site-packages/m.py": b""}), "layout", python=NO_PYTHON)
    assert other.hint.startswith("the layer is for another Python: rebuild it for python3.12 "
                                 "(`lambdapack build-layer --runtime python3.12 --arch x86_64`)")
    empty = _failed(_layer(tmp_path, {"m.py": b""}, "empty.zip"), "layout", python=NO_PYTHON)
    assert empty.hint.startswith("Lambda imports a layer's code from python/")


def test_a_layout_with_only_lib_outside_python_passes_and_other_files_warn(tmp_path: Path) -> None:
    report = check_layer_zip(_layer(tmp_path, {f"{SP}/m.py": b"", "lib/libx.so.1": b"not elf", "bin/tool": b""}),
                         runtime="python3.12", python=NO_PYTHON)
    layout = next(c for c in report.checks if c.name == "layout")
    assert layout.status == "warn" and layout.offenders == ("bin/tool",)
    assert "1 library in lib/" in layout.detail and layout.hint == ""


def test_size() -> None:
    size = check_sizes(1, UNZIPPED_LIMIT + 1)
    assert size.status == "fail" and size.hint == check_hints.size_hint()
    assert "glibc" not in size.hint and "newer system" not in size.hint
    assert "xgboost-cpu for xgboost" in size.hint


def test_elf_wrong_machine_and_too_new(tmp_path: Path, elf_files: dict[str, bytes]) -> None:
    arm = _failed(_layer(tmp_path, {f"{SP}/m/_arm.so": elf_files["aarch64"], f"{SP}/m/__init__.py": b""}),
                  "elf", python=NO_PYTHON)
    assert arm.hint.startswith("some binaries are built for another architecture: rebuild the layer for x86_64")
    new = _failed(_layer(tmp_path, {f"{SP}/m/_new.so": elf_files["newer"]}, "new.zip"), "elf", python=NO_PYTHON)
    assert new.hint.startswith("the layer holds binaries built for a newer system than manylinux_2_34_x86_64")


def test_elf_forbidden_symbols() -> None:
    target = Target.for_runtime("python3.12", "x86_64")
    hint = check_hints.elf_hint(target, wrong_machine=False, too_new=False)
    assert hint.startswith("a binary uses internal symbols of a system library")


def test_libs(tmp_path: Path, build: Callable[..., Path], cannot_run: Callable[[str], NoReturn]) -> None:
    if platform.machine() != "x86_64":
        cannot_run(f"the test library is compiled for x86_64; this machine is {platform.machine()}")
    lib = build("libhintmissing.so.1", "int m(void) { return 1; }\n", flags=("-Wl,-soname,libgomp.so.1",))
    ext = build("_hintlibs.so", "int m(void);\nint use(void) { return m(); }\n",
                flags=(f"-L{lib.parent}", f"-l:{lib.name}"))
    libs = _failed(_layer(tmp_path, {f"{SP}/m/_hintlibs.so": ext.read_bytes()}), "libs", python=NO_PYTHON)
    assert libs.hint.startswith("python3.12 lacks libgomp.so.1: add scikit-learn (ships libgomp) to the "
                                "requirements, or add a package whose wheel ships it")
    assert "/opt/lib" in libs.hint


def test_abi(tmp_path: Path, elf_files: dict[str, bytes]) -> None:
    abi = _failed(_layer(tmp_path, {f"{SP}/m/_x.cpython-311-x86_64-linux-gnu.so": elf_files["plain"]}), "abi",
                  python=NO_PYTHON)
    assert abi.hint.startswith("extension modules for another CPython do not import under python3.12")


def test_import_failure_and_crash(tmp_path: Path, python312: Path) -> None:
    failed = _failed(_layer(tmp_path, {f"{SP}/broken/__init__.py": b"import not_in_the_layer\n"}), "import")
    assert failed.hint == check_hints.import_hint(Target.for_runtime("python3.12"), crashed=False)
    assert "add it to the requirements" in failed.hint
    crashed = _failed(_layer(tmp_path, {f"{SP}/dies/__init__.py": b"import os\nos._exit(3)\n"}, "crash.zip"),
                      "import")
    assert "crashed" in crashed.detail and crashed.hint.startswith("the interpreter itself failed")


def test_model(tmp_path: Path) -> None:
    model = tmp_path / "model"
    model.mkdir()
    (model / "model.json").write_text(json.dumps({"versions": {"scikit-learn": "1.7.2"}}))
    record = {"packages": [{"name": "scikit-learn", "version": "1.9.1"}]}
    check = check_model(record, model)
    assert check.status == "fail" and check.hint.startswith(f"rebuild the layer pinned to the model "
                                                             f"(`lambdapack build-layer --model {model}`)")
    assert check_model(None, model).hint == f"rebuild it with `lambdapack build-layer --model {model}`"


def test_every_failure_kind_has_a_hint_of_its_own(elf_files: dict[str, bytes]) -> None:
    target = Target.for_runtime("python3.12")
    hints = [check_hints.archive_hint(), check_hints.layout_other_python_hint(target),
             check_hints.layout_empty_hint(), check_hints.size_hint(),
             check_hints.elf_hint(target, wrong_machine=True, too_new=True),
             check_hints.elf_hint(target, wrong_machine=False, too_new=True),
             check_hints.elf_hint(target, wrong_machine=False, too_new=False),
             check_hints.libs_hint(target, ["libfoo.so.1"]), check_hints.abi_hint(target),
             check_hints.import_hint(target, crashed=False), check_hints.import_hint(target, crashed=True),
             check_hints.model_hint(Path("m"))]
    assert len(set(hints)) == len(hints) and all(hints)


def _report(*checks: Check) -> CheckReport:
    return CheckReport(Path("l.zip"), "python3.12", "--runtime", "x86_64", "3.12", "2.34", 1, 1, 1, checks,
                       ok=not any(c.status == "fail" for c in checks))


def test_build_layers_error_carries_the_first_failures_hint() -> None:
    size = check_sizes(1, UNZIPPED_LIMIT + 1)
    with pytest.raises(LayerError) as raised:
        require_ok(_report(Check("archive", "pass", "ok"), size))
    assert raised.value.message.startswith("the layer fails check-layer: size: ")
    assert raised.value.hint.startswith(check_hints.size_hint()) and "glibc" not in raised.value.hint


def test_check_layer_command_hint_is_the_failed_checks(tmp_path: Path, run_cli: Callable,
                                                       elf_files: dict[str, bytes]) -> None:
    abi_only = _layer(tmp_path, {f"{SP}/m/_x.cpython-311-x86_64-linux-gnu.so": elf_files["plain"]}, "abi.zip")
    result = run_cli("check-layer", str(abi_only), "--runtime", "python3.12", "--python", NO_PYTHON)
    flat = " ".join(result.stderr.split())
    assert result.exit_code == 1 and "fails check-layer (abi)" in flat
    assert "hint: extension modules for another CPython do not import under python3.12" in flat
    assert "newer system" not in flat
    doc = json.loads(run_cli("check-layer", str(abi_only), "--runtime", "python3.12", "--python", NO_PYTHON,
                             "--json").stdout)
    assert next(c for c in doc["checks"] if c["name"] == "abi")["hint"] == check_hints.abi_hint(
        Target.for_runtime("python3.12"))
