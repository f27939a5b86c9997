"""What a user's shell sees: unbroken lines on a piped stderr, and shell completion."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from lambdapack.archive import ZipEntry, write_zip

LONG = "not-python/lib/a_rather_long_package_name/with/some/deeply/nested/directories/and_a_module_name.py"


def _lambdapack(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None
                ) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
    return subprocess.run([sys.executable, "-m", "lambdapack", *args], capture_output=True, text=True,
                          env={**base, **(env or {})}, cwd=cwd, timeout=120)


def test_piped_stderr_is_never_wrapped_mid_word(tmp_path: Path) -> None:
    layer = tmp_path / "a-layer-file-with-a-long-name-for-python3.12-on-x86_64-built-by-hand.zip"
    write_zip(layer, [ZipEntry(LONG, b""), ZipEntry("python/lib/python3.12/site-packages/m.py", b"")])
    done = _lambdapack("check-layer", str(layer), "--runtime", "python3.12", "--python", "/nonexistent")
    assert done.returncode == 0, done.stderr
    lines = done.stderr.splitlines()
    assert f"             {LONG}" in lines  # the offender, whole, on its own line
    assert any(line.startswith(f"{layer}  python3.12 x86_64 (glibc 2.34; target from --runtime)") for line in lines)
    assert max(len(line) for line in lines) > 80  # long lines were kept long, not folded at 80 columns
    failing = _lambdapack("check-layer", str(layer), "--runtime", "python3.11", "--python", "/nonexistent")
    assert failing.returncode == 1
    assert f"error: {layer} fails check-layer (layout)" in failing.stderr.splitlines()


def test_shell_completion_is_clicks(tmp_path: Path) -> None:
    script = _lambdapack(env={"_LAMBDAPACK_COMPLETE": "bash_source"})
    assert script.returncode == 0 and "_lambdapack_completion()" in script.stdout
    assert "complete -o nosort -F _lambdapack_completion lambdapack" in script.stdout
    commands = _lambdapack(env={"_LAMBDAPACK_COMPLETE": "bash_complete", "COMP_WORDS": "lambdapack check-",
                                "COMP_CWORD": "1"})
    assert commands.stdout.split() == ["plain,check-layer"]
    runtimes = _lambdapack(env={"_LAMBDAPACK_COMPLETE": "bash_complete",
                                "COMP_WORDS": "lambdapack check-layer --runtime python3.1", "COMP_CWORD": "3"})
    assert runtimes.stdout.split() == [f"plain,python3.1{m}" for m in range(0, 5)]
    for shell in ("zsh", "fish"):
        assert _lambdapack(env={"_LAMBDAPACK_COMPLETE": f"{shell}_source"}).stdout.strip()
