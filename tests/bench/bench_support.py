"""Loading bench/*.py scripts as modules in the tests (bench/ is not a package)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

BENCH = Path(__file__).resolve().parents[2] / "bench"
# the bench scripts put their directory on sys.path when they run; their sibling modules import each other
if str(BENCH) not in sys.path:
    sys.path.insert(0, str(BENCH))


def load_bench(name: str) -> ModuleType:
    """``bench/<name>.py`` imported under a name of its own, as the tests see it."""
    spec = importlib.util.spec_from_file_location(f"bench_{name}_under_test", BENCH / f"{name}.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module
