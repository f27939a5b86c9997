"""The manylinux policy a Lambda runtime can load: which symbol versions and system libraries exist.

A runtime's glibc alone does not decide what loads: Amazon Linux 2023 ships GCC 11's
libstdc++ (up to ``GLIBCXX_3.4.29``), and a library outside the manylinux whitelist
(``libgomp.so.1``) is not there unless the layer carries it. The facts come from the
maintained source, auditwheel's bundled ``manylinux-policy.json`` (PEP 600 levels: per
level and architecture, every allowed version of each symbol family, the allowed system
libraries, and symbols of those libraries no wheel may use); nothing is copied here.
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass
from importlib import resources
from typing import Any

from lambdapack.errors import LayerError

_POLICY_NAME = re.compile(r"^manylinux_(\d+)_(\d+)$")
# The ELF dynamic loader is part of glibc; auditwheel never counts it as an external library.
_LOADERS = re.compile(r"^(ld-linux[^/]*\.so\.\d+|ld64\.so\.[12])$")


def is_loader(soname: str) -> bool:
    return bool(_LOADERS.match(soname))


_NUMBERED = re.compile(r"^\d+(?:\.\d+)*$")


def _version_key(version: str) -> tuple[int, ...]:
    return tuple(int(p) for p in version.split("."))


@dataclass(frozen=True)
class ManylinuxPolicy:
    """One manylinux level for one machine, as auditwheel defines it."""

    name: str  # manylinux_2_34
    machine: str
    glibc: tuple[int, int]
    symbol_versions: dict[str, frozenset[str]]  # family ("GLIBCXX") -> allowed versions ("3.4.29", ...)
    lib_whitelist: frozenset[str]
    blacklist: dict[str, frozenset[str]]  # whitelisted library -> symbols no wheel may import from it

    def limits(self, family: str) -> bool:
        return family in self.symbol_versions

    def allows(self, version: str) -> bool:
        """Is the full version name (``GLIBCXX_3.4.30``) within this policy? Families it does not limit pass."""
        family, _, number = version.partition("_")
        allowed = self.symbol_versions.get(family)
        return allowed is None or number in allowed

    def newest(self, family: str) -> str | None:
        """The newest numbered version of ``family`` (``GLIBCXX_3.4.29``), None if the policy has none."""
        numbered = [v for v in self.symbol_versions.get(family, ()) if _NUMBERED.match(v)]
        return f"{family}_{max(numbered, key=_version_key)}" if numbered else None


@functools.lru_cache(maxsize=1)
def _policy_documents() -> tuple[dict[str, Any], ...]:
    try:
        text = (resources.files("auditwheel") / "policy" / "manylinux-policy.json").read_text(encoding="utf-8")
    except (ModuleNotFoundError, FileNotFoundError) as exc:
        raise LayerError(f"cannot read auditwheel's manylinux policy: {exc}",
                         hint="install lambdapack's dependencies again (`pip install auditwheel`)") from None
    return tuple(json.loads(text))


@functools.lru_cache(maxsize=32)
def policy_for(glibc: tuple[int, int], machine: str) -> ManylinuxPolicy:
    """The newest manylinux level not above ``glibc`` (``(2, 34)`` -> ``manylinux_2_34``) for ``machine``."""
    levels = []
    for doc in _policy_documents():
        match = _POLICY_NAME.match(str(doc.get("name", "")))
        if match and (int(match[1]), int(match[2])) <= glibc and machine in doc.get("symbol_versions", {}):
            levels.append(((int(match[1]), int(match[2])), doc))
    if not levels:
        raise LayerError(f"auditwheel's policy has no manylinux level for glibc {glibc[0]}.{glibc[1]} on {machine}",
                         hint="check the runtime and architecture")
    level, doc = max(levels, key=lambda item: item[0])
    return ManylinuxPolicy(
        name=doc["name"], machine=machine, glibc=level,
        symbol_versions={family: frozenset(versions) for family, versions in doc["symbol_versions"][machine].items()},
        lib_whitelist=frozenset(doc["lib_whitelist"]),
        blacklist={lib: frozenset(symbols) for lib, symbols in (doc.get("blacklist") or {}).items()},
    )
