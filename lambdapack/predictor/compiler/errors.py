"""What a front end or the proof says when a model is outside what the predictor reproduces exactly."""

from __future__ import annotations


class Unsupported(Exception):
    """The model is outside what the predictor reproduces exactly; the message says why."""


def version(text: str) -> tuple[int, int]:
    """``(major, minor)`` of a library version string."""
    parts = [*(int(p) for p in text.split(".")[:2] if p.isdigit()), 0, 0]
    return parts[0], parts[1]
