"""``lambdapack lock``: a hash-pinned requirements file of the exact wheels for one Lambda target."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click
from rich.console import Console

from lambdapack.cli.main import json_option
from lambdapack.targets import DEFAULT_ARCH, DEFAULT_RUNTIME, RUNTIMES

if TYPE_CHECKING:
    from lambdapack.lock import LockResult


def _render(result: LockResult, console: Console) -> None:
    target = f"{result.runtime} {result.arch}" if result.runtime else f"Python {result.python_version}"
    console.print(f"[bold green]locked[/] {len(result.packages)} wheels for {target} (glibc {result.glibc}) "
                  f"→ {result.path}")
    for sub in result.substitutions:
        console.print(f"{sub.requested} → {sub.chosen}, its CPU-only build (asked for in {sub.source}): "
                      f"{sub.reason}", soft_wrap=True)
    for pkg in result.packages:
        console.print(f"  {pkg.name}=={pkg.version}  sha256 {pkg.sha256[:16]}…  {pkg.wheel}")
    console.print(f"rebuild with: lambdapack build-layer --require-hashes -r {result.path}"
                  + (f" --runtime {result.runtime} --arch {result.arch}" if result.runtime else ""))


@click.command("lock")
@click.argument("requirements", nargs=-1)
@click.option("-r", "--requirement", "requirement_files", multiple=True, type=click.Path(path_type=Path),
              help="Read requirements from a file (repeatable).")
@click.option("--runtime", type=click.Choice(list(RUNTIMES)), default=DEFAULT_RUNTIME, show_default=True,
              help="Lambda runtime.")
@click.option("--arch", type=click.Choice(["x86_64", "arm64"]), default=DEFAULT_ARCH, show_default=True,
              help="Lambda architecture.")
@click.option("--out", "-o", type=click.Path(path_type=Path), default=Path("requirements.lock"), show_default=True,
              help="Where to write the hash-pinned requirements file.")
@click.option("--resolver", type=click.Choice(["uv", "pip"]), default="uv", show_default=True,
              help="Which resolver picks the wheels (the same choice build-layer makes).")
@click.option("--find-links", multiple=True, type=click.Path(path_type=Path),
              help="Also look for wheels in this directory (repeatable).")
@json_option
def lock(requirements: tuple[str, ...], requirement_files: tuple[Path, ...], runtime: str, arch: str, out: Path,
         resolver: str, find_links: tuple[Path, ...], as_json: bool) -> None:
    """Pin the exact wheels chosen for a runtime/arch, with their sha256, in a requirements file.

    The file is pip-compatible (name==version --hash=sha256:...). Rebuilding from it with
    build-layer --require-hashes gets byte-identical wheels or fails.

    \b
    Examples:
      lambdapack lock scikit-learn joblib --runtime python3.12 --arch x86_64
      lambdapack lock -r requirements.txt --arch arm64 --out requirements-arm64.lock
      lambdapack build-layer --require-hashes -r requirements.lock --runtime python3.12 --arch x86_64
    """
    from lambdapack.lock import lock_requirements
    from lambdapack.targets import Target
    from lambdapack.ui import emit, progress
    from lambdapack.wheels import Inputs, split_inputs

    reqs, paths = split_inputs(list(requirements))
    inputs = Inputs(tuple(reqs), tuple(requirement_files), tuple(paths), tuple(find_links))
    command = shlex.join(["lambdapack", *sys.argv[1:]]) if len(sys.argv) > 1 and sys.argv[1] == "lock" else ""
    with progress() as bar:
        task = bar.add_task("resolving", total=None)

        def report(description: str, advance: int, total: int | None) -> None:
            bar.update(task, description=description, advance=advance)

        result = lock_requirements(inputs, Target.for_runtime(runtime, arch), out, resolver=resolver,
                                   progress=report, command=command)
    emit(result, as_json, _render)
