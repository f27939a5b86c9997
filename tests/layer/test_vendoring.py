"""A library one wheel links and another ships is copied into the layer's lib/ (lambdapack.layer.vendor).

The extensions are compiled here (x86_64): ``ompdemo`` links ``libgomp.so.1`` the way LightGBM's
library does, and ``provider`` ships a stand-in for scikit-learn's ``scikit_learn.libs/libgomp-<hash>.so.1.0.0``
(auditwheel's renamed copy, SONAME included) whose ``omp_get_max_threads`` answers 3: an import
that gets 3 ran the layer's copy, not this machine's own libgomp.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import subprocess
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import NoReturn

import pytest

from lambdapack.layer.elf import ElfInfo, VersionNeed
from lambdapack.layer.record import read_record
from lambdapack.layer.vendor import answers_to, provided_name

SUFFIX = ".cpython-312-x86_64-linux-gnu.so"
TAG = "cp312-cp312-manylinux_2_17_x86_64"
SP = "python/lib/python3.12/site-packages"
HASHED = "libgomp-0123abcd.so.1.0.0"
MODULE = r"""
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <omp.h>
static PyObject *run(PyObject *self, PyObject *args) { return PyLong_FromLong((long)omp_get_max_threads()); }
static PyMethodDef methods[] = {{"run", run, METH_NOARGS, NULL}, {NULL, NULL, 0, NULL}};
static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_omp", NULL, -1, methods};
PyMODINIT_FUNC PyInit__omp(void) { return PyModule_Create(&module); }
"""


@pytest.fixture(autouse=True, scope="module")
def _x86_64_host(cannot_run: Callable[[str], NoReturn]) -> None:
    if platform.machine() != "x86_64":
        cannot_run(f"the test extensions are compiled for x86_64; this machine is {platform.machine()}")


@pytest.fixture
def offline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for var in ("UV_OFFLINE", "UV_NO_INDEX", "PIP_NO_INDEX"):
        monkeypatch.setenv(var, "1")
    monkeypatch.setenv("LAMBDAPACK_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture
def omp_wheels(build: Callable[..., Path], wheel_factory: Callable[..., Path]) -> Callable[[str], list[Path]]:
    """``omp_wheels(versions)``: the wheel needing libgomp.so.1 and a provider defining ``versions``."""
    ext = build("_vendored_omp" + SUFFIX, MODULE, flags=("-fopenmp",))

    def make(versions: str) -> list[Path]:
        script = ext.parent / f"gomp-{versions.replace(' ', '_')}.map"
        script.write_text(" ".join(f"{v} {{ global: omp_get_max_threads; local: *; }};" for v in versions.split()))
        lib = build(f"{HASHED}-{versions.replace(' ', '_')}", "int omp_get_max_threads(void) { return 3; }\n",
                    flags=(f"-Wl,-soname,{HASHED}", f"-Wl,--version-script,{script}"))
        return [
            wheel_factory("ompdemo", files={"ompdemo/__init__.py": b"from ompdemo._omp import run\n",
                                            f"ompdemo/_omp{SUFFIX}": ext.read_bytes()}, tag=TAG),
            wheel_factory("provider", files={"provider/__init__.py": b"",
                                             f"provider.libs/{HASHED}": lib.read_bytes()}, tag=TAG),
        ]

    return make


def test_a_needed_library_another_wheel_ships_is_copied_into_lib(
        offline: Path, omp_wheels: Callable[[str], list[Path]], run_cli: Callable, python312: Path) -> None:
    wheels = omp_wheels("OMP_1.0")
    result = run_cli("build-layer", *map(str, wheels), "--no-compile", "--json", "-o", "layer.zip")
    assert result.exit_code == 0, result.stderr
    doc = result.json()
    shipped = (offline / "wheels" / "provider-1.0-cp312-cp312-manylinux_2_17_x86_64.whl")
    with zipfile.ZipFile(shipped) as zf:
        digest = hashlib.sha256(zf.read(f"provider.libs/{HASHED}")).hexdigest()
    entry = {"soname": "libgomp.so.1", "path": "lib/libgomp.so.1", "package": "provider", "wheel": shipped.name,
             "source": f"provider.libs/{HASHED}", "sha256": digest, "needed_by": [f"ompdemo/_omp{SUFFIX}"]}
    assert doc["vendored_libraries"] == [entry]
    checks = {c["name"]: c for c in doc["check"]["checks"]}
    assert checks["libs"]["status"] == "pass" and checks["import"]["status"] == "pass"
    assert "1 library in lib/ (/opt/lib, on the runtime's LD_LIBRARY_PATH)" in checks["layout"]["detail"]
    with zipfile.ZipFile(offline / "layer.zip") as zf:
        assert hashlib.sha256(zf.read("lib/libgomp.so.1")).hexdigest() == digest
        assert (zf.getinfo("lib/libgomp.so.1").external_attr >> 16) & 0o111
    record = read_record(offline / "layer.zip")
    assert record is not None and record["vendored_libraries"] == [entry]
    assert record["schema"] == "lambdapack.layer/1"  # an added field: every existing reader still reads it

    # the runtime's view: the layer's lib/ on LD_LIBRARY_PATH, so its copy is loaded, not this machine's
    unpacked = offline / "unpacked"
    with zipfile.ZipFile(offline / "layer.zip") as zf:
        zf.extractall(unpacked)
    script = f"import sys; sys.path.insert(0, {str(unpacked / SP)!r}); import ompdemo; print(ompdemo.run())"
    done = subprocess.run([str(python312), "-I", "-S", "-c", script],
                          env={"PATH": os.environ["PATH"], "LD_LIBRARY_PATH": str(unpacked / "lib")},
                          capture_output=True, text=True, check=False)
    assert (done.returncode, done.stdout.strip()) == (0, "3"), done.stderr

    human = run_cli("build-layer", *map(str, wheels), "--no-compile", "-o", "layer.zip")
    assert f"lib/libgomp.so.1 ← provider.libs/{HASHED} from provider" in " ".join(human.stderr.split())


def test_the_same_wheels_give_the_same_layer(offline: Path, omp_wheels: Callable[[str], list[Path]],
                                             run_cli: Callable, monkeypatch: pytest.MonkeyPatch) -> None:
    wheels = omp_wheels("OMP_1.0")
    digests = []
    for cache in ("one", "two"):  # two caches: the second build cannot reuse the first's zip
        monkeypatch.setenv("LAMBDAPACK_CACHE_DIR", str(offline / cache))
        result = run_cli("build-layer", *map(str, wheels), "--no-compile", "--no-check", "--json", "-o", f"{cache}.zip")
        assert result.exit_code == 0, result.stderr
        assert result.json()["cached"] is False
        digests.append(result.json()["sha256"])
    assert digests[0] == digests[1]


def test_a_library_without_the_versions_asked_of_it_is_not_taken(
        offline: Path, omp_wheels: Callable[[str], list[Path]], run_cli: Callable) -> None:
    wheels = omp_wheels("OMP_0.9")  # the extension needs OMP_1.0 of libgomp.so.1
    refused = run_cli("build-layer", *map(str, wheels), "--no-compile", "-o", "layer.zip")
    assert refused.exit_code == 1
    flat = " ".join(refused.stderr.split())
    assert (f"error: ompdemo/_omp{SUFFIX} links libgomp.so.1, which python3.12 lacks and no wheel in this layer "
            "ships") in flat
    assert ("hint: add scikit-learn, whose wheel ships libgomp (lambdapack copies it to /opt/lib), or another "
            "package whose wheel ships libgomp.so.1") in flat
    assert not (offline / "layer.zip").exists()


def test_a_layer_without_vendored_libraries_has_no_lib_and_no_record_field(
        offline: Path, wheel_factory: Callable[..., Path], run_cli: Callable) -> None:
    wheel = wheel_factory("tinydemo", files={"tinydemo/__init__.py": b""})
    result = run_cli("build-layer", str(wheel), "--no-compile", "--no-check", "--json", "-o", "layer.zip")
    assert result.exit_code == 0 and result.json()["vendored_libraries"] == []
    with zipfile.ZipFile(offline / "layer.zip") as zf:
        assert not any(n.startswith("lib/") for n in zf.namelist())
        assert "vendored_libraries" not in json.loads(zf.read("lambdapack-layer.json"))


def _info(soname: str | None, defs: frozenset[str] = frozenset()) -> ElfInfo:
    return ElfInfo("x86_64", None, soname=soname, version_defs=defs,
                   version_needs=(VersionNeed("libc.so.6", "GLIBC_2.2.5"),))


@pytest.mark.parametrize(("soname", "filename", "answers"), [
    (HASHED, HASHED, True),  # auditwheel's copy: SONAME renamed, hash removed
    ("libgomp.so.1", "whatever.so", True),
    (None, "libgomp.so.1.0.0", True),  # no SONAME: the file name
    ("libgomp.so.2", "libgomp.so.2", False),
    ("libgompx.so.1", "libgompx.so.1", False),
    ("libgomp-xyz.so.1", "libgomp-xyz.so.1", False),  # not an auditwheel hash
])
def test_which_libraries_answer_to_a_soname(soname: str | None, filename: str, answers: bool) -> None:
    assert answers_to(_info(soname), Path(filename), "libgomp.so.1") is answers
    assert provided_name(_info(HASHED), Path(HASHED)) == "libgomp.so.1.0.0"
