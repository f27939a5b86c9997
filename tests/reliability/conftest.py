"""Fixtures for the reliability suite: the generated hostile archives (checks live in escape_checks.py)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import hostile  # the generator lives beside the tests, not in the package


@pytest.fixture(scope="session")
def hostile_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every hostile archive of the suite, generated once per session."""
    directory = tmp_path_factory.mktemp("hostile")
    hostile.build_suite(directory)
    return directory
