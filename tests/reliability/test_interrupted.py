"""Interrupted work: SIGKILL ``train``, ``package`` and ``build-layer`` at several points.

After every kill the artifact is the previous one (same sha256), the new complete one, or
absent (train's directory swap has a window where neither is in place), never a truncated
or mixed one; the next full run succeeds and gives the expected artifact. Kill points are
a few delays plus triggers on the staging files appearing, so the write window itself is
hit on a fast or a loaded machine alike.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import time
import zipfile
from pathlib import Path

import pytest
from killing import KillOutcome, KillPoint, appeared, nonempty, run_and_kill, run_to_end

from lambdapack.archive import sha256_file

pytestmark = pytest.mark.slow

# Seeded: the same kill delays every run, so a failure can be replayed.
RNG = random.Random(9)


def _delays(count: int, run_seconds: float) -> list[KillPoint]:
    """Delays spread over the measured length of a full run, so they land inside one."""
    fractions = sorted(RNG.uniform(0.02, 0.9) for _ in range(count))
    return [KillPoint(f"at {f:.0%} of a run", delay=f * run_seconds) for f in fractions]


def _clear_leftovers(directory: Path, artifact: str) -> int:
    """Remove hidden staging files a SIGKILL left beside ``artifact``; return how many.

    They are never mistaken for the artifact, but a kill trigger watching for a staging
    file must not fire on the previous run's leftover.
    """
    count = 0
    for path in directory.glob(f".{artifact}.*"):
        count += 1
        shutil.rmtree(path) if path.is_dir() else path.unlink()
    return count


def _timed(args: list[str], cwd: Path, env: dict[str, str] | None = None) -> float:
    started = time.monotonic()
    done = run_to_end(args, cwd, env)
    assert done.returncode == 0, done.stderr
    return time.monotonic() - started


def _model_state(out: Path) -> str | None:
    """The sha256 of a consistent model directory, None if absent; fails on a mixed or truncated one."""
    if not out.exists():
        return None
    names = sorted(p.name for p in out.iterdir())
    assert names == ["model.joblib", "model.json"], f"unexpected model directory contents {names}"
    manifest = json.loads((out / "model.json").read_text())
    actual = sha256_file(out / "model.joblib")
    assert manifest["model"]["sha256"] == actual, "model.joblib and model.json disagree: a half-updated pair"
    return actual


def test_train_killed_anywhere_leaves_the_previous_model_or_the_new_one(tmp_path: Path) -> None:
    out = tmp_path / "build" / "model"
    old_args = ["train", "--param", "n_estimators=5", "--out", str(out)]
    new_args = ["train", "--param", "n_estimators=12", "--out", str(out)]
    first = run_to_end(old_args, tmp_path)
    assert first.returncode == 0, first.stderr
    previous = _model_state(out)
    scratch = tmp_path / "scratch"
    run_seconds = _timed(["train", "--param", "n_estimators=12", "--out", str(scratch / "model")], tmp_path)
    expected_new = _model_state(scratch / "model")
    assert previous != expected_new

    points = [*_delays(4, run_seconds),
              KillPoint("staging directory appears", trigger=appeared(out.parent, ".model.*.tmp")),
              KillPoint("model written into staging", trigger=appeared(out.parent, ".model.*.tmp/model.joblib")),
              KillPoint("swap in progress", trigger=appeared(out.parent, ".model.*.old"))]
    outcomes: list[KillOutcome] = []
    for point in points:
        # start every kill from the previous model, so "previous" is always the right answer
        if _model_state(out) != previous:
            shutil.rmtree(out, ignore_errors=True)
            assert run_to_end(old_args, tmp_path).returncode == 0
        _clear_leftovers(out.parent, out.name)
        outcome = run_and_kill(new_args, tmp_path, point)
        outcomes.append(outcome)
        assert _model_state(out) in (previous, expected_new, None), f"corrupt after kill {point.name}"
    # most points land inside a run; how many exactly depends on this machine's load
    assert sum(o.killed for o in outcomes) >= len(points) // 2, outcomes
    final = run_to_end(new_args, tmp_path)
    assert final.returncode == 0, final.stderr
    assert _model_state(out) == expected_new
    _record("train", outcomes)


def test_package_killed_anywhere_leaves_the_previous_zip_or_the_new_one(tmp_path: Path, iris_model: Path) -> None:
    other_model = tmp_path / "other-model"
    assert run_to_end(["train", "--param", "n_estimators=5", "--out", str(other_model)], tmp_path).returncode == 0
    out = tmp_path / "dist" / "function.zip"
    old_args = ["package", "--model", str(other_model), "--out", str(out)]
    new_args = ["package", "--model", str(iris_model), "--out", str(out)]
    run_seconds = _timed(new_args, tmp_path)
    expected_new = sha256_file(out)
    assert run_to_end(old_args, tmp_path).returncode == 0
    previous = sha256_file(out)
    assert previous != expected_new

    points = [*_delays(4, run_seconds),
              KillPoint("zip being written", trigger=appeared(out.parent, ".function.zip.*.tmp"))]
    outcomes = []
    for point in points:
        _clear_leftovers(out.parent, out.name)
        outcome = run_and_kill(new_args, tmp_path, point)
        outcomes.append(outcome)
        assert out.exists(), f"the previous zip vanished after kill {point.name}"
        digest = sha256_file(out)
        assert digest in (previous, expected_new), f"a truncated or foreign zip after kill {point.name}"
        with zipfile.ZipFile(out) as zf:
            assert zf.testzip() is None
        if digest == expected_new:  # the run finished: put the previous one back for the next point
            assert run_to_end(old_args, tmp_path).returncode == 0
    assert sum(o.killed for o in outcomes) >= len(points) // 2, outcomes
    assert run_to_end(new_args, tmp_path).returncode == 0
    assert sha256_file(out) == expected_new
    _record("package", outcomes)


def test_build_layer_killed_anywhere_leaves_the_previous_layer_or_the_new_one(tmp_path: Path,
                                                                           layer_download_cache: Path) -> None:
    env = {**os.environ, "LAMBDAPACK_CACHE_DIR": str(layer_download_cache)}
    out = tmp_path / "dist" / "layer.zip"
    base = ["build-layer", "--runtime", "python3.12", "--arch", "x86_64", "--out", str(out)]
    old_args = [*base, "joblib==1.4.2"]
    new_args = [*base, "joblib==1.5.2", "threadpoolctl==3.6.0"]
    run_to_end(new_args, tmp_path, env)  # fills the cache: the timed run below is a warm rebuild
    run_seconds = _timed(new_args, tmp_path, env)
    expected_new = sha256_file(out)
    assert run_to_end(old_args, tmp_path, env).returncode == 0
    previous = sha256_file(out)
    assert previous != expected_new

    points = [*_delays(3, run_seconds),
              KillPoint("staged zip created", trigger=appeared(out.parent, ".layer.zip.*.building")),
              KillPoint("zip being written", trigger=appeared(out.parent, "*.building.*.tmp")),
              KillPoint("staged zip being checked", trigger=nonempty(out.parent, ".layer.zip.*.building"))]
    wanted_kills = len(points) // 2
    # A warm rebuild of this small layer takes about two seconds, so on a loaded machine a
    # fixed set of delays can all land after the process ended: draw more (bounded) until
    # enough kills have landed inside a run, rather than depending on the machine's load.
    extra = [KillPoint(f"extra at {f:.0%} of a run", delay=f * run_seconds)
             for f in (RNG.uniform(0.02, 0.6) for _ in range(8))]
    outcomes = []
    for index, point in enumerate([*points, *extra]):
        if index >= len(points) and sum(o.killed for o in outcomes) >= wanted_kills:
            break
        _clear_leftovers(out.parent, out.name)
        outcome = run_and_kill(new_args, tmp_path, point, env)
        outcomes.append(outcome)
        assert out.exists(), f"the previous layer vanished after kill {point.name}"
        digest = sha256_file(out)
        assert digest in (previous, expected_new), f"a truncated or foreign layer after kill {point.name}"
        if digest == expected_new:
            assert run_to_end(old_args, tmp_path, env).returncode == 0
    assert sum(o.killed for o in outcomes) >= wanted_kills, outcomes
    final = run_to_end(new_args, tmp_path, env)
    assert final.returncode == 0, final.stderr
    assert sha256_file(out) == expected_new
    _record("build-layer", outcomes)


def _record(command: str, outcomes: list[KillOutcome]) -> None:
    """Append the kill points to a report file when LAMBDAPACK_RELIABILITY_REPORT names one."""
    target = os.environ.get("LAMBDAPACK_RELIABILITY_REPORT")
    if not target:
        return
    with open(target, "a", encoding="utf-8") as fh:
        for o in outcomes:
            fh.write(json.dumps({"kind": "kill", "command": command, "point": o.point, "killed": o.killed,
                                 "elapsed": round(o.elapsed, 3)}) + "\n")


def test_two_builds_sharing_one_cache_at_once_do_not_corrupt_it(tmp_path: Path) -> None:
    """Both builds succeed with the same bytes, and every wheel in the store matches its address."""
    import subprocess

    from killing import lambdapack_cmd

    env = {**os.environ, "LAMBDAPACK_CACHE_DIR": str(tmp_path / "shared-cache")}
    procs = []
    for i in range(2):
        out = tmp_path / f"dist{i}" / "layer.zip"
        procs.append((out, subprocess.Popen(
            lambdapack_cmd("build-layer", "--runtime", "python3.12", "--arch", "x86_64", "--no-compile",
                           "--out", str(out), "joblib==1.5.2", "threadpoolctl==3.6.0"),
            cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)))
    for _out, proc in procs:
        _stdout, stderr = proc.communicate(timeout=600)
        assert proc.returncode == 0, stderr
    digests = {sha256_file(out) for out, _proc in procs}
    assert len(digests) == 1, "two builds of the same inputs differ"
    store = list((tmp_path / "shared-cache" / "wheels").rglob("*.whl"))
    assert store, "the shared cache holds no wheels"
    for wheel in store:
        assert sha256_file(wheel) == wheel.parent.name, f"{wheel} does not match its content address"
    leftovers = [p for p in (tmp_path / "shared-cache" / "wheels").rglob(".part-*")]
    assert leftovers == []
