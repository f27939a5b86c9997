"""A SIGKILLed run leaves its scratch directories behind; the next run removes them."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from lambdapack import archive
from lambdapack.archive import ZipEntry, write_zip

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "emulator"))
from emulator_support import make_layer

SLEEPER = "import time\ndef lambda_handler(event, context):\n    time.sleep(60)\n    return event\n"


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_only_dead_processes_scratch_is_swept(tmp_path: Path) -> None:
    dead, alive = _dead_pid(), os.getpid()
    for name in (f"lambdapack-task-{dead}-abcd1234", f"lambdapack-layer-{dead}-x_y1z2w3",
                 f"lambdapack-task-{alive}-abcd1234", "lambdapack-task-abcd1234", f"other-task-{dead}-abcd1234"):
        (tmp_path / name).mkdir()
    (tmp_path / f"lambdapack-task-{dead}-file0000").write_text("a file, not a directory")
    removed = archive.sweep_dead_scratch(tmp_path)
    assert sorted(p.name for p in removed) == [f"lambdapack-layer-{dead}-x_y1z2w3", f"lambdapack-task-{dead}-abcd1234"]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([
        f"lambdapack-task-{alive}-abcd1234", "lambdapack-task-abcd1234", f"other-task-{dead}-abcd1234",
        f"lambdapack-task-{dead}-file0000"])


def test_scratch_dirs_name_their_process_and_go_away(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    monkeypatch.setattr("tempfile.tempdir", None)
    with archive.scratch_dir("task") as path:
        assert path.parent == tmp_path and path.name.startswith(f"lambdapack-task-{os.getpid()}-")
    assert not path.exists()


def test_a_killed_invoke_leaves_its_task_dir_and_the_next_run_sweeps_it(tmp_path: Path) -> None:
    layer = make_layer(tmp_path)
    function = tmp_path / "sleeper.zip"
    write_zip(function, [ZipEntry("lambda_function.py", SLEEPER.encode())])
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    env = dict(os.environ, TMPDIR=str(scratch))
    def invoke(zip_path: Path) -> list[str]:
        return [sys.executable, "-m", "lambdapack", "invoke", "--local", "--function", str(zip_path), "--layer",
                str(layer), "--event", "{}", "--timeout", "120"]

    victim = subprocess.Popen(invoke(function), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while not list(scratch.glob(f"lambdapack-task-{victim.pid}-*")):
            assert time.monotonic() < deadline, "the invoke never laid out its task directory"
            time.sleep(0.1)
        time.sleep(0.5)
    finally:
        os.killpg(victim.pid, signal.SIGKILL)  # the CLI and the runtime it started, with no chance to clean up
        victim.wait()
    left = list(scratch.glob(f"lambdapack-task-{victim.pid}-*"))
    assert len(left) == 1
    fast = tmp_path / "fast.zip"
    write_zip(fast, [ZipEntry("lambda_function.py", b"def lambda_handler(event, context):\n    return event\n")])
    done = subprocess.run(invoke(fast), env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert not left[0].exists()
    assert list(scratch.iterdir()) == []
