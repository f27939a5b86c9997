from __future__ import annotations

import pytest
from packaging.tags import Tag

from lambdapack.errors import TargetError
from lambdapack.targets import (
    ARCHES,
    ELF_MACHINES,
    RUNTIMES,
    Target,
    arch_for_machine,
    elf_machine,
    glibc_for,
    host_arch,
    host_machine,
    manylinux_glibc,
    parse_manylinux,
    platform_tags,
    wheel_glibc,
)


def test_glibc_table_matches_the_lambda_base_images() -> None:
    assert glibc_for("python3.11") == (2, 26)
    assert glibc_for("python3.12") == (2, 34)
    assert {r.glibc for r in RUNTIMES.values()} == {(2, 26), (2, 34)}


def test_platform_tags_expand_every_glibc_down_to_the_oldest_with_aliases() -> None:
    x86 = platform_tags((2, 34), "x86_64")
    assert x86[0] == "manylinux_2_34_x86_64"
    assert "manylinux_2_28_x86_64" in x86
    assert {"manylinux2014_x86_64", "manylinux2010_x86_64", "manylinux1_x86_64"} <= set(x86)
    assert x86[-1] == "manylinux1_x86_64"
    arm = platform_tags((2, 26), "aarch64")
    assert arm[0] == "manylinux_2_26_aarch64" and arm[-1] == "manylinux2014_aarch64"
    assert not any("manylinux1" in t or "manylinux2010" in t for t in arm)
    assert "manylinux_2_27_aarch64" not in arm


def test_target_for_runtime() -> None:
    t = Target.for_runtime("python3.12", "arm64")
    assert t.python_version == "3.12" and t.abi == "cp312" and t.machine == "aarch64"
    assert t.site_packages == "python/lib/python3.12/site-packages"
    assert t.uv_platform == "aarch64-manylinux_2_34"
    supported = set(t.supported_tags())
    assert Tag("cp312", "cp312", "manylinux_2_17_aarch64") in supported
    assert Tag("cp312", "abi3", "manylinux_2_28_aarch64") in supported
    assert Tag("py3", "none", "any") in supported
    assert Tag("cp312", "cp312", "manylinux_2_35_aarch64") not in supported
    assert Tag("cp311", "cp311", "manylinux_2_17_aarch64") not in supported
    assert Tag("cp312", "cp312", "manylinux_2_17_x86_64") not in supported


@pytest.mark.parametrize(("runtime", "arch", "needle"), [
    ("python3.9", "x86_64", "python3.12"),
    ("python3.12", "aarch64", "'arm64'"),
    ("python3.12", "sparc", "x86_64"),
])
def test_unknown_runtime_or_arch_has_a_hint(runtime: str, arch: str, needle: str) -> None:
    with pytest.raises(TargetError) as err:
        Target.for_runtime(runtime, arch)
    assert needle in err.value.hint


def test_site_packages_pythons_reads_the_versioned_layout() -> None:
    from lambdapack.targets import site_packages_pythons

    names = ["python/lib/python3.12/site-packages/numpy/__init__.py", "python/lib/python3.10/site-packages/a.py",
             "python/lib/python3.12/site-packages/", "python/sklearn/__init__.py", "lambdapack-layer.json",
             "python/lib/python3.9/site-packages-extra/x.py"]
    assert site_packages_pythons(names) == [(3, 10), (3, 12)]
    assert site_packages_pythons(["python/numpy/__init__.py"]) == []


def test_manylinux_tags_name_the_glibc_they_need() -> None:
    assert wheel_glibc("numpy-2.5.5-cp312-cp312-manylinux_2_27_x86_64.manylinux_2_28_x86_64.whl") == (2, 27)
    assert wheel_glibc("scipy-1.0-cp312-cp312-manylinux2014_x86_64.whl") == (2, 17)
    assert wheel_glibc("old-1.0-cp36-cp36m-manylinux1_i686.whl") == (2, 5)
    assert wheel_glibc("joblib-1.6.0-py3-none-any.whl") is None
    assert wheel_glibc("garbage.whl") is None
    assert manylinux_glibc("manylinux_2_17_ppc64le") == ((2, 17), "ppc64le")
    # only the machines Lambda runs, and the legacy aliases only where they were defined
    assert parse_manylinux("manylinux_2_17_ppc64le") is None
    assert parse_manylinux("manylinux1_aarch64") is None
    assert parse_manylinux("manylinux2014_aarch64") == ((2, 17), "aarch64")


@pytest.mark.parametrize(("given", "machine", "arch"), [
    ("x86_64", "x86_64", "x86_64"), ("AMD64", "x86_64", "x86_64"),
    ("aarch64", "aarch64", "arm64"), ("arm64", "aarch64", "arm64"),  # macOS and Windows on ARM say arm64
    ("i686", "i686", "i686"),
])
def test_one_table_of_machine_names(given: str, machine: str, arch: str) -> None:
    assert host_machine(given) == machine
    assert host_arch(given) == arch
    assert arch_for_machine(machine) == (arch if arch in ARCHES else None)


def test_elf_machines_by_number_and_by_pyelftools_name() -> None:
    assert elf_machine(62) == elf_machine("EM_X86_64") == "x86_64"
    assert elf_machine(183) == elf_machine("EM_AARCH64") == "aarch64"
    assert elf_machine(999) == "elf-machine-999"
    assert elf_machine("EM_PPC64") == "EM_PPC64"
    assert set(ARCHES.values()) <= set(ELF_MACHINES.values())
