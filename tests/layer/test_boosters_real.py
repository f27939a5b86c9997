"""scikit-learn, XGBoost and LightGBM in one layer, from real PyPI (slow).

``build-layer scikit-learn xgboost lightgbm`` for python3.12: ``xgboost`` resolves as ``xgboost-cpu``
(no NVIDIA NCCL: the layer fits Lambda's unzipped limit), and LightGBM's ``libgomp.so.1`` is
copied from scikit-learn's wheel into ``lib/``. On x86_64 the layer is imported and a LightGBM
model trained and used inside it, by CPython 3.12 with only the layer on ``sys.path`` and its
``lib/`` on ``LD_LIBRARY_PATH``; the process's own memory map shows which libgomp was loaded.

arm64 is built and checked without executing anything: this machine is x86_64, so check-layer's
import check is skipped there (it says so) and nothing trains; the archive, layout, size, elf
(every binary aarch64, every symbol version within manylinux_2_34), libs (libgomp found in
``lib/``) and abi checks run in full.
"""

from __future__ import annotations

import json
import os
import subprocess
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

from lambdapack.layer.check import check_layer_zip
from lambdapack.targets import UNZIPPED_LIMIT

pytestmark = pytest.mark.slow
BOOSTERS = ("scikit-learn", "xgboost", "lightgbm")
SP = "python/lib/python3.12/site-packages"


@pytest.fixture(scope="session")
def booster_layer(real_layer: Callable[..., Path]) -> Path:
    """The python3.12 x86_64 layer (built once per session, check-layer run by the build)."""
    return real_layer(requirements=BOOSTERS, check=True)


@pytest.fixture(scope="session")
def unpacked_booster_layer(booster_layer: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("boosters")
    with zipfile.ZipFile(booster_layer) as zf:
        zf.extractall(root)
    return root


def _record(layer: Path) -> dict:
    with zipfile.ZipFile(layer) as zf:
        return json.loads(zf.read("lambdapack-layer.json"))


def _checks(layer: Path, **kw: object) -> dict:
    report = check_layer_zip(layer, **kw)  # type: ignore[arg-type]
    assert report.ok, [c for c in report.checks if c.status == "fail"]
    return {c.name: c for c in report.checks}


def _carries_cpu_xgboost_and_vendored_libgomp(record: dict) -> None:
    names = {p["name"] for p in record["packages"]}
    assert {"scikit-learn", "xgboost-cpu", "lightgbm"} <= names
    assert "xgboost" not in names and not any(n.startswith("nvidia-") for n in names)
    [gomp] = record["vendored_libraries"]
    assert (gomp["soname"], gomp["path"], gomp["package"]) == ("libgomp.so.1", "lib/libgomp.so.1", "scikit-learn")
    assert gomp["source"].startswith("scikit_learn.libs/libgomp-") and gomp["wheel"].startswith("scikit_learn-")
    assert gomp["needed_by"] == ["lightgbm/lib/lib_lightgbm.so"]


def test_the_x86_64_layer_fits_passes_check_layer_and_imports_all_three(booster_layer: Path) -> None:
    record = _record(booster_layer)
    _carries_cpu_xgboost_and_vendored_libgomp(record)
    checks = _checks(booster_layer, runtime="python3.12")
    assert checks["import"].status == "pass"
    imported = checks["import"].detail.split(": ", 1)[1].split(", ")
    assert {"sklearn", "xgboost", "lightgbm"} <= set(imported)
    assert checks["libs"].status == "pass" and checks["elf"].status == "pass"
    with zipfile.ZipFile(booster_layer) as zf:
        unzipped = sum(i.file_size for i in zf.infolist())
    assert unzipped <= UNZIPPED_LIMIT


TRAIN = r"""
import json, sys
sys.path[:0] = [sys.argv[1]]
import numpy as np
import lightgbm, sklearn.ensemble, xgboost
rng = np.random.RandomState(0)
X = rng.rand(400, 4)
y = (X[:, 0] + X[:, 1] > 1).astype(int)
model = lightgbm.LGBMClassifier(n_estimators=20, num_threads=2, verbose=-1).fit(X, y)
booster = xgboost.XGBClassifier(n_estimators=10, n_jobs=2).fit(X, y)
forest = sklearn.ensemble.RandomForestClassifier(n_estimators=10, n_jobs=2, random_state=0).fit(X, y)
gomp = sorted({line.split()[-1] for line in open("/proc/self/maps") if "gomp" in line})
print(json.dumps({"lightgbm": float((model.predict(X) == y).mean()), "xgboost": float((booster.predict(X) == y).mean()),
                  "forest": float((forest.predict(X) == y).mean()), "gomp": gomp}))
"""


def test_lightgbm_trains_and_predicts_inside_the_layer_with_its_own_libgomp(
        unpacked_booster_layer: Path, python312: Path) -> None:
    root = unpacked_booster_layer
    env = {"PATH": os.environ.get("PATH", ""), "LANG": "C.UTF-8", "LD_LIBRARY_PATH": str(root / "lib")}
    done = subprocess.run([str(python312), "-I", "-S", "-c", TRAIN, str(root / SP)], env=env, cwd=root,
                          capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["lightgbm"] > 0.9 and result["xgboost"] > 0.9 and result["forest"] > 0.9
    # LightGBM's libgomp.so.1 is the layer's copy, not this machine's; scikit-learn loads its own
    assert str(root / "lib" / "libgomp.so.1") in result["gomp"], result["gomp"]
    assert all(path.startswith(str(root)) for path in result["gomp"]), result["gomp"]


def test_the_arm64_layer_passes_every_check_this_machine_can_run(real_layer: Callable[..., Path]) -> None:
    layer = real_layer(arch="arm64", requirements=BOOSTERS, check=True)
    _carries_cpu_xgboost_and_vendored_libgomp(_record(layer))
    checks = _checks(layer, runtime="python3.12", arch="arm64")
    for name in ("archive", "layout", "elf", "libs", "abi"):
        assert checks[name].status == "pass", checks[name]
    assert "all aarch64" in checks["elf"].detail
    assert checks["size"].status in ("pass", "warn")  # over 50 MB zipped is a warning: deploy uses S3
    if os.uname().machine == "x86_64":
        assert checks["import"].status == "skip" and "cannot run on this x86_64 machine" in checks["import"].detail
