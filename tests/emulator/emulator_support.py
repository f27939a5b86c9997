"""Emulator test helpers: tiny layers and functions (no scikit-learn) run by the host's Python version.

Tiny layers target the host's own Python minor version so the runtime directory comes from
lambdapack's installed awslambdaric (no download); the slow tests use real layers.
"""

from __future__ import annotations

import json
import os
import sys
import textwrap
from pathlib import Path

from lambdapack.archive import ZipEntry, write_zip
from lambdapack.targets import host_arch

HOST_PY = "{}.{}".format(*sys.version_info[:2])
HOST_RUNTIME = f"python{HOST_PY}"

# One handler for every behaviour under test, steered by the event.
HANDLER = textwrap.dedent('''
    import json, os, subprocess, sys, time
    import helper

    LOADED_AT = time.time()

    def lambda_handler(event, context):
        print("handler got", json.dumps(event))
        if event.get("sleep"):
            time.sleep(event["sleep"])
        if event.get("raise"):
            raise ValueError(event["raise"])
        if event.get("alloc_mb"):
            hold = bytearray(b"x" * (event["alloc_mb"] * 1024 * 1024))
            time.sleep(0.2)
            del hold
        if "exit" in event:
            os._exit(event["exit"])
        if event.get("spawn"):
            child = subprocess.Popen(["sleep", "300"])
            return {"child": child.pid, "pid": os.getpid()}
        if event.get("describe"):
            return {
                "pid": os.getpid(), "path": sys.path, "env": dict(os.environ),
                "isolated": sys.flags.isolated, "version": "%d.%d" % sys.version_info[:2],
                "cwd": os.getcwd(), "remaining_ms": context.get_remaining_time_in_millis(),
                "arn": context.invoked_function_arn, "request_id": context.aws_request_id,
                "memory": context.memory_limit_in_mb, "name": context.function_name,
                "modules": sorted(sys.modules),
                "custom": getattr(context.client_context, "custom", None),
                "cognito_id": getattr(context.identity, "cognito_identity_id", None),
            }
        return {"statusCode": 200, "body": helper.ANSWER, "pid": os.getpid()}
''')


def make_layer(directory: Path, *, python: str = HOST_PY, arch: str | None = None, record: bool = True,
               name: str = "layer.zip") -> Path:
    site = f"python/lib/python{python}/site-packages"
    entries = [ZipEntry(f"{site}/helper.py", b'ANSWER = "virginica"\n')]
    if record:
        entries.append(ZipEntry("lambdapack-layer.json", json.dumps({
            "schema": "lambdapack.layer/1", "runtime": f"python{python}", "arch": arch or host_arch(),
            "python_version": python, "site_packages": site, "packages": []}).encode()))
    path = directory / name
    write_zip(path, entries)
    return path


def make_function(directory: Path, source: str = HANDLER, name: str = "function.zip") -> Path:
    path = directory / name
    write_zip(path, [ZipEntry("lambda_function.py", source.encode())])
    return path


class Logs:
    def __init__(self) -> None:
        self.chunks: list[bytes] = []

    def __call__(self, data: bytes) -> None:
        self.chunks.append(data)

    @property
    def text(self) -> str:
        return b"".join(self.chunks).decode()


def pid_alive(pid: int) -> bool:
    """True if ``pid`` exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, ProcessLookupError):
        return False


def _parent_of(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return int(fh.read().rsplit(")", 1)[1].split()[1])
    except (OSError, ValueError, IndexError):
        return None


def runtime_pids(parent: int | None = None) -> set[int]:
    """Live processes running the emulator's bootstrap, children of ``parent`` (default: this process).

    A /proc scan, no psutil; the parent filter keeps runtimes of other tests running at the
    same time out of the count.
    """
    parent = os.getpid() if parent is None else parent
    found = set()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as fh:
                cmdline = fh.read()
        except OSError:
            continue
        if b"emulator/_bootstrap.py" in cmdline and pid_alive(int(entry)) and _parent_of(int(entry)) == parent:
            found.add(int(entry))
    return found
