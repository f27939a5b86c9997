"""Real runtimes in child processes (awslambdaric under the host's Python), tiny handlers."""

from __future__ import annotations

import json
import os
import re
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from emulator_support import HOST_PY, HOST_RUNTIME, Logs, make_function, make_layer, pid_alive, runtime_pids

from lambdapack.emulator.invoker import LocalFunction
from lambdapack.emulator.session import LocalFunctionSpec, invoke_local, open_function
from lambdapack.errors import EmulatorError, InterpreterError

Opener = Callable[..., LocalFunction]


def call(function: LocalFunction, event: dict[str, object]):  # type: ignore[no-untyped-def]
    return function.invoke(json.dumps(event).encode())


def test_cold_then_warm_in_one_process(local_function: Opener, logs: Logs) -> None:
    function = local_function()
    first, second, third = (call(function, {}) for _ in range(3))
    assert first.payload["body"] == "virginica" and first.status == "success"
    assert first.cold and first.init_ms is not None and first.init_ms > 0
    assert not second.cold and second.init_ms is None and not third.cold
    assert first.pid == second.pid == third.pid
    assert len({first.request_id, second.request_id, third.request_id}) == 3
    text = logs.text
    assert text.count("INIT_START") == 1
    for result in (first, second, third):
        assert f"START RequestId: {result.request_id} Version: $LATEST" in text
        assert f"END RequestId: {result.request_id}" in text
    reports = re.findall(r"^REPORT RequestId: (\S+)\t(.*)$", text, re.MULTILINE)
    assert [rid for rid, _ in reports] == [first.request_id, second.request_id, third.request_id]
    assert "Init Duration: " in reports[0][1] and "Init Duration" not in reports[1][1]
    for _, fields in reports:
        assert re.search(r"Duration: [\d.]+ ms\tBilled Duration: \d+ ms\tMemory Size: 512 MB\t"
                         r"Max Memory Used: \d+ MB", fields)
    # the function's own output sits between its START and END
    start = text.index(f"START RequestId: {second.request_id}")
    end = text.index(f"END RequestId: {second.request_id}")
    assert "handler got {}" in text[start:end]


def test_lambda_environment_and_isolation(local_function: Opener, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYTHONPATH", "/leak/pythonpath")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAHOSTLEAK")
    monkeypatch.setenv("AWS_PROFILE", "host-profile")
    monkeypatch.setenv("SOME_HOST_VARIABLE", "leak")
    function = local_function(memory_mb=256, timeout_s=7, function_name="iris", region="eu-west-3",
                              environment={"MODEL_DIR": "model"})
    described = call(function, {"describe": True}).payload
    env = described["env"]
    assert env["AWS_LAMBDA_FUNCTION_NAME"] == "iris" and described["name"] == "iris"
    assert env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] == "256" and described["memory"] == "256"
    assert env["AWS_LAMBDA_FUNCTION_VERSION"] == "$LATEST"
    assert env["AWS_LAMBDA_LOG_GROUP_NAME"] == "/aws/lambda/iris"
    assert re.fullmatch(r"\d{4}/\d\d/\d\d/\[\$LATEST\][0-9a-f]{32}", env["AWS_LAMBDA_LOG_STREAM_NAME"])
    assert env["AWS_REGION"] == env["AWS_DEFAULT_REGION"] == "eu-west-3"
    assert env["AWS_EXECUTION_ENV"] == f"AWS_Lambda_{HOST_RUNTIME}"
    assert env["_HANDLER"] == "lambda_function.lambda_handler"
    assert env["TZ"] == ":UTC" and env["LANG"] == "en_US.UTF-8"
    assert env["AWS_LAMBDA_RUNTIME_API"].startswith("127.0.0.1:")
    assert env["MODEL_DIR"] == "model"
    assert env["LAMBDA_TASK_ROOT"] == described["cwd"] == described["path"][0]
    assert env["_X_AMZN_TRACE_ID"].startswith("Root=1-")
    for leaked in ("PYTHONPATH", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_PROFILE", "SOME_HOST_VARIABLE",
                   "HOME", "VIRTUAL_ENV"):
        assert leaked not in env
    assert described["isolated"] == 1
    assert described["version"] == HOST_PY
    assert described["arn"] == "arn:aws:lambda:eu-west-3:012345678912:function:iris"
    assert 0 < described["remaining_ms"] <= 7000
    path = described["path"]
    assert path[1].endswith(f"python/lib/python{HOST_PY}/site-packages")
    assert path[2].endswith("/python")
    assert path[-1] == env["LAMBDA_RUNTIME_DIR"]
    assert not any("site-packages" in p for p in path[3:-1])  # the interpreter's own site-packages stays out
    assert sys.prefix not in "".join(path) or sys.prefix == sys.base_prefix
    assert "sklearn" not in described["modules"] and "pytest" not in described["modules"]


def test_client_context_and_cognito_identity_reach_the_handler(local_function: Opener) -> None:
    function = local_function()
    result = function.invoke(b'{"describe": true}', client_context=json.dumps({"custom": {"tenant": "t1"}}),
                             cognito_identity=json.dumps({"cognitoIdentityId": "eu-west-1:abc",
                                                          "cognitoIdentityPoolId": "pool"}))
    assert result.payload["custom"] == {"tenant": "t1"}
    assert result.payload["cognito_id"] == "eu-west-1:abc"
    assert result.payload["request_id"] == result.request_id


def test_handler_exception_is_an_error_payload_and_the_runtime_stays_warm(local_function: Opener) -> None:
    function = local_function()
    ok = call(function, {})
    failed = call(function, {"raise": "no such flower"})
    assert failed.status == "error" and failed.function_error == "Unhandled"
    assert failed.payload["errorType"] == "ValueError" == failed.error_type
    assert failed.payload["errorMessage"] == "no such flower"
    assert failed.payload["requestId"] == failed.request_id
    assert any("lambda_function.py" in frame for frame in failed.payload["stackTrace"])
    again = call(function, {})
    assert again.status == "success" and not again.cold and again.pid == ok.pid == failed.pid


def test_timeout_kills_the_runtime_and_the_next_invoke_gets_a_fresh_one(local_function: Opener, logs: Logs) -> None:
    function = local_function(timeout_s=1)
    warm = call(function, {})
    timed_out = call(function, {"sleep": 30})
    assert timed_out.status == "timeout"
    assert timed_out.payload == {
        "errorType": "Sandbox.Timedout",
        "errorMessage": f"RequestId: {timed_out.request_id} Error: Task timed out after 1.00 seconds"}
    assert f"{timed_out.request_id} Task timed out after 1.00 seconds" in logs.text
    assert "Status: timeout" in logs.text
    assert not pid_alive(warm.pid)
    fresh = call(function, {})
    assert fresh.status == "success" and fresh.cold and fresh.pid != warm.pid


def test_import_crash_is_an_init_error(tmp_path: Path, tiny: tuple[Path, Path], logs: Logs) -> None:
    broken = make_function(tmp_path, "import no_such_module\n\ndef lambda_handler(event, context):\n    return 1\n")
    with open_function(LocalFunctionSpec(broken, (tiny[1],)), log_sink=logs) as function:
        first = function.invoke(b"{}")
        second = function.invoke(b"{}")
    assert first.status == "init-error" and first.cold
    assert first.payload == {"errorMessage": "Unable to import module 'lambda_function': No module named "
                                             "'no_such_module'",
                             "errorType": "Runtime.ImportModuleError", "requestId": "", "stackTrace": []}
    # Lambda retries init on the next invoke, in a new runtime
    assert second.status == "init-error" and second.pid != first.pid
    assert "Phase: init\tStatus: error" in logs.text


def test_exception_at_init_and_missing_handler(tmp_path: Path, tiny: tuple[Path, Path], logs: Logs) -> None:
    raising = make_function(tmp_path, "raise RuntimeError('model file is corrupt')\n", name="raising.zip")
    with open_function(LocalFunctionSpec(raising, (tiny[1],)), log_sink=logs) as function:
        result = function.invoke(b"{}")
    assert result.payload["errorType"] == "RuntimeError"
    assert result.payload["errorMessage"] == "model file is corrupt"
    assert any("lambda_function.py" in frame for frame in result.payload["stackTrace"])
    nope = LocalFunctionSpec(tiny[0], (tiny[1],), handler="lambda_function.nope")
    with open_function(nope, log_sink=logs) as function:
        missing = function.invoke(b"{}")
    assert missing.payload["errorType"] == "Runtime.HandlerNotFound"


def test_memory_limit_kills_the_runtime(local_function: Opener) -> None:
    function = local_function(memory_mb=128)
    small = call(function, {})
    assert 0 < small.max_memory_mb < 128
    over = call(function, {"alloc_mb": 300})
    assert over.status == "oom"
    assert over.payload == {"errorType": "Runtime.OutOfMemory",
                            "errorMessage": f"RequestId: {over.request_id} Error: Runtime exited with error: "
                                            "signal: killed"}
    assert over.max_memory_mb == 128
    assert not pid_alive(small.pid)
    after = call(function, {})
    assert after.status == "success" and after.cold


def test_runtime_exit_is_reported_like_lambda(local_function: Opener) -> None:
    function = local_function()
    result = call(function, {"exit": 3})
    assert result.status == "exited"
    assert result.payload["errorType"] == "Runtime.ExitError"
    assert result.payload["errorMessage"].endswith("Runtime exited with error: exit status 3")
    assert call(function, {}).status == "success"


def test_no_orphans_after_close_even_grandchildren(tiny: tuple[Path, Path], logs: Logs) -> None:
    before = runtime_pids()
    with open_function(LocalFunctionSpec(tiny[0], (tiny[1],)), log_sink=logs) as function:
        spawned = call(function, {"spawn": True}).payload
        assert pid_alive(spawned["pid"]) and pid_alive(spawned["child"])
    deadline = time.monotonic() + 5
    while (pid_alive(spawned["child"]) or pid_alive(spawned["pid"])) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not pid_alive(spawned["pid"])
    assert not pid_alive(spawned["child"])
    assert runtime_pids() <= before


def test_invoke_local_reports_cold_and_warm(tiny: tuple[Path, Path], logs: Logs) -> None:
    report = invoke_local(LocalFunctionSpec(*tiny[:1], layers=(tiny[1],)), b'{"sl": 6.9}', repeat=3, log_sink=logs)
    assert report.ok and len(report.invocations) == 3
    assert report.runtime == HOST_RUNTIME and report.python_version.startswith(HOST_PY)
    assert report.invocations[0].cold and not report.invocations[2].cold
    assert report.warm_ms is not None and report.cold_ms > 0
    assert report.last.payload_text.startswith('{"statusCode": 200, "body": "virginica"')


def test_wrong_arch_layer_is_refused(tmp_path: Path, tiny: tuple[Path, Path]) -> None:
    from lambdapack.targets import host_arch

    other = "arm64" if host_arch() == "x86_64" else "x86_64"
    layer = make_layer(tmp_path, arch=other, name="foreign.zip")
    spec = LocalFunctionSpec(tiny[0], (layer,))
    with pytest.raises(EmulatorError, match=f"built for {other}") as info, open_function(spec):
        pass
    assert f"--arch {host_arch()}" in info.value.hint


def test_arch_read_from_elf_when_there_is_no_record(tmp_path: Path, tiny: tuple[Path, Path]) -> None:
    from lambdapack.archive import ZipEntry, write_zip
    from lambdapack.layer.inspect import inspect_layer
    from lambdapack.targets import host_arch

    other, machine = (("arm64", 183) if host_arch() == "x86_64" else ("x86_64", 62))
    header = b"\x7fELF\x02\x01\x01" + b"\x00" * 11 + machine.to_bytes(2, "little") + b"\x00" * 44
    layer = tmp_path / "norecord.zip"
    write_zip(layer, [ZipEntry(f"python/lib/python{HOST_PY}/site-packages/fast.cpython-x.so", header)])
    info = inspect_layer(layer)
    assert (info.arch, info.python_version, info.runtime) == (other, HOST_PY, HOST_RUNTIME)
    with pytest.raises(EmulatorError, match=f"built for {other}"), open_function(LocalFunctionSpec(tiny[0], (layer,))):
        pass


def test_no_matching_interpreter(tmp_path: Path, tiny: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    from lambdapack import interpreters

    layer = make_layer(tmp_path, python="3.14", name="py314.zip")
    monkeypatch.setattr(interpreters, "find_python", lambda version, explicit=None: None)
    with pytest.raises(InterpreterError, match=r"no CPython 3\.14 .*python3\.14") as info, open_function(
            LocalFunctionSpec(tiny[0], (layer,))):
        pass
    assert "--python" in info.value.hint


def test_python_option_of_the_wrong_version_is_refused(tiny: tuple[Path, Path], python312: Path) -> None:
    # a real CPython of another minor version; on a 3.12 host, an executable that is no CPython at all
    python = python312 if HOST_PY != "3.12" else Path("/bin/true")
    with pytest.raises(InterpreterError, match=f"is not a CPython {HOST_PY}"), open_function(
            LocalFunctionSpec(tiny[0], (tiny[1],), python=python)):
        pass


def test_bad_settings_and_missing_files(tmp_path: Path, tiny: tuple[Path, Path]) -> None:
    cases = [
        (LocalFunctionSpec(tmp_path / "none.zip", (tiny[1],)), "no such function package"),
        (LocalFunctionSpec(tiny[0], (tmp_path / "none.zip",)), "no such layer"),
        (LocalFunctionSpec(tiny[0], (tiny[1],), memory_mb=64), "outside Lambda's range"),
        (LocalFunctionSpec(tiny[0], (tiny[1],), timeout_s=901), "outside Lambda's range"),
        (LocalFunctionSpec(tiny[0], (tiny[1],), handler="nodot"), "MODULE.FUNCTION"),
    ]
    for spec, fragment in cases:
        with pytest.raises(EmulatorError, match=fragment), open_function(spec):
            pass
    not_a_zip = tmp_path / "layer.zip"
    not_a_zip.write_text("hello")
    from lambdapack.errors import ArchiveError

    with pytest.raises(ArchiveError), open_function(LocalFunctionSpec(tiny[0], (not_a_zip,))):
        pass


def test_bootstrap_refuses_another_python_version(tmp_path: Path) -> None:
    import subprocess

    from lambdapack.emulator.process import BOOTSTRAP

    done = subprocess.run([sys.executable, "-I", "-S", str(BOOTSTRAP), str(tmp_path), "3.99"],
                          capture_output=True, text=True, env={"PATH": os.environ["PATH"]})
    assert done.returncode == 127
    assert "needs Python 3.99" in done.stderr


def test_init_that_never_finishes_times_out(tmp_path: Path, tiny: tuple[Path, Path], logs: Logs,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    from lambdapack.emulator import invoker

    # Lambda gives init 10 s, then retries it within the invoke's timeout; shrink the 10 s
    monkeypatch.setattr(invoker, "INIT_LIMIT_S", 0.5)
    source = "import time\ntime.sleep(60)\n\ndef lambda_handler(event, context):\n    return 1\n"
    stuck = make_function(tmp_path, source, name="stuck.zip")
    with open_function(LocalFunctionSpec(stuck, (tiny[1],), timeout_s=1), log_sink=logs) as function:
        result = function.invoke(b"{}")
        assert result.status == "timeout" and result.error_type == "Sandbox.Timedout"
        assert not pid_alive(result.pid)
    assert "Phase: init\tStatus: timeout" in logs.text
    assert logs.text.index("START RequestId") < logs.text.index("Task timed out after 1.00 seconds")


def test_unpacked_layers_are_pruned_when_old_and_many(tmp_path: Path) -> None:
    from lambdapack.layer_python import prune_unpacked

    now = time.time()
    dirs = []
    for age_days in (0, 1.5, 2, 3, 0.01):
        path = tmp_path / f"opt-{age_days}"
        (path / "python").mkdir(parents=True)
        (path / ".complete").write_text("x")
        os.utime(path / ".complete", (now - age_days * 86400, now - age_days * 86400))
        dirs.append(path)
    keep = dirs[0]
    removed = prune_unpacked(tmp_path, keep=keep, newest=3, idle_s=86400)
    # kept: the one in use, the two most recently used others; older ones go only if idle a day
    assert sorted(p.name for p in removed) == ["opt-2", "opt-3"]
    assert keep.exists() and (tmp_path / "opt-0.01").exists() and (tmp_path / "opt-1.5").exists()
