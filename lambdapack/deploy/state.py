"""The deploy state file ``.lambdapack/NAME.json``: what lambdapack created, and nothing secret.

It holds names, ARNs, ids and content hashes, written atomically with mode 0600 after every
step, so a deploy that fails halfway leaves an accurate record a rerun (or ``destroy``)
converges from. It never holds credentials, profiles or presigned URLs.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lambdapack.archive import atomic_write_bytes
from lambdapack.errors import DeployError

SCHEMA = "lambdapack.deploy/1"
STATE_DIR = Path(".lambdapack")
# Keys whose values must never reach the state file, whatever a caller records.
_SECRET_KEYS = re.compile(r"(secret|token|password|credential|access_key|signature)", re.IGNORECASE)


def state_path(name: str, root: Path | None = None) -> Path:
    return (root or Path.cwd()) / STATE_DIR / f"{name}.json"


@dataclass
class DeployState:
    """The mutable record the executor updates; ``resources`` maps a resource to its facts."""

    name: str
    region: str
    account: str
    api: str = "http"
    resources: dict[str, dict[str, Any]] = field(default_factory=dict)

    def get(self, path: str) -> Any:
        resource, _, key = path.partition(".")
        return self.resources.get(resource, {}).get(key)

    def update(self, changes: Mapping[str, Mapping[str, Any] | None]) -> None:
        """Merge ``{resource: {key: value}}``; a ``None`` resource is removed."""
        for resource, values in changes.items():
            if values is None:
                self.resources.pop(resource, None)
                continue
            for key in values:
                if _SECRET_KEYS.search(key):
                    raise ValueError(f"refusing to record {resource}.{key} in the state file")
            self.resources.setdefault(resource, {}).update(values)

    def replace(self, resource: str, values: Mapping[str, Any]) -> None:
        """Set ``resource``'s facts to exactly ``values`` (keys not in it are dropped)."""
        self.resources.pop(resource, None)
        self.update({resource: values})

    def to_json(self) -> dict[str, Any]:
        return {"schema": SCHEMA, "name": self.name, "region": self.region, "account": self.account,
                "api": self.api, "resources": self.resources}


def load_state(path: Path) -> DeployState | None:
    """The recorded state, ``None`` if there is none; DeployError if it is unreadable."""
    try:
        raw = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise DeployError(f"cannot read {path}: {exc.strerror}", hint="check the file's permissions") from None
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise DeployError(f"{path} is not valid JSON ({exc.msg})",
                          hint="restore it from version control, or remove it and delete the stack by hand") from None
    if not isinstance(data, dict) or data.get("schema") != SCHEMA:
        raise DeployError(f"{path} has an unknown schema {data.get('schema') if isinstance(data, dict) else None!r}",
                          hint=f"this lambdapack reads {SCHEMA}; upgrade lambdapack") from None
    return DeployState(name=str(data["name"]), region=str(data["region"]), account=str(data["account"]),
                       api=str(data.get("api", "http")), resources=dict(data.get("resources") or {}))


def save_state(path: Path, state: DeployState) -> None:
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    data = json.dumps(state.to_json(), indent=2, sort_keys=True) + "\n"
    try:
        atomic_write_bytes(path, data.encode("utf-8"), mode=0o600)
    except OSError as exc:
        raise DeployError(f"cannot write {path}: {exc.strerror}",
                          hint="free disk space or fix permissions; rerun deploy to resume") from None


def remove_state(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)
