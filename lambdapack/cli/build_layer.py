"""``lambdapack build-layer``: a slim, verified Lambda layer for a runtime and architecture."""

from __future__ import annotations

from pathlib import Path

import click
from rich.console import Console

from lambdapack.cli.main import json_option
from lambdapack.layer.build import PHASES, LayerOptions, LayerReport, build_layer
from lambdapack.targets import ARCHES, DEFAULT_ARCH, DEFAULT_RUNTIME, DIRECT_UPLOAD_LIMIT, RUNTIMES, UNZIPPED_LIMIT
from lambdapack.ui import console, emit, human_bytes, progress, warn


def timings_line(report: LayerReport) -> str:
    return "timings: " + ", ".join(f"{phase} {report.timings.get(phase, 0.0):.2f} s" for phase in PHASES)


def render(report: LayerReport, out: Console) -> None:
    for message in report.warnings:
        warn(message)
    for note in report.notes:
        out.print(f"[dim]note: {note}[/]")
    for sub in report.substitutions:
        out.print(f"[bold]{sub.requested} → {sub.chosen}[/], its CPU-only build (asked for in {sub.source}): "
                  f"{sub.reason}", soft_wrap=True)
    for lib in report.vendored_libraries:
        out.print(f"{lib.path} ← {lib.source} from {lib.package} (needed by "
                  f"{', '.join(lib.needed_by)}; /opt/{lib.path} on Lambda)", soft_wrap=True, markup=False)
    out.print(f"[bold]{report.path}[/]  {report.runtime or 'python' + report.python_version} {report.arch} "
              f"(glibc {report.glibc}, {report.resolver})")
    width = max(len(p.name) for p in report.packages)
    for pkg in report.packages:
        out.print(f"  {pkg.name:<{width}}  {pkg.version:<10} {human_bytes(pkg.bytes):>9}")
    direct = "[green]fits[/]" if report.fits_direct_upload else "[yellow]over[/] (deploy uploads through S3)"
    unzipped = "[green]fits[/]" if report.fits_unzipped_limit else "[red]over[/]"
    pyc = f"pyc by CPython {report.compiled_with}" if report.compiled_with else "no pyc"
    out.print(f"  zipped {human_bytes(report.zip_bytes)} — direct upload limit {human_bytes(DIRECT_UPLOAD_LIMIT)}: "
              f"{direct}")
    out.print(f"  unzipped {human_bytes(report.unzipped_bytes)} in {report.file_count:,} files — limit "
              f"{human_bytes(UNZIPPED_LIMIT)}: {unzipped}; {pyc}; slimmed {human_bytes(report.slimmed_bytes)}")
    reused = ", reused from the layer cache" if report.cached else ""
    pins = {"resolved": "", "stored": ", the stored resolution (no index request)"}.get(
        report.resolution, f", pinned by {report.resolution}")
    out.print(f"  sha256 {report.sha256}  ({report.seconds:.1f} s{reused}{pins})")
    if report.check is not None:
        from lambdapack.cli.check_layer import render_checks

        render_checks(report.check, out, heading=False)


@click.command("build-layer")
@click.argument("requirements", nargs=-1)
@click.option("-r", "--requirement", "requirement_files", multiple=True,
              type=click.Path(exists=True, dir_okay=False, path_type=Path), help="Requirements file (repeatable).")
@click.option("--runtime", default=DEFAULT_RUNTIME, show_default=True, type=click.Choice(list(RUNTIMES)),
              help="Lambda Python runtime.")
@click.option("--arch", default=DEFAULT_ARCH, show_default=True, type=click.Choice(list(ARCHES)),
              help="Lambda architecture.")
@click.option("--python-version", help="pip-style target Python (38 or 3.8); with --platform, replaces --runtime.")
@click.option("--platform", "platforms", multiple=True, help="Wheel platform tag (repeatable), as in pip download.")
@click.option("--abi", "abis", multiple=True, help="Wheel ABI tag (repeatable), as in pip download.")
@click.option("--resolver", type=click.Choice(["uv", "pip"]), default=None,
              help="Resolver backend [default: uv; pip for --platform tag sets].")
@click.option("--find-links", "find_links", multiple=True, type=click.Path(exists=True, file_okay=False,
              path_type=Path), help="Directory of local wheels to resolve from (repeatable).")
@click.option("--cache-dir", type=click.Path(file_okay=False, path_type=Path),
              help="Persistent download cache [default: user cache dir/lambdapack].")
@click.option("-o", "--out", type=click.Path(dir_okay=False, path_type=Path),
              help="Output zip [default: dist/layer-<runtime>-<arch>.zip].")
@click.option("--slim/--no-slim", default=True, show_default=True,
              help="Drop tests, caches, stubs, sources; strip extension modules.")
@click.option("--keep-dist-info", is_flag=True, help="Keep *.dist-info (importlib.metadata needs it).")
@click.option("--compile/--no-compile", "compile_", default=None,
              help="Precompile unchecked-hash .pyc with the runtime's Python [default: when it is found].")
@click.option("--python", "python", help="Interpreter for --compile and the import check (same minor version).")
@click.option("--check/--no-check", default=True, show_default=True, help="Run check-layer on the result.")
@click.option("--model", type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="Pin scikit-learn/numpy/scipy/joblib to this model directory's model.json.")
@click.option("--require-hashes", is_flag=True,
              help="Build only from a `lambdapack lock` file (-r): every wheel must match its pinned sha256.")
@click.option("--only-binary", "only_binary", hidden=True, type=click.Choice([":all:"]),
              help="Accepted for pip compatibility: wheels only is always the rule.")
@click.option("--implementation", hidden=True, type=click.Choice(["cp"]),
              help="Accepted for pip compatibility: Lambda runs CPython.")
@click.option("--no-binary", "no_binary", hidden=True, type=click.Choice([":none:"]),
              help="Accepted for pip compatibility (the guide's --no-binary=:none:): no package may be built "
                   "from source.")
@click.option("--upgrade", "-U", is_flag=True,
              help="Resolve again instead of installing what these inputs resolved to last time.")
@click.option("--upgrade-package", "-P", "upgrade_packages", multiple=True, metavar="NAME",
              help="Resolve again, upgrading NAME and keeping every other stored version (repeatable).")
@click.option("--project", type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="Build from a project: its uv.lock, pylock.toml, poetry.lock, or pyproject.toml.")
@click.option("--group", "groups", multiple=True, metavar="GROUP",
              help="With --project: include this dependency group (repeatable).")
@click.option("--extra", "extras", multiple=True, metavar="EXTRA",
              help="With --project: include this extra (repeatable).")
@json_option
def build_layer_command(requirements: tuple[str, ...], requirement_files: tuple[Path, ...], runtime: str, arch: str,
                        python_version: str | None, platforms: tuple[str, ...], abis: tuple[str, ...],
                        resolver: str | None, find_links: tuple[Path, ...], cache_dir: Path | None, out: Path | None,
                        slim: bool, keep_dist_info: bool, compile_: bool | None, python: str | None, check: bool,
                        model: Path | None, require_hashes: bool, only_binary: str | None, implementation: str | None,
                        no_binary: str | None, upgrade: bool, upgrade_packages: tuple[str, ...],
                        project: Path | None, groups: tuple[str, ...], extras: tuple[str, ...],
                        as_json: bool) -> None:
    """Build a Lambda layer: REQUIREMENT and WHEEL_PATH arguments [default: scikit-learn joblib].

    \b
    Examples:
      lambdapack build-layer                                     # python3.12 x86_64
      lambdapack build-layer --runtime python3.11 --arch arm64 scikit-learn joblib
      lambdapack build-layer -r requirements.txt --no-compile -o layer.zip
      lambdapack build-layer --model build/model                 # pinned to the model
      lambdapack build-layer --python-version 38 --abi cp38 --platform manylinux1_x86_64 scikit-learn
      lambdapack build-layer --require-hashes -r requirements.lock   # from `lambdapack lock`
      lambdapack build-layer --project .                         # uv.lock / pylock.toml / poetry.lock
      lambdapack build-layer --upgrade-package numpy             # newer numpy, every other pin kept

    A rebuild of unchanged inputs installs what they resolved to last time, from the cache,
    without asking the index (--upgrade resolves again).
    """
    # --only-binary=:all:, --implementation cp and --no-binary=:none: are accepted for the guide's pip
    # command line; they say what lambdapack always does (binary CPython wheels only), so nothing reads them
    options = LayerOptions(requirements=requirements, requirement_files=requirement_files, find_links=find_links,
                           runtime=runtime, arch=arch, python_version=python_version, platforms=platforms,
                           abis=abis, resolver=resolver, cache_dir=cache_dir, out=out, slim=slim,
                           keep_dist_info=keep_dist_info, compile=compile_, python=python, check=check, model=model,
                           require_hashes=require_hashes, upgrade=upgrade, upgrade_packages=upgrade_packages,
                           project=project, groups=groups, extras=extras)
    with progress(downloads=True) as bar:
        task = bar.add_task("resolving", total=None)

        def on_progress(description: str, advance: int, _total: int | None) -> None:
            bar.update(task, description=description, advance=advance)

        def on_step(description: str, _advance: int, _total: int | None) -> None:
            bar.update(task, description=description)
            if not console.is_terminal:
                console.print(f"[dim]• {description}[/]")

        report = build_layer(options, progress=on_progress, on_step=on_step)
    emit(report, as_json, render)
    console.print(f"[dim]{timings_line(report)}[/]")
