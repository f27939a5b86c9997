"""SIGTERM and SIGHUP end a command like Ctrl-C does: cleanup, one ``error:`` line, exit 128 + signal.

``lambdapack build-layer`` runs in a subprocess with a private TMPDIR and its own cache; the
signal goes to the lambdapack process alone (as ``kill PID`` or a closing terminal would send
it), at points where it has something to clean up: the staged zip beside the output, the
assembly directory, the compile and check directories in TMPDIR. Afterwards neither a
``*.building`` file beside the output nor a ``lambdapack-*`` directory in TMPDIR may remain.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import signal
import subprocess
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from killing import appeared, lambdapack_cmd

pytestmark = pytest.mark.slow


@dataclass(frozen=True)
class Signalled:
    landed: bool  # False: the command ended before the trigger fired
    returncode: int
    stdout: str
    stderr: str


def _run_and_signal(args: list[str], cwd: Path, env: dict[str, str], signum: int,
                    trigger: Callable[[], bool], timeout: float = 300) -> Signalled:
    proc = subprocess.Popen(lambdapack_cmd(*args), cwd=cwd, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    landed = False
    started = time.monotonic()
    try:
        while proc.poll() is None and time.monotonic() - started < timeout:
            if trigger():
                proc.send_signal(signum)  # the lambdapack process only: its children are its business
                landed = True
                break
            time.sleep(0.002)
        stdout, stderr = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    return Signalled(landed, proc.returncode, stdout, stderr)


def _wheel(directory: Path) -> Path:
    """A pure-Python wheel with enough modules that assembling, compiling and checking take a moment."""
    files = {f"sigdemo/m{i:03d}.py": (f"VALUE = {i}\n" + "def f(x):\n    return x * 2\n" * 40).encode()
             for i in range(400)}
    files["sigdemo/__init__.py"] = b"from sigdemo.m000 import VALUE\n"
    info = "sigdemo-1.0.dist-info"
    files[f"{info}/METADATA"] = b"Metadata-Version: 2.1\nName: sigdemo\nVersion: 1.0\n"
    files[f"{info}/WHEEL"] = b"Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    record = [f"{name},sha256={_digest(data)},{len(data)}" for name, data in files.items()]
    files[f"{info}/RECORD"] = ("\n".join([*record, f"{info}/RECORD,,"]) + "\n").encode()
    path = directory / "sigdemo-1.0-py3-none-any.whl"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return path


def _digest(data: bytes) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(data).digest()).decode().rstrip("=")


POINTS = [
    ("staged zip beside the output", signal.SIGTERM, lambda out, tmp: appeared(out.parent, ".layer.zip.*.building")),
    ("assembling in TMPDIR", signal.SIGTERM, lambda out, tmp: appeared(tmp, "lambdapack-layer-*")),
    ("compiling", signal.SIGHUP, lambda out, tmp: appeared(tmp, "lambdapack-compile-*")),
    ("checking the staged layer", signal.SIGTERM, lambda out, tmp: appeared(tmp, "lambdapack-import-*")),
]


@pytest.mark.parametrize("name, signum, make_trigger", POINTS, ids=[p[0] for p in POINTS])
def test_a_terminated_build_layer_cleans_up_and_exits_128_plus_the_signal(
        name: str, signum: int, make_trigger: Callable[[Path, Path], Callable[[], bool]], tmp_path: Path,
        python312: Path) -> None:
    # python312: build-layer compiles and checks with it
    private_tmp = tmp_path / "tmp"
    private_tmp.mkdir()
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    wheel = _wheel(wheels)
    env = {**os.environ, "TMPDIR": str(private_tmp), "LAMBDAPACK_CACHE_DIR": str(tmp_path / "cache"),
           "UV_OFFLINE": "1", "PIP_NO_INDEX": "1"}
    out = tmp_path / "dist" / "layer.zip"
    result = _run_and_signal(["build-layer", "--runtime", "python3.12", "--out", str(out), "--json", str(wheel)],
                             tmp_path, env, signum, make_trigger(out, private_tmp))
    assert result.landed, f"build-layer ended (exit {result.returncode}) before {name}: {result.stderr}"
    assert result.returncode == 128 + signum, result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    word = "terminated (SIGTERM)" if signum == signal.SIGTERM else "hung up (SIGHUP)"
    assert errors == [f"error: {word}"], result.stderr
    assert "Traceback" not in result.stderr
    assert json.loads(result.stdout)["exit_code"] == 128 + signum
    assert not out.exists()
    assert sorted(p.name for p in out.parent.iterdir() if p.name.endswith((".building", ".tmp"))) == []
    assert sorted(p.name for p in private_tmp.iterdir() if p.name.startswith("lambdapack-")) == []
