"""``--json`` on failure: every command prints exactly one JSON document on stdout, errors included.

The error and hint also stay on stderr as ``error:`` / ``hint:`` lines; stdout parses as a
single document (``json.loads`` of all of it), whatever the command and whatever failed.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import click
import pytest

from lambdapack.archive import ZipEntry, write_zip
from lambdapack.cli import main as main_mod
from lambdapack.cli.main import json_option
from lambdapack.errors import LambdapackError

SP312 = "python/lib/python3.12/site-packages"


def _failure(stdout: str) -> dict:
    doc = json.loads(stdout)  # raises on two documents or on any stray text
    assert isinstance(doc, dict) and {"error", "hint", "exit_code"} <= set(doc), doc
    return doc


@pytest.mark.parametrize("args, exit_code, error_start", [
    (["package", "--model", "/nonexistent", "--json"], 1, "/nonexistent: no such model directory"),
    (["train", "--csv", "nope.csv", "--target", "y", "--json"], 1, "nope.csv: no such file"),
    (["invoke", "--local", "--event", "{bad", "--json"], 1, "the event in --event is not valid JSON"),
    (["destroy", "--name", "nothing", "--dry-run", "--json"], 1, "no deployment named 'nothing' here"),
    (["model", "show", "/nonexistent", "--json"], 1, "/nonexistent: no such model directory"),
    (["demo", "--runtime", "python9", "--json"], 2, "Invalid value for '--runtime': 'python9' is not one of"),
    (["check-layer", "missing.zip", "--json"], 1, "missing.zip: no such file"),
    (["check-layer", "missing.zip", "--jsn", "--json"], 2, "No such option '--jsn'"),
])
def test_failures_print_one_json_document_and_the_stderr_lines(
        args: list[str], exit_code: int, error_start: str, run_cli: Callable, in_tmp: Path) -> None:
    result = run_cli(*args)
    assert result.exit_code == exit_code, result.stderr
    doc = _failure(result.stdout)
    assert doc["exit_code"] == exit_code and doc["error"].startswith(error_start), doc
    assert doc["hint"]
    if exit_code == 1:
        assert f"error: {doc['error']}" in result.stderr and f"hint: {doc['hint']}" in result.stderr
    else:  # click's usage message stays as it was
        assert "Usage: " in result.stderr and doc["hint"].endswith(f" {args[0]} --help`")


def test_without_json_stdout_stays_empty(run_cli: Callable, in_tmp: Path) -> None:
    result = run_cli("check-layer", "missing.zip")
    assert result.exit_code == 1 and result.stdout == ""


def test_a_report_then_a_failure_is_one_document(run_cli: Callable, tmp_path: Path) -> None:
    layer = tmp_path / "other-python.zip"
    write_zip(layer, [ZipEntry("python/lib/python3.11/site-packages/m.py", b"")])
    result = run_cli("check-layer", str(layer), "--runtime", "python3.12", "--python", "/nonexistent", "--json")
    assert result.exit_code == 1
    doc = _failure(result.stdout)
    assert doc["ok"] is False and {c["name"]: c["status"] for c in doc["checks"]}["layout"] == "fail"
    assert doc["error"] == f"{layer} fails check-layer (layout)" and doc["exit_code"] == 1
    good = tmp_path / "good.zip"
    write_zip(good, [ZipEntry(f"{SP312}/m.py", b"")])
    ok = run_cli("check-layer", str(good), "--runtime", "python3.12", "--python", "/nonexistent", "--json")
    assert ok.exit_code == 0 and json.loads(ok.stdout)["ok"] is True and "error" not in json.loads(ok.stdout)


def test_internal_errors_are_json_too(run_cli: Callable) -> None:
    @click.command("json-boom")
    @json_option
    def boom(as_json: bool) -> None:
        raise RuntimeError("unexpected")

    @click.command("json-user")
    @json_option
    def user(as_json: bool) -> None:
        raise LambdapackError("the thing is broken", hint="fix the thing")

    main_mod.cli.add_command(boom)
    main_mod.cli.add_command(user)
    try:
        bug = run_cli("json-boom", "--json")
        broken = run_cli("json-user", "--json")
    finally:
        main_mod.cli.commands.pop("json-boom")
        main_mod.cli.commands.pop("json-user")
    assert bug.exit_code == 1 and "Traceback" not in bug.stderr
    assert _failure(bug.stdout)["error"] == "internal error: RuntimeError: unexpected"
    assert _failure(broken.stdout) == {"error": "the thing is broken", "hint": "fix the thing", "exit_code": 1}


def test_a_real_process_prints_one_document(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "lambdapack", "package", "--model", str(tmp_path / "none"), "--json"],
                          capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert done.returncode == 1
    assert _failure(done.stdout)["exit_code"] == 1
    assert done.stderr.splitlines()[0].startswith("error: ")
