"""What a built layer zip is worth on Lambda, measured the same way for every tool.

Each measurement runs on the unpacked zip only: sizes, the library versions it holds,
the highest ``GLIBC_x.y`` symbol version its ELF files need (against the runtime's glibc),
whether every top-level package imports under an isolated interpreter of the runtime's
minor version with nothing but the layer on ``sys.path``, and the cold-start cost
(``import sklearn.ensemble`` + ``joblib.load`` of a model trained inside that layer) as the
median of fresh processes.
"""

from __future__ import annotations

import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from lambdapack.archive import safe_extract
from lambdapack.layer.check import top_level_modules
from lambdapack.layer.record import read_record_lenient
from lambdapack.model.version_rule import layer_versions
from lambdapack.targets import Target

_DIST_INFO = re.compile(r"^(?P<name>[A-Za-z0-9_.]+?)-(?P<version>[^-]+)\.dist-info$")
_WHEEL = re.compile(r"^(?P<name>[A-Za-z0-9_.]+?)-(?P<version>[^-]+)-.*\.whl$")
# The three libraries whose versions decide whether a pickled model loads.
KEY_PACKAGES = ("scikit-learn", "numpy", "scipy")

# What `scikit-learn joblib` must bring: the packages themselves and the two they can't run without.
REQUIRED_MODULES = ("sklearn", "joblib", "numpy", "scipy")
# -I ignores PYTHON* variables and the user site, -S drops the interpreter's own
# site-packages, -B keeps every run cold: Lambda's /opt is read-only, so a layer without
# .pyc files pays the compile on every cold start and must do so here too.
_ISOLATED = ("-I", "-S", "-B")

_IMPORT_ALL = r"""
import importlib, json, sys
sys.path[:0] = json.loads(sys.argv[1])
failures, versions = {}, {}
for name in json.loads(sys.argv[2]):
    try:
        module = importlib.import_module(name)
    except BaseException as exc:
        failures[name] = f"{type(exc).__name__}: {exc}".splitlines()[0][:300]
    else:
        # some packages (narwhals) compute __version__ from dist-info on first access
        try:
            versions[name] = str(getattr(module, "__version__", ""))
        except Exception:
            versions[name] = ""
# the model for the cold-start runs is trained here, inside the layer, by its own scikit-learn
train_error = None
if sys.argv[3] and not failures.keys() & {"sklearn", "joblib"}:
    try:
        import joblib
        from sklearn.datasets import load_iris
        from sklearn.ensemble import RandomForestClassifier
        X, y = load_iris(return_X_y=True)
        joblib.dump(RandomForestClassifier(n_estimators=100, random_state=0).fit(X, y), sys.argv[3])
    except BaseException as exc:
        train_error = f"{type(exc).__name__}: {exc}".splitlines()[0][:300]
print(json.dumps({"failures": failures, "versions": versions, "train_error": train_error}))
"""

_COLD_START = r"""
import json, sys, time
sys.path[:0] = json.loads(sys.argv[1])
start = time.perf_counter()
import sklearn.ensemble, joblib
imported = time.perf_counter()
model = joblib.load(sys.argv[2])
loaded = time.perf_counter()
assert model.predict([[6.9, 3.1, 5.1, 2.3]])[0] == 2
print(json.dumps({"import": imported - start, "load": loaded - imported}))
"""


@dataclass(frozen=True)
class LayerMetrics:
    zip_bytes: int
    unzipped_bytes: int
    file_count: int
    versions: dict[str, str]
    max_glibc: str | None
    runtime_glibc: str
    glibc_ok: bool
    foreign_elf: int
    imports: str  # "ok", "failed", or "skipped: <why>"
    import_failures: dict[str, str] = field(default_factory=dict)
    cold_start_s: float | None = None
    import_s: float | None = None
    load_s: float | None = None
    cold_start_runs: int = 0
    note: str = ""


def site_dirs(root: Path, target: Target) -> list[Path]:
    """The layer directories Lambda puts on sys.path for this runtime, as they exist in ``root``."""
    candidates = [root / target.site_packages, root / "python"]
    return [d for d in candidates if d.is_dir()]


def versions_in(root: Path, wheel_names: Sequence[str] = ()) -> dict[str, str]:
    """Package versions from dist-info directories, lambdapack's build record, or the wheel names."""
    found: dict[str, str] = {}
    for path in root.rglob("*.dist-info"):
        match = _DIST_INFO.match(path.name)
        if match:
            found[_normalise(match["name"])] = match["version"]
    record = read_record_lenient(root)
    if record:
        for name, version in layer_versions(record).items():
            found.setdefault(_normalise(name), version)
    for wheel in wheel_names:
        match = _WHEEL.match(Path(wheel).name)
        if match:
            found.setdefault(_normalise(match["name"]), match["version"])
    return found


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def glibc_tuple(version: str) -> tuple[int, ...]:
    """``"2.28"`` as ``(2, 28)``: glibc versions compare as numbers, not as text."""
    return tuple(int(p) for p in version.split("."))


def scan_elf(root: Path, machine: str) -> tuple[str | None, int]:
    """(highest GLIBC_x.y needed by any ELF file under root, count of ELF files for another machine).

    Uses check-layer's own ELF reader, so the bench and the product judge a file the same way.
    """
    from lambdapack.layer.elf import iter_elf_files, read_elf

    highest: tuple[int, int] | None = None
    foreign = 0
    for path in iter_elf_files(root):
        info = read_elf(path)
        if info is None or info.machine != machine:
            foreign += 1
            continue
        if info.glibc and (highest is None or info.glibc > highest):
            highest = info.glibc
    return (f"{highest[0]}.{highest[1]}" if highest else None), foreign


def _run_json(python: Path, script: str, *args: str, timeout: float = 300) -> dict:
    proc = subprocess.run([str(python), *_ISOLATED, "-c", script, *args],
                          capture_output=True, text=True, timeout=timeout, check=False)
    if proc.returncode != 0:
        lines = [line for line in proc.stderr.strip().splitlines() if line.strip()]
        raise RuntimeError(lines[-1] if lines else f"exit {proc.returncode}")
    lines = proc.stdout.strip().splitlines()
    return json.loads(lines[-1]) if lines else {}


def cold_starts(python: Path, dirs: Sequence[Path], model: Path, runs: int) -> list[dict[str, float]]:
    """``runs`` fresh processes each importing sklearn.ensemble and loading ``model``.

    The import check that trained the model has already read the layer's files, so every
    timed run starts with them in the page cache (Lambda serves layers from local storage too).
    """
    path_arg = json.dumps([str(d) for d in dirs])
    return [_run_json(python, _COLD_START, path_arg, str(model)) for _ in range(runs)]


def measure_layer(zip_path: Path, target: Target, python: Path | None, *, runs: int,
                  wheel_names: Sequence[str] = (), workdir: Path | None = None) -> LayerMetrics:
    """Unpack ``zip_path`` and measure it for ``target``; ``python`` None skips what needs an interpreter."""
    with tempfile.TemporaryDirectory(prefix="layer-", dir=workdir) as tmp:
        root = Path(tmp) / "opt"
        report = safe_extract(zip_path, root)
        versions = versions_in(root, wheel_names)
        max_glibc, foreign = scan_elf(root, target.machine)
        glibc_ok = max_glibc is None or glibc_tuple(max_glibc) <= target.glibc
        dirs = site_dirs(root, target)
        common = {
            "zip_bytes": zip_path.stat().st_size,
            "unzipped_bytes": report.bytes,
            "file_count": report.files,
            "max_glibc": max_glibc,
            "runtime_glibc": target.glibc_version,
            "glibc_ok": glibc_ok,
            "foreign_elf": foreign,
        }
        if not dirs:
            return LayerMetrics(versions=versions, imports="failed", note="no python/ directory in the layer",
                                **common)
        if python is None:
            why = (f"no {target.machine} CPU here" if target.machine != os.uname().machine
                   else f"no Python {target.python_version} found")
            return LayerMetrics(versions=versions, imports=f"skipped: {why}", **common)
        modules = top_level_modules(root, target)
        path_arg = json.dumps([str(d) for d in dirs])
        model = Path(tmp) / "model.joblib"
        try:
            outcome = _run_json(python, _IMPORT_ALL, path_arg, json.dumps(modules), str(model) if runs > 0 else "")
        except (RuntimeError, subprocess.TimeoutExpired) as exc:
            return LayerMetrics(versions=versions, imports="failed", import_failures={"*": str(exc)}, **common)
        failures: dict[str, str] = outcome["failures"]
        # a tool that silently leaves a requirement out must not pass for importing what's left
        for module in REQUIRED_MODULES:
            if module not in modules:
                failures[module] = "not in the layer"
        imported = outcome["versions"]
        for module, package in (("sklearn", "scikit-learn"), ("numpy", "numpy"), ("scipy", "scipy")):
            if imported.get(module):
                versions.setdefault(package, imported[module])
        imports = "ok" if not failures else "failed"
        if failures.keys() & {"sklearn", "joblib"}:
            return LayerMetrics(versions=versions, imports=imports, import_failures=failures, **common)
        if runs <= 0 or outcome.get("train_error"):
            why = f"training the model failed: {outcome['train_error']}" if runs > 0 else "time budget"
            return LayerMetrics(versions=versions, imports=imports, import_failures=failures,
                                note=f"cold start not measured ({why})", **common)
        try:
            samples = cold_starts(python, dirs, model, runs)
        except (RuntimeError, subprocess.TimeoutExpired) as exc:
            return LayerMetrics(versions=versions, imports=imports, import_failures=failures,
                                note=f"cold start not measured: {exc}", **common)
        return LayerMetrics(
            versions=versions, imports=imports, import_failures=failures,
            cold_start_s=statistics.median(s["import"] + s["load"] for s in samples),
            import_s=statistics.median(s["import"] for s in samples),
            load_s=statistics.median(s["load"] for s in samples),
            cold_start_runs=len(samples), **common)


def interpreter_for(target: Target) -> Path | None:
    """The CPython of the target's minor version, when this machine can run the target's code."""
    from lambdapack.interpreters import find_python

    if target.machine != os.uname().machine:
        return None
    return find_python(target.python)


if __name__ == "__main__":  # pragma: no cover - manual use: python bench/measure.py LAYER.zip [RUNTIME ARCH]
    layer = Path(sys.argv[1])
    tgt = Target.for_runtime(*(sys.argv[2:4] or ["python3.12", "x86_64"]))
    print(measure_layer(layer, tgt, interpreter_for(tgt), runs=3))
