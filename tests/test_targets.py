from __future__ import annotations

import pytest
from packaging.tags import Tag

from lambdapack.errors import TargetError
from lambdapack.targets import RUNTIMES, Target, glibc_for, platform_tags


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
