"""Run a lambdapack command in a subprocess and SIGKILL it at a chosen point.

A kill point is either a delay after start or a *trigger*: a predicate polled every few
milliseconds (e.g. "the staging file has appeared"), so the interesting windows are hit
however loaded the machine is. The whole process group is killed, as ``kill -9`` on a job
would, so no child (uv, pip, the compiler) keeps writing after the parent died.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class KillPoint:
    name: str
    delay: float | None = None  # seconds after start
    trigger: Callable[[], bool] | None = None


@dataclass(frozen=True)
class KillOutcome:
    point: str
    killed: bool  # False: the command finished before the kill point came
    elapsed: float
    returncode: int


def lambdapack_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "lambdapack", *args]


def run_to_end(args: Sequence[str], cwd: Path, env: dict[str, str] | None = None, timeout: float = 600
               ) -> subprocess.CompletedProcess[str]:
    return subprocess.run(lambdapack_cmd(*args), cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=timeout, check=False)


def run_and_kill(args: Sequence[str], cwd: Path, point: KillPoint, env: dict[str, str] | None = None,
                 timeout: float = 600) -> KillOutcome:
    start = time.monotonic()
    proc = subprocess.Popen(lambdapack_cmd(*args), cwd=cwd, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        while True:
            elapsed = time.monotonic() - start
            if proc.poll() is not None:
                return KillOutcome(point.name, False, elapsed, proc.returncode)
            due = (point.delay is not None and elapsed >= point.delay) or (point.trigger is not None
                                                                           and point.trigger())
            if due:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=30)
                return KillOutcome(point.name, True, elapsed, proc.returncode)
            if elapsed > timeout:
                raise TimeoutError(f"{args} did not reach kill point {point.name} in {timeout} s")
            time.sleep(0.002)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)


def appeared(directory: Path, pattern: str) -> Callable[[], bool]:
    """A trigger: some entry of ``directory`` matches the glob ``pattern``."""
    def check() -> bool:
        try:
            return any(directory.glob(pattern))
        except OSError:
            return False
    return check


def nonempty(directory: Path, pattern: str) -> Callable[[], bool]:
    """A trigger: some file of ``directory`` matching ``pattern`` has bytes in it."""
    def check() -> bool:
        try:
            return any(p.is_file() and p.stat().st_size > 0 for p in directory.glob(pattern))
        except OSError:
            return False
    return check
