"""GPU builds become their CPU-only builds, CUDA/NCCL wheels never reach a layer (lambdapack.wheels.cpu_only).

The end-to-end cases resolve tiny local wheels with the real uv and pip, offline: an ``xgboost``
that depends on ``nvidia-nccl-cu13`` (as the real one does on Linux), an ``xgboost-cpu`` that
installs the same ``xgboost`` package without it.
"""

from __future__ import annotations

import json
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

from lambdapack.errors import ResolveError
from lambdapack.wheels.cpu_only import (
    CPU_ONLY_BUILDS,
    GpuWheelError,
    cpu_only_inputs,
    cpu_only_requirement,
    is_gpu_only,
    refuse_gpu_wheels,
)
from lambdapack.wheels.pins import Inputs


def test_the_table_names_xgboosts_cpu_only_build() -> None:
    assert CPU_ONLY_BUILDS == {"xgboost": "xgboost-cpu"}


@pytest.mark.parametrize(("line", "expected"), [
    ("xgboost", "xgboost-cpu"),
    ("XGBoost>=2.1,<4", "xgboost-cpu>=2.1,<4"),
    ("xgboost[scikit-learn]==3.1.0", "xgboost-cpu[scikit-learn]==3.1.0"),
    ("xgboost ; python_version >= '3.10'", "xgboost-cpu ; python_version >= '3.10'"),
    ("  xgboost~=3.0 \\\n", "  xgboost-cpu~=3.0 \\\n"),
    ("xgboost (>=2)", "xgboost-cpu (>=2)"),
])
def test_a_gpu_build_keeps_its_extras_specifier_and_marker(line: str, expected: str) -> None:
    text, substitution = cpu_only_requirement(line)
    assert text == expected
    assert substitution is not None and (substitution.requested, substitution.chosen) == ("xgboost", "xgboost-cpu")
    assert "Lambda has no GPU" in substitution.reason


@pytest.mark.parametrize("line", ["xgboost-cpu==3.1.0", "xgboostx", "lightgbm", "scikit-learn",
                                  "xgboost @ https://example.invalid/xgboost-3.1.0-py3-none-any.whl",
                                  "xgboost[dask] @ file:///wheels/xgboost-3.1.0-py3-none-any.whl", "./xgboost.whl"])
def test_other_names_and_direct_references_are_left_alone(line: str) -> None:
    assert cpu_only_requirement(line) == (line, None)


@pytest.mark.parametrize("name", ["nvidia-nccl-cu13", "nvidia_cublas_cu12", "cupy-cuda12x", "jax-cuda12-plugin",
                                  "torch-cu121"])
def test_cuda_and_nccl_names_are_gpu_only(name: str) -> None:
    assert is_gpu_only(name)
    with pytest.raises(GpuWheelError) as refused:
        cpu_only_requirement(f"{name}>=1")
    assert "CUDA/NCCL library: Lambda runs without a GPU" in refused.value.message
    assert "xgboost-cpu for xgboost" in refused.value.hint


@pytest.mark.parametrize("name", ["numpy", "nvidia", "xgboost-cpu", "scikit-learn", "cuda-python-docs", "pycuda"])
def test_cpu_names_are_not_gpu_only(name: str) -> None:
    assert not is_gpu_only(name)


def test_requirement_files_and_their_includes_are_rewritten_into_a_copy(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "boost.txt").write_text("xgboost>=3  # the booster\n")
    (tmp_path / "sub" / "plain.txt").write_text("joblib\n")
    main = tmp_path / "requirements.txt"
    main.write_text("# models\nscikit-learn\n-r sub/boost.txt\n--requirement=sub/plain.txt\n"
                    "lightgbm \\\n    --hash=sha256:00\n")
    untouched = tmp_path / "other.txt"
    untouched.write_text("numpy\n")
    work = tmp_path / "work"
    work.mkdir()
    inputs = Inputs(("xgboost==3.1.0", "numpy"), (main, untouched))
    rewritten, subs = cpu_only_inputs(inputs, work)
    assert rewritten.requirements == ("xgboost-cpu==3.1.0", "numpy")
    assert rewritten.requirement_files[1] == untouched.resolve()  # nothing to change: the file itself
    copy = rewritten.requirement_files[0]
    assert copy.parent == work
    lines = copy.read_text().splitlines()
    included = Path(lines[2].split()[1])
    assert lines[:2] == ["# models", "scikit-learn"] and included.parent == work
    assert included.read_text() == "xgboost-cpu>=3  # the booster\n"
    assert lines[3] == f"--requirement={(tmp_path / 'sub' / 'plain.txt').resolve()}"  # made absolute
    assert lines[4:] == ["lightgbm \\", "    --hash=sha256:00"]
    assert [(s.requested, s.chosen, s.source) for s in subs] == [
        ("xgboost", "xgboost-cpu", "the requirements"), ("xgboost", "xgboost-cpu", "boost.txt")]
    # without a work directory it only says what would change, and writes nothing
    assert cpu_only_inputs(inputs)[1] == subs
    assert main.read_text().count("xgboost-cpu") == 0 and sorted(p.name for p in work.iterdir()) == [
        "000-requirements.txt", "001-boost.txt"]


def test_a_gpu_wheel_among_pins_is_refused_with_the_cpu_only_route() -> None:
    refuse_gpu_wheels(["scikit-learn", "xgboost-cpu", "numpy"], "uv.lock")
    with pytest.raises(GpuWheelError) as gpu_build:
        refuse_gpu_wheels(["xgboost", "nvidia-nccl-cu13", "numpy"], "uv.lock")
    assert gpu_build.value.message == ("uv.lock pins xgboost, whose Linux wheel is the GPU build (with "
                                       "nvidia-nccl-cu13): Lambda runs without a GPU, so a layer never ships them")
    assert gpu_build.value.hint.startswith("require xgboost-cpu instead of xgboost")
    with pytest.raises(GpuWheelError) as gpu_only:
        refuse_gpu_wheels(["nvidia-cublas-cu12"], "the resolution of these requirements")
    assert "CUDA/NCCL libraries" in gpu_only.value.message and "xgboost-cpu for xgboost" in gpu_only.value.hint
    assert isinstance(gpu_only.value, ResolveError)


# ---------------------------------------------------------------- through build-layer and lock, offline

@pytest.fixture
def boosters(tmp_path: Path, write_wheel_to: Callable[..., Path], monkeypatch: pytest.MonkeyPatch) -> Path:
    """A --find-links directory: the GPU xgboost (needing NCCL), its CPU-only build, and NCCL itself."""
    links = tmp_path / "links"
    links.mkdir()
    package = {"xgboost/__init__.py": b"__version__ = '3.1.0'\n"}
    write_wheel_to(links, "xgboost", "3.1.0", package, requires=("nvidia-nccl-cu13",))
    write_wheel_to(links, "xgboost-cpu", "3.1.0", package)
    write_wheel_to(links, "xgboost-cpu", "3.0.0", package)
    write_wheel_to(links, "nvidia-nccl-cu13", "2.28.0", {"nvidia/nccl/__init__.py": b""})
    for var in ("UV_OFFLINE", "UV_NO_INDEX", "PIP_NO_INDEX"):
        monkeypatch.setenv(var, "1")
    monkeypatch.setenv("LAMBDAPACK_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.chdir(tmp_path)
    return links


def _layer_packages(path: Path) -> list[tuple[str, str]]:
    with zipfile.ZipFile(path) as zf:
        record = json.loads(zf.read("lambdapack-layer.json"))
        assert not any("nvidia" in n for n in zf.namelist())
    return [(p["name"], p["version"]) for p in record["packages"]]


@pytest.mark.parametrize("resolver", ["uv", "pip"])
def test_build_layer_takes_xgboost_cpu_and_says_so(boosters: Path, run_cli: Callable, resolver: str) -> None:
    result = run_cli("build-layer", "xgboost>=3.1", "--find-links", str(boosters), "--resolver", resolver,
                     "--no-compile", "--no-check", "--json")
    assert result.exit_code == 0, result.stderr
    doc = result.json()
    assert [(p["name"], p["version"]) for p in doc["packages"]] == [("xgboost-cpu", "3.1.0")]
    assert doc["substitutions"] == [{"requested": "xgboost", "chosen": "xgboost-cpu", "source": "the requirements",
                                     "reason": "Lambda has no GPU, and xgboost's Linux wheel pulls in NVIDIA's "
                                               "CUDA/NCCL libraries"}]
    assert _layer_packages(Path(doc["path"])) == [("xgboost-cpu", "3.1.0")]
    human = run_cli("build-layer", "xgboost>=3.1", "--find-links", str(boosters), "--resolver", resolver,
                    "--no-compile", "--no-check")
    assert "xgboost → xgboost-cpu, its CPU-only build (asked for in the requirements)" in human.stderr


def test_requirement_files_and_pyproject_projects_get_the_cpu_only_build(boosters: Path, run_cli: Callable,
                                                                        tmp_path: Path) -> None:
    (tmp_path / "requirements.txt").write_text("xgboost==3.0.0\n")
    from_file = run_cli("build-layer", "-r", "requirements.txt", "--find-links", str(boosters), "--no-compile",
                        "--no-check", "--json", "-o", "file.zip")
    assert from_file.exit_code == 0, from_file.stderr
    assert from_file.json()["substitutions"][0]["source"] == "requirements.txt"
    assert _layer_packages(tmp_path / "file.zip") == [("xgboost-cpu", "3.0.0")]  # the same specifier
    project = tmp_path / "proj"
    project.mkdir()
    (project / "pyproject.toml").write_text('[project]\nname = "svc"\nversion = "1"\ndependencies = ["xgboost"]\n')
    from_project = run_cli("build-layer", "--project", str(project), "--find-links", str(boosters),
                           "--no-compile", "--no-check", "--json", "-o", "project.zip")
    assert from_project.exit_code == 0, from_project.stderr
    assert _layer_packages(tmp_path / "project.zip") == [("xgboost-cpu", "3.1.0")]


def test_lock_pins_the_cpu_only_build(boosters: Path, run_cli: Callable, tmp_path: Path) -> None:
    locked = run_cli("lock", "xgboost", "--find-links", str(boosters), "--out", "requirements.lock", "--json")
    assert locked.exit_code == 0, locked.stderr
    doc = locked.json()
    assert [p["name"] for p in doc["packages"]] == ["xgboost-cpu"]
    assert doc["substitutions"][0]["chosen"] == "xgboost-cpu"
    text = (tmp_path / "requirements.lock").read_text()
    assert "xgboost-cpu==3.1.0" in text and "# xgboost is locked as xgboost-cpu, its CPU-only build" in text
    rebuilt = run_cli("build-layer", "--require-hashes", "-r", "requirements.lock", "--find-links", str(boosters),
                      "--no-compile", "--no-check", "--json", "-o", "locked.zip")
    assert rebuilt.exit_code == 0, rebuilt.stderr
    assert _layer_packages(tmp_path / "locked.zip") == [("xgboost-cpu", "3.1.0")]


def test_a_hand_written_lock_of_the_gpu_build_is_refused(boosters: Path, run_cli: Callable, tmp_path: Path) -> None:
    (tmp_path / "gpu.lock").write_text("xgboost==3.1.0 --hash=sha256:" + "0" * 64 + "\n")
    refused = run_cli("build-layer", "--require-hashes", "-r", "gpu.lock", "--find-links", str(boosters),
                      "--no-compile")
    assert refused.exit_code == 1
    assert "error: gpu.lock pins xgboost, whose Linux wheel is the GPU build" in refused.stderr
    assert "hint: require xgboost-cpu instead of xgboost" in " ".join(refused.stderr.split())


def test_an_explicit_nccl_requirement_is_refused_before_resolving(boosters: Path, run_cli: Callable,
                                                                  tmp_path: Path) -> None:
    for command in (("build-layer", "scikit-learn", "nvidia-nccl-cu13"), ("lock", "nvidia-nccl-cu13")):
        refused = run_cli(*command, "--find-links", str(boosters))
        assert refused.exit_code == 1
        flat = " ".join(refused.stderr.split())
        assert "error: nvidia-nccl-cu13 (the requirements) is a CUDA/NCCL library" in flat, refused.stderr
        assert "xgboost-cpu for xgboost" in flat
    assert not (tmp_path / "dist").exists() and not (tmp_path / "requirements.lock").exists()


def test_a_locked_project_pinning_the_gpu_build_is_refused(boosters: Path, run_cli: Callable,
                                                          tmp_path: Path) -> None:
    project = tmp_path / "locked"
    project.mkdir()
    wheels = {p.name: p for p in boosters.iterdir()}
    entries = []
    for name, version in (("xgboost", "3.1.0"), ("nvidia-nccl-cu13", "2.28.0")):
        wheel = next(p for n, p in wheels.items() if n.startswith(f"{name.replace('-', '_')}-{version}"))
        import hashlib

        digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
        entries.append(f'[[packages]]\nname = "{name}"\nversion = "{version}"\n'
                       f'wheels = [{{ path = "{wheel}", hashes = {{ sha256 = "{digest}" }} }}]\n')
    (project / "pylock.toml").write_text('lock-version = "1.0"\ncreated-by = "test"\n\n' + "\n".join(entries))
    refused = run_cli("build-layer", "--project", str(project), "--no-compile")
    assert refused.exit_code == 1
    flat = " ".join(refused.stderr.split())
    assert "error: pylock.toml pins xgboost, whose Linux wheel is the GPU build (with nvidia-nccl-cu13)" in flat
    assert "hint: require xgboost-cpu instead of xgboost" in flat and "lock again" in flat
