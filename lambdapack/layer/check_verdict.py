"""One check-layer check's verdict: :class:`Check`, with its status (pass, warn, fail or skip),
the offenders it names and, when it failed, the hint (:mod:`lambdapack.layer.check_hints`).

Every check module returns these; :mod:`lambdapack.layer.check` gathers them into a report.
"""

from __future__ import annotations

from dataclasses import dataclass

PASS, WARN, FAIL, SKIP = "pass", "warn", "fail", "skip"
MAX_OFFENDERS = 50  # a check names at most this many offenders


@dataclass(frozen=True)
class Check:
    name: str
    status: str
    detail: str
    offenders: tuple[str, ...] = ()
    hint: str = ""  # what to do about this check's failure (check_hints); empty unless it failed


def counted(n: int, singular: str, plural: str | None = None) -> str:
    """``1 library``, ``3 libraries``."""
    return f"{n} {singular if n == 1 else plural or singular + 's'}"
