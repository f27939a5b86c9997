"""`lambdapack invoke --local` and `lambdapack serve` as a user runs them."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from emulator_support import pid_alive, runtime_pids

from lambdapack.archive import ZipEntry, write_zip

ROOT = Path(__file__).resolve().parents[2]


def test_invoke_local_prints_the_payload_on_stdout(run_cli: Callable, tiny: tuple[Path, Path]) -> None:
    function_zip, layer = tiny
    result = run_cli("invoke", "--local", "--layer", str(layer), "--function", str(function_zip),
                     "--event", "seed", "--repeat", "2")
    assert result.exit_code == 0, result.stderr
    payload = json.loads(result.stdout)
    assert (payload["statusCode"], payload["body"]) == (200, "virginica")
    assert result.stdout.count("\n") == 1
    assert "REPORT RequestId:" in result.stderr and "Init Duration" in result.stderr
    assert "warm" in result.stderr and "cold" in result.stderr


def test_invoke_local_json_document(run_cli: Callable, tiny: tuple[Path, Path]) -> None:
    function_zip, layer = tiny
    result = run_cli("invoke", "--local", "--layer", str(layer), "--function", str(function_zip),
                     "--sl", "6.9", "--feature", "pw=2.3", "--json")
    assert result.exit_code == 0, result.stderr
    document = result.json()
    [only] = document["invocations"]
    assert only["payload"]["body"] == "virginica" and only["cold"] is True
    assert document["runtime"].startswith("python3.") and document["warm_ms"] is None


def test_invoke_defaults_to_dist(run_cli: Callable, tiny: tuple[Path, Path], in_tmp: Path) -> None:
    (in_tmp / "dist").mkdir()
    missing = run_cli("invoke", "--local", "--event", "seed")
    assert missing.exit_code == 1 and "no layer in dist/" in missing.stderr
    function_zip, layer = tiny
    (in_tmp / "dist" / "layer-python3.99-x86_64.zip").write_bytes(layer.read_bytes())
    (in_tmp / "dist" / "function.zip").write_bytes(function_zip.read_bytes())
    result = run_cli("invoke", "--local", "--event", "seed")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["body"] == "virginica"


def test_invoke_errors(run_cli: Callable, tiny: tuple[Path, Path], tmp_path: Path) -> None:
    function_zip, layer = tiny
    base = ("invoke", "--local", "--layer", str(layer), "--function", str(function_zip))
    # where to run is a usage error (exit 2): neither, both, or local options with --name
    no_mode = run_cli("invoke", "--event", "seed")
    assert no_mode.exit_code == 2 and "give --local (the emulator, no AWS) or --name NAME" in no_mode.stderr
    both = run_cli("invoke", "--local", "--name", "iris", "--event", "seed")
    assert both.exit_code == 2 and "give one of them" in both.stderr
    mixed = run_cli("invoke", "--name", "iris", "--layer", str(layer), "--event", "seed")
    assert mixed.exit_code == 2 and "drop them with --name" in mixed.stderr
    bad = tmp_path / "bad.json"
    bad.write_text('{"sl": 6.9,,}')
    malformed = run_cli(*base, "--event", str(bad))
    assert malformed.exit_code == 1
    assert f"error: the event in {bad} is not valid JSON" in malformed.stderr and "hint:" in malformed.stderr
    assert "Traceback" not in malformed.stderr
    failing = run_cli(*base, "--event", '{"raise": "bad input"}')
    assert failing.exit_code == 1
    assert json.loads(failing.stdout)["errorType"] == "ValueError"
    assert "the function returned an error (ValueError)" in failing.stderr


def write_function(directory: Path, source: str) -> Path:
    path = directory / "function.zip"
    write_zip(path, [ZipEntry("lambda_function.py", source.encode())])
    return path


def _ignore_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def start_serve(function_zip: Path, layer: Path, *extra: str,
                sigint_ignored: bool = False) -> tuple[subprocess.Popen[str], str]:
    """``lambdapack serve`` as a child; ``sigint_ignored``: as a background job of a non-interactive
    shell starts it (``lambdapack serve &`` in a script), with SIGINT ignored from the start."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "lambdapack", "serve", "--port", "0", "--json", "--layer", str(layer),
         "--function", str(function_zip), *extra],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT,
        preexec_fn=_ignore_sigint if sigint_ignored else None)
    assert proc.stdout is not None
    lines = []
    for line in proc.stdout:
        lines.append(line)
        if line.startswith("}"):
            break
    info = json.loads("".join(lines))
    return proc, info["url"]


def get(url: str) -> tuple[int, bytes]:
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def wait_gone(pids: set[int], seconds: float = 10) -> set[int]:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        alive = {p for p in pids if pid_alive(p)}
        if not alive:
            return alive
        time.sleep(0.05)
    return {p for p in pids if pid_alive(p)}


WHOAMI = "import os\n\ndef lambda_handler(event, context):\n    return {'statusCode': 200, 'body': str(os.getpid())}\n"


@pytest.mark.parametrize("how", ["SIGINT", "SIGTERM", "SIGKILL", "SIGINT, inherited ignored"])
def test_serve_leaves_no_runtime_behind(how: str, tiny: tuple[Path, Path], tmp_path: Path) -> None:
    """Ctrl-C, SIGTERM or SIGKILL: serve ends and takes its runtimes with it.

    "inherited ignored": serve started the way a script's ``lambdapack serve &`` starts it, SIGINT
    ignored from birth. Python keeps an inherited SIG_IGN, so such a serve once never stopped on
    Ctrl-C (the wait below timed out); serve now installs its own handler.
    """
    proc, url = start_serve(write_function(tmp_path, WHOAMI), tiny[1], "--concurrency", "2",
                            sigint_ignored="ignored" in how)
    try:
        status, body = get(f"{url}/who")
        assert status == 200
        runtimes = runtime_pids(parent=proc.pid)
        assert int(body) in runtimes and len(runtimes) == 2
        os.kill(proc.pid, getattr(signal, how.split(",")[0]))
        proc.wait(timeout=30)
        assert wait_gone(runtimes) == set()
        if how != "SIGKILL":
            assert proc.returncode == 0
            assert "stopped" in proc.stderr.read()  # type: ignore[union-attr]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_serve_port_in_use_is_a_clear_error(tiny: tuple[Path, Path], tmp_path: Path) -> None:
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        done = subprocess.run(
            [sys.executable, "-m", "lambdapack", "serve", "--port", str(port), "--layer", str(tiny[1]),
             "--function", str(tiny[0])], capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert done.returncode == 1
    assert f"error: port {port} on 127.0.0.1 is already in use" in done.stderr
    assert "hint:" in done.stderr and "Traceback" not in done.stderr


def test_ctrl_c_during_invoke_leaves_no_runtime(tiny: tuple[Path, Path], tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "lambdapack", "invoke", "--local", "--layer", str(tiny[1]), "--function",
         str(tiny[0]), "--event", '{"sleep": 60}', "--timeout", "120"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        deadline = time.monotonic() + 60
        while not runtime_pids(parent=proc.pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        runtimes = runtime_pids(parent=proc.pid)
        assert runtimes
        time.sleep(0.5)  # inside the handler's sleep
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=30)
        assert proc.returncode == 130
        assert "error: interrupted" in err and "Traceback" not in err
        assert wait_gone(runtimes) == set()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
