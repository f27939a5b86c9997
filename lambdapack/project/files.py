"""Reading a project's files: TOML with one clear error, and the fingerprint of what was read.

The fingerprint keys build-layer's stored resolution of a project (``Project.fingerprint``): a
changed lock, pyproject or selection of groups and extras is resolved anew.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path
from typing import Any

from lambdapack.errors import ProjectError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib


def fingerprint(data: bytes, *more: object) -> str:
    """sha256 of the bytes read and of everything else that decides the pins (``more``)."""
    return hashlib.sha256(data + json.dumps(more, sort_keys=True, default=str).encode()).hexdigest()


def load_toml(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ProjectError(f"cannot read {path}: {exc.strerror or exc}", hint="check the path") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ProjectError(f"{path} is not valid TOML ({exc})", hint="fix the file, or regenerate it") from None
