"""PEP 508 markers evaluated for the Lambda target (Amazon Linux, CPython), never for this host."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from packaging.markers import InvalidMarker, Marker, UndefinedComparison, UndefinedEnvironmentName
from packaging.utils import canonicalize_name

from lambdapack.errors import ProjectError
from lambdapack.targets import Target


def marker_environment(target: Target, extras: Sequence[str] = (), groups: Sequence[str] = ()) -> dict[str, Any]:
    """The PEP 508 marker values of the Lambda target (Amazon Linux, CPython), not of this host."""
    version = target.python_version
    return {
        "implementation_name": "cpython", "implementation_version": f"{version}.0",
        "os_name": "posix", "platform_machine": target.machine, "platform_python_implementation": "CPython",
        "platform_release": "", "platform_system": "Linux", "platform_version": "",
        "python_full_version": f"{version}.0", "python_version": version, "sys_platform": "linux",
        "extra": "", "extras": frozenset(canonicalize_name(e) for e in extras),
        "dependency_groups": frozenset(canonicalize_name(g) for g in groups),
    }


def applies(marker: str | None, environment: Mapping[str, Any], source: Path, extra: str = "") -> bool:
    """Whether ``marker`` (read from ``source``) holds in ``environment``; no marker always holds."""
    if not marker:
        return True
    try:
        parsed = Marker(marker)
    except InvalidMarker as exc:
        raise ProjectError(f"{source.name}: invalid marker {marker!r} ({exc})",
                           hint="regenerate the lock file with its tool") from None
    env = dict(environment, extra=extra)
    try:
        return parsed.evaluate(env, "lock_file")  # type: ignore[arg-type]
    except TypeError:  # packaging < 25 has no lock-file context ('x' in extras)
        return parsed.evaluate({k: v for k, v in env.items() if isinstance(v, str)})
    except (UndefinedComparison, UndefinedEnvironmentName) as exc:
        raise ProjectError(f"{source.name}: cannot evaluate marker {marker!r} for Lambda ({exc})",
                           hint="simplify the marker, or regenerate the lock file") from None
