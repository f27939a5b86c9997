"""The generated hostile archives against every command that reads a zip a user hands it.

- ``check-layer`` (the layer checker): the archive check fails and nothing is unpacked;
- ``package --layer`` (reads the layer's build record): exit 1 with ``error:``/``hint:``,
  no function zip written;
- the local emulator's unzip (``/opt`` from layers, the task root from the function zip);
- ``deploy``'s pre-flight (reads layer and function zips before any AWS call).

Each hostile zip gets the members that make it look like a layer or a function package
(``hostile.layer_base()``/``function_base()``), so the reader meets the hostile part
instead of stopping at "this is not a layer".
"""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

import hostile
import pytest
from escape_checks import assert_nothing_outside, snapshot

from lambdapack import layer_python
from lambdapack.deploy import deployer
from lambdapack.emulator import code
from lambdapack.errors import EmulatorError, LambdapackError
from lambdapack.layer import check

ZIP_CASES = [c for c in hostile.cases() if "layer" in c.kinds]
# Only an extraction sees these: a reader that lists the zip and hands it to AWS unopened
# (package's record read, deploy's pre-flight) is not put at risk by them.
EXTRACTION_ONLY = {"symlink-absolute", "symlink-up", "symlink-chain", "bomb-lying-size", "corrupt-data"}


def _sandbox(tmp_path: Path) -> tuple[Path, dict[str, tuple[int, int]]]:
    sandbox = tmp_path / "sandbox"
    sandbox.mkdir()
    (sandbox / "keep.txt").write_text("untouched\n")
    return sandbox, snapshot(sandbox)


@pytest.mark.parametrize("case", ZIP_CASES, ids=lambda c: c.name)
def test_check_layer_fails_the_archive_check(case: hostile.HostileCase, tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    layer = hostile.build_case(case, tmp_path / "in", base=hostile.layer_base())
    sandbox, before = _sandbox(tmp_path)
    monkeypatch.setenv("TMPDIR", str(sandbox / "build"))
    (sandbox / "build").mkdir()
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", None)  # let TMPDIR take effect for this test
    try:
        report = check.check_layer_zip(layer)
    except LambdapackError as exc:  # unreadable as a zip at all
        assert exc.hint
        assert_nothing_outside(sandbox, sandbox / "build", before)
        return
    assert not report.ok
    archive = next(c for c in report.checks if c.name == "archive")
    assert archive.status == check.FAIL
    assert re.search(case.expect, archive.detail), archive.detail
    assert_nothing_outside(sandbox, sandbox / "build", before)


@pytest.mark.parametrize("case", ZIP_CASES, ids=lambda c: c.name)
def test_package_refuses_a_hostile_layer(case: hostile.HostileCase, run_cli, iris_model: Path,
                                         tmp_path: Path) -> None:
    layer = hostile.build_case(case, tmp_path / "in", base=hostile.layer_base())
    out = tmp_path / "dist" / "function.zip"
    result = run_cli("package", "--model", str(iris_model), "--out", str(out), "--layer", str(layer))
    assert result.exit_code == 1
    assert "error:" in result.stderr and "hint:" in result.stderr
    assert "Traceback" not in result.stderr
    if case.name not in EXTRACTION_ONLY:
        assert re.search(case.expect, result.stderr.replace("\n", " ")), result.stderr
    assert not out.exists()


@pytest.mark.parametrize("case", ZIP_CASES, ids=lambda c: c.name)
def test_the_emulator_refuses_a_hostile_layer(case: hostile.HostileCase, tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    sandbox, before = _sandbox(tmp_path)
    cache = sandbox / "cache"
    monkeypatch.setenv("LAMBDAPACK_CACHE_DIR", str(cache))
    layer = hostile.build_case(case, tmp_path / "in", base=hostile.layer_base())
    with pytest.raises(LambdapackError, match=case.expect) as caught:
        layer_python.unpacked_layers(code.inspect_layers([layer]), EmulatorError)
    assert caught.value.hint
    assert_nothing_outside(sandbox, cache, before)
    emulator_dir = cache / "emulator"
    # no /opt directory was published for a refused layer
    assert not emulator_dir.exists() or not any(p.name.startswith("opt-") for p in emulator_dir.iterdir())


@pytest.mark.parametrize("case", ZIP_CASES, ids=lambda c: c.name)
def test_the_emulator_refuses_a_hostile_function_zip(case: hostile.HostileCase, tmp_path: Path) -> None:
    sandbox, before = _sandbox(tmp_path)
    function = hostile.build_case(case, tmp_path / "in", base=hostile.function_base())
    task_root = sandbox / "task"
    with pytest.raises(LambdapackError, match=case.expect) as caught:
        code.unpack_function(function, task_root)
    assert caught.value.hint
    assert_nothing_outside(sandbox, task_root, before)


@pytest.mark.parametrize("case", [c for c in ZIP_CASES if c.name not in EXTRACTION_ONLY], ids=lambda c: c.name)
@pytest.mark.parametrize("role", ["layer", "function"])
def test_deploy_preflight_refuses_before_any_aws_call(case: hostile.HostileCase, role: str, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    # a closed loopback port: a deploy that got past pre-flight fails differently and loudly
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    good_layer = tmp_path / "good" / "layer.zip"
    good_function = tmp_path / "good" / "function.zip"
    good_layer.parent.mkdir()
    with zipfile.ZipFile(good_layer, "w") as zf:
        for info, data in hostile.layer_base():
            zf.writestr(info, data)
    with zipfile.ZipFile(good_function, "w") as zf:
        for info, data in hostile.function_base():
            zf.writestr(info, data)
    base = hostile.layer_base() if role == "layer" else hostile.function_base()
    bad = hostile.build_case(case, tmp_path / "in", base=base)
    request = deployer.DeployRequest(
        name="hostile", root=tmp_path,
        layer=bad if role == "layer" else good_layer,
        function=bad if role == "function" else good_function)
    with pytest.raises(LambdapackError, match=case.expect) as caught:
        deployer.deploy(request, dry_run=True)
    assert caught.value.hint
    assert not (tmp_path / ".lambdapack").exists()
