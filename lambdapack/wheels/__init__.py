"""Wheels for a Lambda target: resolve, fetch, verify, install.

The modules, each one step:

- :mod:`~lambdapack.wheels.pins`: the data (:class:`Inputs`, ``PinnedWheel``, :class:`FetchedWheel`);
- :mod:`~lambdapack.wheels.tools`: the uv and pip command lines;
- :mod:`~lambdapack.wheels.cpu_only`: GPU builds replaced by their CPU-only builds, CUDA/NCCL refused;
- :mod:`~lambdapack.wheels.resolve`: ``resolve_pins`` (one pinned wheel per package), and
  :mod:`~lambdapack.wheels.diagnose` for a resolver's failure;
- :mod:`~lambdapack.wheels.store`: the content-addressed store, ``download_pinned``,
  :func:`default_cache_dir`;
- :mod:`~lambdapack.wheels.fetch`: :func:`fetch_wheels`, resolve then download;
- :mod:`~lambdapack.wheels.check`: can the target load this wheel file;
- :mod:`~lambdapack.wheels.install`: :func:`install_wheels`, unpacking with pypa/installer;
- :mod:`~lambdapack.wheels.requirements`: :func:`install_requirements`, all of it into one directory.

The names below are importable from the package itself, as the rest of lambdapack uses them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from lambdapack.wheels.fetch import fetch_wheels
from lambdapack.wheels.pins import FetchedWheel, Inputs, ProgressFn, split_inputs
from lambdapack.wheels.requirements import InstalledSet, install_requirements
from lambdapack.wheels.resolve import RESOLVERS
from lambdapack.wheels.store import default_cache_dir

if TYPE_CHECKING:
    from lambdapack.wheels.install import InstallResult, install_wheels


def __getattr__(name: str) -> Any:
    # pypa/installer is imported on first use: a rebuild from the layer cache never installs
    if name in ("InstallResult", "install_wheels"):
        from lambdapack.wheels import install

        return getattr(install, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "RESOLVERS",
    "FetchedWheel",
    "Inputs",
    "InstallResult",
    "InstalledSet",
    "ProgressFn",
    "default_cache_dir",
    "fetch_wheels",
    "install_requirements",
    "install_wheels",
    "split_inputs",
]
