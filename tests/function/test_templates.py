"""``template_path``: the wheel's ``lambdapack/_templates`` first, the checkout's ``templates/`` otherwise."""

from __future__ import annotations

from pathlib import Path

import pytest

from lambdapack import template_files
from lambdapack.errors import PackageError


def test_checkout_templates_are_found() -> None:
    path = template_files.template_path("lambda_function.py")
    assert path.name == "lambda_function.py"
    assert template_files.template_bytes("lambda_function.py").startswith(b'"""')


def test_installed_templates_win(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "_templates").mkdir()
    (tmp_path / "_templates" / "lambda_function.py").write_text("# from the wheel\n")
    monkeypatch.setattr(template_files.resources, "files", lambda package: tmp_path)
    assert template_files.template_path("lambda_function.py") == tmp_path / "_templates" / "lambda_function.py"
    assert template_files.template_bytes("lambda_function.py") == b"# from the wheel\n"


def test_missing_template_is_a_clear_error() -> None:
    with pytest.raises(PackageError, match="missing from this installation") as info:
        template_files.template_path("no-such-template.txt")
    assert "reinstall" in info.value.hint


def test_wheel_ships_the_templates() -> None:
    pyproject = (Path(template_files.__file__).resolve().parents[1] / "pyproject.toml").read_text()
    assert '"templates" = "lambdapack/_templates"' in pyproject


@pytest.mark.slow
def test_built_wheel_carries_the_handler_and_finds_it(tmp_path: Path) -> None:
    import subprocess
    import sys
    import zipfile

    root = Path(template_files.__file__).resolve().parents[1]
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path / "wheels"),
                    str(root)], check=True, capture_output=True, timeout=600)
    wheel = next((tmp_path / "wheels").glob("lambdapack-*.whl"))
    with zipfile.ZipFile(wheel) as zf:
        shipped = zf.read("lambdapack/_templates/lambda_function.py")
    assert shipped == (root / "templates" / "lambda_function.py").read_bytes()
    with zipfile.ZipFile(wheel) as zf:
        zf.extractall(tmp_path / "site")
    # with only the wheel's files on sys.path, the packaged copy is the one found
    found = subprocess.run(
        [sys.executable, "-c", "import sys; sys.path.insert(0, sys.argv[1]); "
         "from lambdapack.template_files import template_path; print(template_path('lambda_function.py'))",
         str(tmp_path / "site")], check=True, capture_output=True, text=True, cwd=tmp_path).stdout.strip()
    assert Path(found) == tmp_path / "site" / "lambdapack" / "_templates" / "lambda_function.py"
