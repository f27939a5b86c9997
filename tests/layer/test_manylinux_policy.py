"""check-layer against the whole manylinux policy, on extension modules compiled here with gcc and g++.

The host (Debian 12, glibc 2.36, GCC 12) loads all of them; Lambda's python3.12 (Amazon Linux
2023: glibc 2.34, GCC 11's libstdc++ up to GLIBCXX_3.4.29, no libgomp) does not load two of
them. The loader model is also checked against the host's real loader: where the layer itself
decides (RPATH vs RUNPATH, a vendored library's version definitions), the import check under
a real CPython 3.12 must agree with what check-layer predicts.
"""

from __future__ import annotations

import platform
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import NoReturn

import pytest

from lambdapack.layer.check import check_layer_zip
from lambdapack.layer.elf import read_elf
from lambdapack.layer.policy import policy_for
from lambdapack.targets import RUNTIMES, Target


@pytest.fixture(autouse=True, scope="module")
def _x86_64_host(cannot_run: Callable[[str], NoReturn]) -> None:
    """The test extensions are compiled for x86_64: elsewhere they cannot load, and CI must say so."""
    if platform.machine() != "x86_64":
        cannot_run(f"the test extensions are compiled for x86_64; this machine is {platform.machine()}")

SP = "python/lib/python3.12/site-packages"
SUFFIX = ".cpython-312-x86_64-linux-gnu.so"
TAG = "cp312-cp312-manylinux_2_17_x86_64"

MODULE = r"""
#define PY_SSIZE_T_CLEAN
#include <Python.h>
%(body)s
static PyObject *run(PyObject *self, PyObject *args) { return PyLong_FromLong((long)work()); }
static PyMethodDef methods[] = {{"run", run, METH_NOARGS, NULL}, {NULL, NULL, 0, NULL}};
static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "%(name)s", NULL, -1, methods};
%(linkage)s PyMODINIT_FUNC PyInit_%(name)s(void) { return PyModule_Create(&module); }
"""

# std::condition_variable::wait(unique_lock&) is GLIBCXX_3.4.30 since GCC 12; AL2023 has GCC 11's 3.4.29
CV_BODY = """
#include <condition_variable>
#include <mutex>
std::mutex lock_; std::condition_variable cv_; bool ready_ = true;
static int work(void) { std::unique_lock<std::mutex> held(lock_); while (!ready_) cv_.wait(held); return 1; }
"""
OMP_BODY = "#include <omp.h>\nstatic int work(void) { return omp_get_max_threads(); }\n"
PLAIN_BODY = "#include <string.h>\nstatic int work(void) { return (int)strlen(\"ok\"); }\n"


@pytest.fixture(scope="module")
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


def _module(name: str, body: str, cxx: bool = False) -> str:
    return MODULE % {"body": body, "name": name, "linkage": 'extern "C"' if cxx else ""}


def _statuses(report) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return {c.name: c.status for c in report.checks}


def _check(report, name: str):  # type: ignore[no-untyped-def]
    return next(c for c in report.checks if c.name == name)


def test_the_runtime_policies_come_from_auditwheel() -> None:
    names = {r: policy_for(Target.for_runtime(r).glibc, "x86_64").name for r in RUNTIMES}
    assert names == {"python3.10": "manylinux_2_26", "python3.11": "manylinux_2_26", "python3.12": "manylinux_2_34",
                     "python3.13": "manylinux_2_34", "python3.14": "manylinux_2_34"}
    al2023 = policy_for((2, 34), "x86_64")
    assert al2023.newest("GLIBCXX") == "GLIBCXX_3.4.29" and al2023.newest("GLIBC") == "GLIBC_2.34"
    assert al2023.allows("GLIBCXX_3.4.29") and not al2023.allows("GLIBCXX_3.4.30")
    assert al2023.allows("GLIBC_2.2.5") and not al2023.allows("GLIBC_PRIVATE")
    assert "libstdc++.so.6" in al2023.lib_whitelist and "libgomp.so.1" not in al2023.lib_whitelist
    assert policy_for((2, 26), "aarch64").name == "manylinux_2_26"


def test_full_glibc_versions_are_kept(build: Callable[..., Path]) -> None:
    info = read_elf(build("plain.so", "#include <string.h>\nint n(const char *s) { return (int)strlen(s); }\n"))
    assert info is not None and info.glibc_full == "GLIBC_2.2.5" and info.glibc_text == "2.2.5"


def test_build_layer_and_check_layer_name_the_libstdcxx_and_libgomp_offenders(
        build: Callable[..., Path], wheel_factory: Callable[..., Path], run_cli: Callable,
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("UV_OFFLINE", "1")
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("LAMBDAPACK_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.chdir(tmp_path)
    cv = build("_cv" + SUFFIX, _module("_cv", CV_BODY, cxx=True), cxx=True)
    omp = build("_omp" + SUFFIX, _module("_omp", OMP_BODY), flags=("-fopenmp",))
    plain = build("_plain" + SUFFIX, _module("_plain", PLAIN_BODY))
    wheels = [
        wheel_factory("cvdemo", files={"cvdemo/__init__.py": b"from cvdemo._cv import run\n",
                                       f"cvdemo/_cv{SUFFIX}": cv.read_bytes()}, tag=TAG),
        wheel_factory("ompdemo", files={"ompdemo/__init__.py": b"from ompdemo._omp import run\n",
                                        f"ompdemo/_omp{SUFFIX}": omp.read_bytes()}, tag=TAG),
        wheel_factory("plaindemo", files={"plaindemo/__init__.py": b"from plaindemo._plain import run\n",
                                          f"plaindemo/_plain{SUFFIX}": plain.read_bytes()}, tag=TAG),
    ]
    refused = run_cli("build-layer", *map(str, wheels), "--runtime", "python3.12", "--out", "refused.zip")
    assert refused.exit_code == 1 and "check-layer" in refused.stderr, refused.stderr
    assert not (tmp_path / "refused.zip").exists()

    built = run_cli("build-layer", *map(str, wheels), "--runtime", "python3.12", "--no-check", "--out", "layer.zip")
    assert built.exit_code == 0, built.stderr
    report = check_layer_zip(tmp_path / "layer.zip")
    assert not report.ok
    # what loads on this host and not on Lambda: the import check passes, the policy checks do not
    assert _statuses(report) == {"archive": "pass", "layout": "pass", "size": "pass", "elf": "fail",
                                 "libs": "fail", "abi": "pass", "import": "pass"}
    elf, libs = _check(report, "elf"), _check(report, "libs")
    # the symbol that needs it is named (demangled when binutils' c++filt is there, as here)
    assert elf.offenders == (f"{SP}/cvdemo/_cv{SUFFIX}: needs GLIBCXX_3.4.30 (libstdc++.so.6 for "
                             "std::condition_variable::wait(std::unique_lock<std::mutex>&)); "
                             "python3.12 (manylinux_2_34) has up to GLIBCXX_3.4.29",)
    assert len(libs.offenders) == 1
    assert libs.offenders[0].startswith(f"{SP}/ompdemo/_omp{SUFFIX}: links libgomp.so.1, which is neither "
                                        "a system library manylinux_2_34 allows nor found in the layer")
    assert "/opt/lib" in libs.offenders[0]

    shown = run_cli("check-layer", "layer.zip")
    assert shown.exit_code == 1
    flat = " ".join(shown.stderr.split())
    assert "needs GLIBCXX_3.4.30 (libstdc++.so.6 for std::condition_variable::wait" in flat
    assert "links libgomp.so.1" in flat
    assert "layer FAILS: elf, libs" in flat

    # the same extension on Amazon Linux 2 (python3.11's manylinux_2_26) is even further out
    older = check_layer_zip(tmp_path / "layer.zip", runtime="python3.11", python="/nonexistent")
    assert _check(older, "abi").status == "fail"
    assert any("python3.11 imports only *.cpython-311-x86_64-linux-gnu.so" in o for o in _check(older, "abi").offenders)


def _vendored_layer(tmp_path: Path, build: Callable[..., Path], ext_flags: tuple[str, ...], name: str) -> Path:
    """pkg/_ext -> pkg.libs/liba.so.1 -> pkg.libs/libb.so.1, where only the extension says where to look."""
    from lambdapack.archive import ZipEntry, write_zip

    libb = build(f"{name}-libb.so.1", "int b(void) { return 2; }\n", flags=("-Wl,-soname,libb.so.1",))
    liba_dir = libb.parent
    shutil.copy(libb, liba_dir / "libb.so.1")
    liba = build(f"{name}-liba.so.1", "int b(void);\nint a(void) { return b() + 1; }\n",
                 flags=("-Wl,-soname,liba.so.1", f"-L{liba_dir}", "-l:libb.so.1"))
    shutil.copy(liba, liba_dir / "liba.so.1")
    body = "int a(void);\nstatic int work(void) { return a(); }\n"
    ext = build(f"_ext{name}{SUFFIX}", _module(f"_ext{name}", body),
                flags=(f"-L{liba_dir}", "-l:liba.so.1", "-Wl,-rpath,$ORIGIN/../pkg.libs", *ext_flags))
    entries = [ZipEntry(f"{SP}/pkg/__init__.py", f"from pkg._ext{name} import run\n".encode()),
               ZipEntry(f"{SP}/pkg/_ext{name}{SUFFIX}", ext.read_bytes()),
               ZipEntry(f"{SP}/pkg.libs/liba.so.1", liba.read_bytes()),
               ZipEntry(f"{SP}/pkg.libs/libb.so.1", libb.read_bytes())]
    out = tmp_path / f"{name}.zip"
    write_zip(out, entries)
    return out


def test_rpath_is_inherited_and_runpath_is_not_like_the_real_loader(
        build: Callable[..., Path], tmp_path: Path) -> None:
    rpath = check_layer_zip(_vendored_layer(tmp_path, build, ("-Wl,--disable-new-dtags",), "rpath"),
                            runtime="python3.12")
    assert _statuses(rpath)["libs"] == "pass" and _statuses(rpath)["import"] == "pass", rpath.checks
    runpath = check_layer_zip(_vendored_layer(tmp_path, build, ("-Wl,--enable-new-dtags",), "runpath"),
                          runtime="python3.12")
    libs = _check(runpath, "libs")
    assert libs.status == "fail"
    assert libs.offenders == (f"{SP}/pkg.libs/liba.so.1: links libb.so.1, which is neither a system library "
                              "manylinux_2_34 allows nor found in the layer (searched: /opt/lib)",)
    # the host's own loader agrees: the import fails for the same reason
    imp = _check(runpath, "import")
    assert imp.status == "fail" and "libb.so.1" in imp.offenders[0]


def test_a_vendored_library_must_define_the_versions_asked_of_it(build: Callable[..., Path], tmp_path: Path) -> None:
    from lambdapack.archive import ZipEntry, write_zip

    script_dir = tmp_path / "scripts"
    script_dir.mkdir()
    (script_dir / "v1.map").write_text("VENDOR_1 { global: f; local: *; };\n")
    (script_dir / "v2.map").write_text("VENDOR_1 { global: f; local: *; };\nVENDOR_2 { global: g; } VENDOR_1;\n")
    source = "int f(void) { return 1; }\nint g(void) { return 2; }\n"
    new = build("libv-new.so.1", source, flags=("-Wl,-soname,libv.so.1", f"-Wl,--version-script,{script_dir}/v2.map"))
    old = build("libv-old.so.1", "int f(void) { return 1; }\n",
                flags=("-Wl,-soname,libv.so.1", f"-Wl,--version-script,{script_dir}/v1.map"))
    shutil.copy(new, new.parent / "libv.so.1")
    ext = build("_ver" + SUFFIX, _module("_ver", "int g(void);\nstatic int work(void) { return g(); }\n"),
                flags=(f"-L{new.parent}", "-l:libv.so.1", "-Wl,-rpath,$ORIGIN/../pkg.libs"))
    layer = tmp_path / "versions.zip"
    write_zip(layer, [ZipEntry(f"{SP}/pkg/__init__.py", b"from pkg._ver import run\n"),
                      ZipEntry(f"{SP}/pkg/_ver{SUFFIX}", ext.read_bytes()),
                      ZipEntry(f"{SP}/pkg.libs/libv.so.1", old.read_bytes())])  # the older build shipped
    report = check_layer_zip(layer, runtime="python3.12")
    elf = _check(report, "elf")
    assert elf.offenders == (f"{SP}/pkg/_ver{SUFFIX}: needs VENDOR_2 of libv.so.1, which the layer's "
                             f"{SP}/pkg.libs/libv.so.1 does not define",)
    imp = _check(report, "import")
    assert imp.status == "fail" and "VENDOR_2" in imp.offenders[0]


def test_extension_modules_for_another_python_are_named(build: Callable[..., Path], tmp_path: Path) -> None:
    from lambdapack.archive import ZipEntry, write_zip

    ext = build("_x.so", _module("_x", PLAIN_BODY)).read_bytes()
    layer = tmp_path / "abi.zip"
    write_zip(layer, [ZipEntry(f"{SP}/pkg/__init__.py", b""),
                      ZipEntry(f"{SP}/pkg/_ok{SUFFIX}", ext),
                      ZipEntry(f"{SP}/pkg/_stable.abi3.so", ext),
                      ZipEntry(f"{SP}/pkg/_old.cpython-311-x86_64-linux-gnu.so", ext),
                      ZipEntry(f"{SP}/pkg/_ft.cpython-312t-x86_64-linux-gnu.so", ext),
                      ZipEntry(f"{SP}/pkg/_mac.cpython-312-darwin.so", b"\xcf\xfa\xed\xfe not elf")])
    abi = _check(check_layer_zip(layer, runtime="python3.12", python="/nonexistent"), "abi")
    assert abi.status == "fail" and abi.detail.startswith("3 of 5 extension modules")
    by_file = {o.split(":")[0].rsplit("/", 1)[1]: o for o in abi.offenders}
    assert set(by_file) == {"_old.cpython-311-x86_64-linux-gnu.so", "_ft.cpython-312t-x86_64-linux-gnu.so",
                            "_mac.cpython-312-darwin.so"}
    assert "built for CPython 3.11 on x86_64-linux-gnu" in by_file["_old.cpython-311-x86_64-linux-gnu.so"]
    assert "CPython 3.12t" in by_file["_ft.cpython-312t-x86_64-linux-gnu.so"]


def test_the_layers_lib_directory_is_on_the_library_path(build: Callable[..., Path], tmp_path: Path) -> None:
    """Lambda puts /opt/lib on LD_LIBRARY_PATH; a library there built for another machine is skipped."""
    from lambdapack.archive import ZipEntry, write_zip

    lib = build("libfoo.so.1", "int foo(void) { return 7; }\n", flags=("-Wl,-soname,libfoo.so.1",))
    ext = build("_foo" + SUFFIX, _module("_foo", "int foo(void);\nstatic int work(void) { return foo(); }\n"),
                flags=(f"-L{lib.parent}", "-l:libfoo.so.1"))

    def layer(name: str, library: bytes) -> Path:
        out = tmp_path / name
        write_zip(out, [ZipEntry(f"{SP}/pkg/__init__.py", b""), ZipEntry(f"{SP}/pkg/_foo{SUFFIX}", ext.read_bytes()),
                        ZipEntry("lib/libfoo.so.1", library)])
        return out

    found = check_layer_zip(layer("lib.zip", lib.read_bytes()), runtime="python3.12", python="/nonexistent")
    assert _check(found, "libs").status == "pass", found.checks
    assert _check(found, "libs").detail.startswith("every needed library found: 1 links into the layer")
    foreign = bytearray(lib.read_bytes())
    foreign[18:20] = (183).to_bytes(2, "little")  # EM_AARCH64
    wrong = check_layer_zip(layer("wrong.zip", bytes(foreign)), runtime="python3.12", arch="x86_64",
                        python="/nonexistent")
    assert _check(wrong, "elf").offenders == ("lib/libfoo.so.1 (aarch64)",)
    assert _check(wrong, "libs").offenders[0].startswith(f"{SP}/pkg/_foo{SUFFIX}: links libfoo.so.1, which is "
                                                         "neither")
