"""What build-layer is asked (:class:`LayerOptions`) and what it reports (:class:`LayerReport`).

The build itself is :func:`lambdapack.layer.build.build_layer`, which also exports these names.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from lambdapack.layer.vendor import VendoredLibrary
from lambdapack.wheels.cpu_only import Substitution

if TYPE_CHECKING:
    from lambdapack.layer.check import CheckReport

DEFAULT_REQUIREMENTS = ("scikit-learn", "joblib")
# the build's phases, in order: LayerReport.timings has one entry each (0.0 when skipped)
PHASES = ("resolve", "download", "install", "slim", "strip", "compile", "zip", "check")


@dataclass(frozen=True)
class LayerOptions:
    requirements: tuple[str, ...] = ()  # requirement strings and/or local wheel paths
    requirement_files: tuple[Path, ...] = ()
    find_links: tuple[Path, ...] = ()
    runtime: str = "python3.12"
    arch: str = "x86_64"
    # the guide's explicit form; when platforms is set these replace runtime/arch
    python_version: str | None = None
    platforms: tuple[str, ...] = ()
    abis: tuple[str, ...] = ()
    resolver: str | None = None  # None: uv, or pip for a hand-written tag set
    cache_dir: Path | None = None
    out: Path | None = None
    slim: bool = True
    keep_dist_info: bool = False
    compile: bool | None = None  # None: compile when the runtime's Python is found
    python: str | None = None
    check: bool = True
    model: Path | None = None  # pin scikit-learn/numpy/scipy/joblib to this model's manifest
    require_hashes: bool = False  # -r must be a `lambdapack lock` file; every wheel must match its hash
    upgrade: bool = False  # resolve again instead of reusing the stored resolution of these inputs
    upgrade_packages: tuple[str, ...] = ()  # resolve again, keeping every other package's stored version
    project: Path | None = None  # a project directory (uv.lock, pylock.toml, poetry.lock or pyproject.toml)
    groups: tuple[str, ...] = ()  # --project: dependency groups to include
    extras: tuple[str, ...] = ()  # --project: extras to include


@dataclass(frozen=True)
class LayerPackage:
    name: str
    version: str
    wheel: str
    sha256: str
    bytes: int  # installed size in the layer (after slimming)


@dataclass(frozen=True)
class LayerReport:
    path: Path
    sha256: str
    runtime: str | None
    arch: str
    python_version: str
    abi: str
    glibc: str
    platforms: tuple[str, ...]
    resolver: str
    packages: tuple[LayerPackage, ...]
    zip_bytes: int
    unzipped_bytes: int
    file_count: int
    fits_direct_upload: bool
    fits_unzipped_limit: bool
    compiled_with: str | None
    slimmed_bytes: int
    stripped_files: int
    dropped_files: tuple[str, ...]
    warnings: tuple[str, ...]
    notes: tuple[str, ...]
    seconds: float
    check: CheckReport | None = field(default=None)
    cached: bool = False  # the zip came from the layer cache (same inputs as an earlier build)
    # where the pins came from: "resolved" (the resolver ran), "stored" (this cache's resolution
    # of the same inputs, no index request), or the project lock file's name ("uv.lock", …)
    resolution: str = "resolved"
    lambda_runtimes: tuple[str, ...] = ()  # the Lambda runtimes that can load this layer
    timings: dict[str, float] = field(default_factory=dict)  # seconds per phase (PHASES)
    # requirements resolved as their CPU-only build (xgboost -> xgboost-cpu): Lambda has no GPU
    substitutions: tuple[Substitution, ...] = ()
    # libraries the layer's binaries need that only another wheel ships, copied into lib/ (/opt/lib)
    vendored_libraries: tuple[VendoredLibrary, ...] = ()


class PhaseClock:
    """Seconds spent per build phase (:data:`PHASES`): ``with clock("zip"): ...`` adds to that phase."""

    def __init__(self) -> None:
        self.seconds = dict.fromkeys(PHASES, 0.0)

    @contextlib.contextmanager
    def __call__(self, phase: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[phase] += time.perf_counter() - start

    def rounded(self) -> dict[str, float]:
        return {k: round(v, 3) for k, v in self.seconds.items()}

