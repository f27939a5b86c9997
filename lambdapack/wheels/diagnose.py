"""Turn a resolver's failure output into one error with a useful hint.

The hint names the package, the target, and the newest release with a wheel that loads on
the target when there is one (asked of the index with ``pip index versions`` under the
target's tags, through the user's own pip configuration).
"""

from __future__ import annotations

import re
import subprocess
import sys
from typing import TYPE_CHECKING

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from lambdapack.errors import ResolveError
from lambdapack.targets import Target
from lambdapack.wheels.tools import pip_target_args

if TYPE_CHECKING:
    from lambdapack.wheels.pins import Inputs

_NETWORK = re.compile(
    r"(dns error|error sending request|Failed to establish a new connection|Max retries exceeded|"
    r"Temporary failure in name resolution|Network is unreachable|Connection refused|timed out)", re.I)
_UV_CULPRIT = re.compile(r"Because (?:all versions of |only |there is no version of )?([A-Za-z0-9][A-Za-z0-9._-]*)")
_PIP_CULPRIT = re.compile(r"(?:satisfies the requirement|No matching distribution found for) ([^\s(]+)")
_PIP_VERSIONS = re.compile(r"\(from versions: ([^)]*)\)")
_UV_ERROR = re.compile(r"^(?:error|\s*cause|\s*[×╰─▶]+)\W*(.*)$")


def _describe(target: Target) -> str:
    return (f"{target.label} (Python {target.python_version}, glibc {target.glibc_version}, "
            f"{target.machine})")


def newest_version(package: str, target: Target | None) -> str | None:
    """The newest release of ``package`` on the index, with a wheel for ``target`` if given."""
    cmd = [sys.executable, "-m", "pip", "index", "versions", "--no-input", "--disable-pip-version-check"]
    if target is not None:
        cmd += pip_target_args(target)
    cmd.append(package)
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False,
                             stdin=subprocess.DEVNULL)
    except (OSError, subprocess.SubprocessError):
        return None
    if out.returncode != 0:
        return None
    match = re.search(rf"^{re.escape(package)}\s+\(([^)]+)\)", out.stdout, re.I | re.M)
    return match[1] if match else None


# pip: "THESE PACKAGES DO NOT MATCH THE HASHES FROM THE REQUIREMENTS FILE"; uv: "Hash mismatch for ..."
_HASH_MISMATCH = re.compile(r"DO NOT MATCH THE HASHES|hash mismatch", re.I)


def _culprit(output: str, backend: str) -> str | None:
    pattern = _UV_CULPRIT if backend == "uv" else _PIP_CULPRIT
    match = pattern.search(output)
    if not match:
        return None
    raw = match[1].rstrip(".,")
    try:
        return canonicalize_name(Requirement(raw).name)
    except InvalidRequirement:
        return canonicalize_name(re.split(r"[<>=!~;\[ ]", raw, maxsplit=1)[0])


def _first_reason(output: str) -> str:
    for line in output.splitlines():
        text = line.strip()
        if text.startswith(("error:", "ERROR:", "cause:")) or "Because" in text:
            return re.sub(r"^(error|ERROR|cause):\s*", "", text)
    tail = [line.strip() for line in output.splitlines() if line.strip()]
    return tail[-1] if tail else "no output"


def resolve_failure(output: str, target: Target, backend: str, inputs: Inputs | None = None) -> ResolveError:
    """The ResolveError to raise for a failed resolve (``output`` is the resolver's text)."""
    where = _describe(target)
    if _NETWORK.search(output):
        return ResolveError(f"cannot reach the package index while resolving for {where}",
                            hint="check your network connection, proxy and pip/uv index settings")
    if _HASH_MISMATCH.search(output):
        return ResolveError(f"a wheel for {where} does not match the sha256 its lock file pins: "
                            f"{_first_reason(output)}",
                            hint="the index served different bytes than were locked; do not build from it, "
                                 "and re-lock (lambdapack lock) only once you trust the new files")
    package = _culprit(output, backend)
    if package is None:
        return ResolveError(f"{backend} could not resolve the requirements for {where}: {_first_reason(output)}",
                            hint="check the requirement spellings and versions")
    compatible = newest_version(package, target)
    if compatible is None:
        anywhere = newest_version(package, None)
        if anywhere is None:
            return ResolveError(f"no package named {package!r} on the index (resolving for {where})",
                                hint="check the spelling, or your index configuration (pip.conf / uv.toml)")
        return ResolveError(
            f"no release of {package} has a wheel that loads on {where} (newest release: {anywhere})",
            hint="Lambda layers need prebuilt wheels (source-only or foreign-platform releases cannot be "
                 "used): pick another package, runtime or --arch")
    return ResolveError(
        f"no release of {package} that matches the requirements has a wheel that loads on {where}",
        hint=f"the newest release that does is {package} {compatible}: require {package}=={compatible} "
             f"(or relax your pin), or pick another runtime")
