"""build-layer's figures in docs/build-layer.md (Figures), all from one run:

- size: lambdapack's layer (``--no-compile`` and default) against the guide's way (the same
  wheels unzipped into ``python/lib/python3.X/site-packages``, ``*.dist-info`` deleted,
  zipped) for py3.12 x86_64, and (not ``--quick``) py3.11 x86_64 and py3.12 arm64;
- cold ``import sklearn.ensemble`` from the layer with the precompiled unchecked-hash pycs
  against the same layer without them: median of fresh isolated processes (``-I -S -B``:
  Lambda's ``/opt`` is read-only, so a layer without pycs compiles on every cold start);
- warm rebuild time (every cache warm): lambdapack (its layer cache hit, and with the layer
  cache cleared so it rebuilds from cached wheels) against the guide's way (``pip download``
  with the full tag list + unzip + zip) and ``pip install --platform ... --target`` + zip.

    python bench/bench_layer.py [--quick]
    python bench/bench_layer.py --phases-from docs/bench/full-run.json   # the phase list build-layer.md quotes

Ratios only compare figures from the same run; the machine is shared, absolute times vary.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path

import peers

from lambdapack.archive import deflate_raw, safe_extract
from lambdapack.interpreters import find_python
from lambdapack.layer.build import LayerOptions, build_layer
from lambdapack.targets import Target
from lambdapack.wheels import Inputs, fetch_wheels
from lambdapack.wheels.tools import pip_target_args

REQUIREMENTS = ("scikit-learn", "joblib")
QUICK_TARGETS = (("python3.12", "x86_64"),)
FULL_TARGETS = (("python3.12", "x86_64"), ("python3.11", "x86_64"), ("python3.12", "arm64"))
TARGETS = {"zip_no_compile_vs_guide": 0.85, "import_with_pyc_vs_without": 0.45, "warm_rebuild_vs_pip_target": 0.3}


def log(message: str) -> None:
    print(f"[bench_layer] {message}", file=sys.stderr, flush=True)


def cache_dir() -> Path:
    path = Path(os.environ.get("LAMBDAPACK_BENCH_CACHE") or Path(tempfile.gettempdir()) / "lambdapack-bench-layer")
    path.mkdir(parents=True, exist_ok=True)
    return path


def timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return round(time.perf_counter() - start, 2)


def unzipped_size(path: Path) -> int:
    with zipfile.ZipFile(path) as zf:
        return sum(i.file_size for i in zf.infolist())


def zip_tree(root: Path, out: Path) -> None:
    peers.zip_tree(root / "python", out, prefix="python")


def zip_figures(layer: Path, cache: Path, target: Target) -> dict:
    """How the default layer's bytes were deflated: reused from the wheels, or compressed anew, and
    what zlib and libdeflate (level 6, one thread) make of the compressed-anew part."""
    with zipfile.ZipFile(layer) as zf:
        record = json.loads(zf.read("lambdapack-layer.json"))
    shipped: dict[str, tuple[int, int, int]] = {}
    for package in record["packages"]:  # the layer's own wheels (the cache holds other targets' too)
        wheel = next((cache / "wheels").rglob(f"{package['sha256']}/{package['wheel']}"))
        with zipfile.ZipFile(wheel) as zf:
            shipped.update({i.filename: (i.CRC, i.file_size, i.compress_size) for i in zf.infolist()})
    site = target.site_packages + "/"
    reused = anew = 0
    fresh: list[bytes] = []
    with zipfile.ZipFile(layer) as zf:
        for info in zf.infolist():
            if shipped.get(info.filename[len(site):]) == (info.CRC, info.file_size, info.compress_size):
                reused += info.file_size
            else:
                anew += info.file_size
                fresh.append(zf.read(info))
    out: dict = {"reused_bytes": reused, "deflated_bytes": anew, "reused_fraction": round(reused / (reused + anew), 3)}
    for name, compress in (("zlib", lambda b: zlib.compress(b, 6)), ("libdeflate", lambda b: deflate_raw(b, 6))):
        start = time.perf_counter()
        size = sum(len(compress(b)) for b in fresh)
        out[name] = {"seconds": round(time.perf_counter() - start, 2), "bytes": size}
    out["libdeflate_vs_zlib_time"] = round(out["libdeflate"]["seconds"] / out["zlib"]["seconds"], 3)
    out["libdeflate_vs_zlib_size"] = round(out["libdeflate"]["bytes"] / out["zlib"]["bytes"], 4)
    return out


def guide_way(target: Target, work: Path, cache: Path) -> Path:
    """The guide's recipe with the tags that get a current stack: download, unzip all, drop dist-info, zip."""
    downloads = work / "guide-wheels"
    shutil.rmtree(downloads, ignore_errors=True)
    subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--progress-bar", "off", "-d", str(downloads),
                    "--cache-dir", str(cache / "pip"), *pip_target_args(target), *REQUIREMENTS],
                   check=True, stdin=subprocess.DEVNULL)
    tree = work / "guide-tree"
    shutil.rmtree(tree, ignore_errors=True)
    site = tree / target.site_packages
    site.mkdir(parents=True)
    for wheel in sorted(downloads.glob("*.whl")):
        with zipfile.ZipFile(wheel) as zf:
            zf.extractall(site)
    for dist_info in site.glob("*.dist-info"):
        shutil.rmtree(dist_info)
    out = work / "guide.zip"
    zip_tree(tree, out)
    return out


def pip_target_way(target: Target, work: Path, cache: Path) -> Path:
    """AWS's documented path: ``pip install --platform ... --target`` then zip."""
    tree = work / "pip-tree"
    shutil.rmtree(tree, ignore_errors=True)
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--progress-bar", "off", "--target",
                    str(tree / target.site_packages), "--cache-dir", str(cache / "pip"), *pip_target_args(target),
                    *REQUIREMENTS], check=True, stdin=subprocess.DEVNULL)
    out = work / "pip-target.zip"
    zip_tree(tree, out)
    return out


def ours(target: Target, work: Path, cache: Path, *, compile_: bool, name: str, check: bool = False,
         phases: dict | None = None) -> Path:
    out = work / name
    report = build_layer(LayerOptions(requirements=REQUIREMENTS, runtime=target.runtime or "python3.12",
                                      arch=target.arch, compile=compile_, check=check, cache_dir=cache, out=out))
    if phases is not None:
        phases.update(report.timings)
    return out


def cold_import(layer: Path, target: Target, runs: int) -> float | None:
    """Median seconds of ``import sklearn.ensemble`` in fresh isolated processes, or None without the Python."""
    python = find_python(target.python)
    if python is None:
        return None
    with tempfile.TemporaryDirectory(prefix="bench-import-") as tmp:
        root = Path(tmp)
        safe_extract(layer, root)
        paths = json.dumps([str(root / target.site_packages), str(root / "python")])
        script = ("import json, sys, time; sys.path[:0] = json.loads(sys.argv[1]); t = time.perf_counter(); "
                  "import sklearn.ensemble; print(time.perf_counter() - t)")
        times = []
        for _ in range(runs):
            done = subprocess.run([str(python), "-I", "-S", "-B", "-c", script, paths], capture_output=True,
                                  text=True, check=True, cwd=tmp)
            times.append(float(done.stdout.strip().splitlines()[-1]))
    return round(statistics.median(times), 3)


def sizes_for(runtime: str, arch: str, work: Path, cache: Path) -> dict:
    target = Target.for_runtime(runtime, arch)
    log(f"sizes {target.label}")
    no_pyc = ours(target, work, cache, compile_=False, name=f"{target.label}-no-compile.zip")
    with_pyc = ours(target, work, cache, compile_=True, name=f"{target.label}.zip")
    guide = guide_way(target, work, cache)
    result = {
        "guide_zip": guide.stat().st_size, "guide_unzipped": unzipped_size(guide),
        "no_compile_zip": no_pyc.stat().st_size, "no_compile_unzipped": unzipped_size(no_pyc),
        "default_zip": with_pyc.stat().st_size, "default_unzipped": unzipped_size(with_pyc),
    }
    result["zip_no_compile_vs_guide"] = round(result["no_compile_zip"] / result["guide_zip"], 3)
    result["unzipped_no_compile_vs_guide"] = round(result["no_compile_unzipped"] / result["guide_unzipped"], 3)
    result["versions"] = {w.name: w.version for w in fetch_wheels(Inputs(REQUIREMENTS), target, cache_dir=cache)
                          if w.name in ("scikit-learn", "numpy", "scipy")}
    return result


def run(quick: bool) -> dict:
    cache = cache_dir()
    results: dict = {"targets": {}, "goals": TARGETS}
    with tempfile.TemporaryDirectory(prefix="bench-layer-") as tmp:
        work = Path(tmp)
        for runtime, arch in QUICK_TARGETS if quick else FULL_TARGETS:
            results["targets"][f"{runtime}-{arch}"] = sizes_for(runtime, arch, work, cache)

        target = Target.for_runtime("python3.12", "x86_64")
        log("how the default layer's bytes were deflated")
        results["zip"] = zip_figures(work / f"{target.label}.zip", cache, target)
        runs = 3 if quick else 7
        log(f"cold import sklearn.ensemble, median of {runs}")
        with_pyc = cold_import(work / f"{target.label}.zip", target, runs)
        without = cold_import(work / f"{target.label}-no-compile.zip", target, runs)
        results["import"] = {"runs": runs, "with_pyc_s": with_pyc, "without_pyc_s": without,
                             "import_with_pyc_vs_without": round(with_pyc / without, 3) if with_pyc and without
                             else None}

        log("warm rebuilds (every cache warm: the size step above filled them)")
        rebuild = {
            "lambdapack_s": timed(lambda: ours(target, work, cache, compile_=True, name="again.zip")),
            "guide_way_s": timed(lambda: guide_way(target, work, cache)),
            "pip_target_s": timed(lambda: pip_target_way(target, work, cache)),
        }
        rebuild["warm_rebuild_vs_pip_target"] = round(rebuild["lambdapack_s"] / rebuild["pip_target_s"], 3)
        rebuild["warm_rebuild_vs_guide_way"] = round(rebuild["lambdapack_s"] / rebuild["guide_way_s"], 3)
        if not quick:
            # the default build (pycs and check) with the layer cache emptied: unpack, slim, compile, zip
            # and check from cached wheels and the stored resolution
            shutil.rmtree(cache / "layers", ignore_errors=True)
            phases: dict = {}
            rebuild["lambdapack_no_layer_cache_s"] = timed(
                lambda: ours(target, work, cache, compile_=True, name="again.zip", check=True, phases=phases))
            rebuild["lambdapack_no_layer_cache_phases"] = phases
            rebuild["no_layer_cache_vs_pip_target"] = round(
                rebuild["lambdapack_no_layer_cache_s"] / rebuild["pip_target_s"], 3)
        results["warm_rebuild"] = rebuild
    return results


PHASES = ("install", "slim", "strip", "compile", "zip", "check")
COLD_PEERS = (("chalice", "Chalice"), ("guide-tags", "the guide's way"), ("sam", "SAM"))


def phases_paragraph(full_run: dict, target: str = "python3.12-x86_64") -> str:
    """Where a recorded full run's default build spent its time, with the cache of finished layers
    emptied (this area), and its cold builds against the peers' (the peer rows)."""
    rebuild = full_run["areas"]["layer"]["warm_rebuild"]
    phases = rebuild["lambdapack_no_layer_cache_phases"]
    rows = {row["tool"]: row for row in full_run["rows"] if row["target"] == target}
    cold = rows["lambdapack"]
    others = ", ".join(f"{rows[tool]['build_cold_s']:.1f} s for {name}" for tool, name in COLD_PEERS)
    others = " and ".join(others.rsplit(", ", 1))
    listed = ", ".join(f"{name} {phases[name]:.2f} s" for name in PHASES)
    return (f"That last build's phases (its `timings`): {listed} (what was left of the check after the zip), "
            f"resolve {phases['resolve']:.2f} s, download {phases['download']:.2f} s. With an empty cache the "
            f"peer run's cold builds add {cold['build_cold_phases']['resolve']:.1f} s of uv resolving and "
            f"{cold['build_cold_phases']['download']:.1f} s of download: {cold['build_cold_s']:.1f} s in all for "
            f"{target.replace('-', ' ')}, against {others} ([benchmarks](benchmarks.md#results)).")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="py3.12 x86_64 only, fewer import runs")
    parser.add_argument("--phases-from", type=Path, metavar="FULL_RUN_JSON",
                        help="print the phase list of a recorded bench/run.py result; nothing is run")
    args = parser.parse_args()
    if args.phases_from:
        print(phases_paragraph(json.loads(args.phases_from.read_text(encoding="utf-8"))))
    else:
        print(json.dumps(run(args.quick), indent=2))
