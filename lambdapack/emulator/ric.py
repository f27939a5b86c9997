"""The runtime directory (Lambda's ``/var/runtime``): awslambdaric for one Python and arch.

awslambdaric carries a C extension (``runtime_client``), so the host's copy only fits the
host's Python. The emulator fetches the manylinux wheel for the layer's Python minor
version and architecture with the same machinery that builds layers, compiles it with the
interpreter that will run it, and caches it per (awslambdaric version, python, arch) in the
user cache directory. Concurrent emulators share the cache through a file lock; an
interrupted fetch leaves nothing behind (install into a temporary directory, then rename).
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import filelock

from lambdapack.archive import atomic_dir
from lambdapack.errors import EmulatorError, LambdapackError
from lambdapack.targets import Target, host_arch

# Pinned so that a cached runtime directory is exactly what its name says.
AWSLAMBDARIC_VERSION = "4.2.2"
REQUIREMENT = f"awslambdaric=={AWSLAMBDARIC_VERSION}"


def cache_root() -> Path:
    """The user cache shared with the layer builder (``$LAMBDAPACK_CACHE_DIR`` overrides it)."""
    from lambdapack.wheels import default_cache_dir

    return default_cache_dir()


def runtime_dir_for(target: Target, python: Path) -> Path:
    """A directory holding awslambdaric (and its dependencies) for ``target``'s Python and arch."""
    root = cache_root() / "runtime"
    name = f"awslambdaric-{AWSLAMBDARIC_VERSION}-{target.abi}-{target.arch}"
    final = root / name
    if _complete(final):
        return final
    root.mkdir(parents=True, exist_ok=True)
    with filelock.FileLock(str(root / f".{name}.lock")):
        if _complete(final):
            return final
        with atomic_dir(final, ".complete") as tmp:
            _install(target, tmp)
            _compile(python, tmp)
            (tmp / ".complete").write_text(REQUIREMENT + "\n")
    return final


def _complete(path: Path) -> bool:
    return (path / ".complete").is_file()


# the distributions that make up the runtime directory
_DISTRIBUTIONS = ("awslambdaric", "simplejson", "snapshot-restore-py")


def _copy_from_host(target: Target, dest: Path) -> bool:
    """Reuse lambdapack's own awslambdaric when it was built for exactly this Python and arch.

    Saves a download (and works offline) in the common case of a host Python that matches
    the layer's; the files are the ones the same wheel would install.
    """
    import importlib.metadata
    import sys

    if sys.version_info[:2] != target.python or host_arch() != target.arch:
        return False
    try:
        if importlib.metadata.version("awslambdaric") != AWSLAMBDARIC_VERSION:
            return False
        distributions = [importlib.metadata.distribution(name) for name in _DISTRIBUTIONS]
    except importlib.metadata.PackageNotFoundError:
        return False
    for distribution in distributions:
        for file in distribution.files or ():
            relative = Path(str(file))
            if relative.is_absolute() or ".." in relative.parts or "__pycache__" in relative.parts:
                continue
            source = Path(str(distribution.locate_file(file)))
            if not source.is_file():
                continue
            target_path = dest / relative
            target_path.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target_path)
    return True


def _install(target: Target, dest: Path) -> None:
    if _copy_from_host(target, dest):
        return
    from lambdapack.wheels import install_requirements

    try:
        install_requirements([REQUIREMENT], target, dest)
    except LambdapackError as exc:
        raise EmulatorError(
            f"cannot fetch {REQUIREMENT} for {target.label}: {exc.message}",
            hint="the emulator needs it once per Python version and arch; check your network or pip "
                 "configuration, then retry") from None


def _compile(python: Path, directory: Path) -> None:
    """Byte-compile with the interpreter that will run it, like Lambda's runtime image ships it."""
    try:
        subprocess.run([str(python), "-I", "-m", "compileall", "-q", str(directory)],
                       check=True, capture_output=True, timeout=300)
    except (OSError, subprocess.SubprocessError) as exc:
        raise EmulatorError(f"cannot byte-compile the runtime with {python}: {exc}",
                            hint="check that the interpreter runs (`{python} -V`)") from None
    if not any(directory.glob("runtime_client.*.so")):
        raise EmulatorError(f"{REQUIREMENT} installed without its C extension",
                            hint=f"delete {directory.parent} and retry")
