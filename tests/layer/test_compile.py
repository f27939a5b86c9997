"""Parallel pyc compilation: the same bytes on any number of cores, for every runtime's Python."""

from __future__ import annotations

from pathlib import Path

import pytest

from lambdapack.interpreters import find_python
from lambdapack.layer import compile as compile_module
from lambdapack.layer.compile import chunks, compile_pycs, sources


def _package(root: Path) -> None:
    words = ", ".join(repr(f"word{i}") for i in range(40))
    for i in range(30):
        path = root / "pkg" / f"sub{i % 4}" / f"mod{i}.py"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"NAMES = {{{words}}}\ndef f{i}(x):\n    return x in NAMES or {'x' * (i * 40)!r}\n")
        (path.parent / "__init__.py").write_text("")
    (root / "pkg" / "__init__.py").write_text("")
    (root / "pkg" / "py2only.py").write_text("print 'never imported'\n")


def _pycs(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*.pyc"))}


@pytest.mark.parametrize("version", [(3, 10), (3, 11), (3, 12)])
def test_pyc_bytes_do_not_depend_on_the_core_count(version: tuple[int, int], tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    python = find_python(version)
    assert python is not None, f"CPython {version[0]}.{version[1]} is part of this project's toolchain"
    outputs = []
    for cores in (1, 2, 5):
        monkeypatch.setattr(compile_module.os, "cpu_count", lambda c=cores: c)
        root = tmp_path / str(cores)
        _package(root)
        result = compile_pycs(root, python, "/opt/python", f"{version[0]}.{version[1]}.0")
        assert result.pyc_files == 35  # 30 modules + 5 __init__; the py2-only file is skipped
        outputs.append(_pycs(root))
    assert outputs[0] == outputs[1] == outputs[2]
    tag = f"cpython-{version[0]}{version[1]}"
    assert f"pkg/sub0/__pycache__/mod0.{tag}.pyc" in outputs[0]
    assert int.from_bytes(outputs[0][f"pkg/__pycache__/__init__.{tag}.pyc"][4:8], "little") == 0b01


def test_chunks_are_contiguous_balanced_and_a_function_of_the_list_alone() -> None:
    files = [(f"m{i:03}.py", 1000 if i % 10 else 20000) for i in range(100)]
    cut = chunks(files, 8)
    assert [name for chunk in cut for name in chunk] == [name for name, _ in files]
    assert 6 <= len(cut) <= 8 and cut == chunks(list(files), 8)


def test_sources_follow_compileall_order(tmp_path: Path) -> None:
    for rel in ("b.py", "a/z.py", "a/__pycache__/x.py", "a.py", "c.txt"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text("")
    assert [rel for rel, _ in sources(tmp_path)] == ["a/z.py", "a.py", "b.py"]
