"""Resolve and fetch in one call: the verified wheel files of a set of inputs for one target.

:func:`fetch_wheels` is :func:`lambdapack.wheels.resolve.resolve_pins` followed by
:func:`lambdapack.wheels.store.download_pinned`. The layer builder calls the two halves itself,
so that a stored resolution can be installed again without resolving.
"""

from __future__ import annotations

from pathlib import Path

from lambdapack.targets import Target
from lambdapack.wheels.pins import FetchedWheel, Inputs, ProgressFn
from lambdapack.wheels.resolve import resolve_pins
from lambdapack.wheels.store import download_pinned


def fetch_wheels(inputs: Inputs, target: Target, *, resolver: str = "uv", cache_dir: Path,
                 progress: ProgressFn | None = None) -> list[FetchedWheel]:
    """Resolve ``inputs`` for ``target`` with ``resolver`` and return verified wheel files."""
    pins = resolve_pins(inputs, target, resolver=resolver, cache_dir=cache_dir, progress=progress)
    return download_pinned(pins, target, cache_dir, progress)
