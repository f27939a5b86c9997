"""Init: the handler refuses to serve a missing, tampered or mismatched model, loudly."""

from __future__ import annotations

import ast
import json
import shutil
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import pytest
from function_support import SEED, body_of, function_files

from lambdapack.model import version_rule
from lambdapack.template_files import template_path

LoadHandler = Callable[..., ModuleType]


@pytest.fixture
def model_copy(iris_model: Path, tmp_path: Path) -> Path:
    out = tmp_path / "model-copy"
    shutil.copytree(iris_model, out)
    return out


def _layer(root: Path, python_dir: str, record: dict | None) -> Path:
    """A fake layer root with ``python_dir`` (what Lambda puts on sys.path) and the build record."""
    path = root / python_dir
    path.mkdir(parents=True)
    if record is not None:
        (root / "lambdapack-layer.json").write_text(json.dumps(record))
    return path


def _record(versions: dict[str, str], python: str | None = None) -> dict:
    return {
        "schema": "lambdapack.layer/1", "runtime": "python3.11", "arch": "x86_64",
        "python_version": python or f"{sys.version_info[0]}.{sys.version_info[1]}",
        "packages": [{"name": n, "version": v} for n, v in sorted(versions.items())],
    }


def _model_versions(model_dir: Path) -> dict[str, str]:
    return json.loads((model_dir / "model.json").read_text())["versions"]


def test_missing_model_file_fails_init(model_copy: Path, load_handler: LoadHandler) -> None:
    (model_copy / "model.joblib").unlink()
    with pytest.raises(Exception, match=r"model file .*model\.joblib not found") as info:
        load_handler(model_copy)
    assert type(info.value).__name__ == "ModelInitError"


def test_missing_manifest_fails_init(model_copy: Path, load_handler: LoadHandler) -> None:
    (model_copy / "model.json").unlink()
    with pytest.raises(Exception, match=r"model manifest model\.json not found"):
        load_handler(model_copy)


def test_tampered_model_is_never_unpickled(model_copy: Path, load_handler: LoadHandler) -> None:
    # a pickle that would create a marker file if it were ever loaded
    marker = model_copy / "pwned"
    payload = b"cos\nsystem\n(S'touch " + str(marker).encode() + b"'\ntR."
    (model_copy / "model.joblib").write_bytes(payload)
    with pytest.raises(Exception, match=r"does not match model\.json"):
        load_handler(model_copy)
    assert not marker.exists()


def test_unknown_manifest_schema_fails_init(model_copy: Path, load_handler: LoadHandler) -> None:
    manifest = json.loads((model_copy / "model.json").read_text())
    manifest["schema"] = "lambdapack.model/99"
    (model_copy / "model.json").write_text(json.dumps(manifest))
    with pytest.raises(Exception, match="unknown schema"):
        load_handler(model_copy)


@pytest.mark.parametrize(("predictor", "message"), [
    (False, "lists 5 features but the model expects 4"),
    (True, "the predictor takes 4 inputs for classification; model.json says 5"),
])
def test_manifest_feature_count_must_match_the_model(model_copy: Path, load_handler: LoadHandler, predictor: bool,
                                                     message: str) -> None:
    function_files(model_copy)  # the predictor, compiled before the manifest is changed under it
    manifest = json.loads((model_copy / "model.json").read_text())
    manifest["features"].append({"name": "extra", "alias": None})
    (model_copy / "model.json").write_text(json.dumps(manifest))
    with pytest.raises(Exception, match=message):
        load_handler(model_copy, predictor=predictor)


def test_matching_layer_record_is_accepted_and_reported(iris_model: Path, load_handler: LoadHandler,
                                                        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    python = f"{sys.version_info[0]}.{sys.version_info[1]}"
    site = _layer(tmp_path / "opt", f"python/lib/python{python}/site-packages", _record(_model_versions(iris_model)))
    monkeypatch.setattr(sys, "path", [*sys.path, str(site)])
    module = load_handler(iris_model)
    assert module.lambda_handler(SEED, None) == {"statusCode": 200, "body": "virginica"}
    health = {"version": "2.0", "rawPath": "/health", "requestContext": {"http": {"method": "GET"}}}
    assert body_of(module.lambda_handler(health, None))["model"]["layer"]["runtime"] == "python3.11"


def test_mismatched_layer_record_fails_init_with_both_ways_out(iris_model: Path, load_handler: LoadHandler,
                                                               tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    versions = dict(_model_versions(iris_model), **{"scikit-learn": "0.24.2"})
    site = _layer(tmp_path / "opt", "python", _record(versions))
    monkeypatch.setattr(sys, "path", [str(site), *sys.path])
    with pytest.raises(Exception, match=r"scikit-learn \S+ \(model\) vs 0\.24\.2 \(layer\)") as info:
        load_handler(iris_model)
    assert "lambdapack build-layer --model" in str(info.value)
    assert "lambdapack train --layer" in str(info.value)


def test_layer_for_another_python_fails_init_before_numpy(iris_model: Path, load_handler: LoadHandler,
                                                          tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    site = _layer(tmp_path / "opt", "python", _record(_model_versions(iris_model), python="3.9"))
    monkeypatch.setattr(sys, "path", [str(site), *sys.path])
    with pytest.raises(Exception, match=r"built for Python 3\.9"):
        load_handler(iris_model)


def test_no_layer_record_warns_and_serves(iris_model: Path, load_handler: LoadHandler,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    module = load_handler(iris_model, predictor=False)
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert any(line["level"] == "WARNING" and "not a lambdapack layer" in line["message"] for line in lines)
    assert module.lambda_handler(SEED, None)["statusCode"] == 200


def test_the_predictor_needs_no_layer_and_does_not_warn(iris_model: Path, load_handler: LoadHandler,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    module = load_handler(iris_model)
    assert module.MODEL.serving == "predictor"
    assert "WARNING" not in capsys.readouterr().out
    assert module.lambda_handler(SEED, None) == {"statusCode": 200, "body": "virginica"}


def test_record_discovery_follows_the_sys_path_rules(tmp_path: Path, iris_handler: ModuleType) -> None:
    record = _record({})
    _layer(tmp_path / "a", "python", record)
    _layer(tmp_path / "b", "python/lib/python3.12/site-packages", record)
    _layer(tmp_path / "c", "lib/python3.12/site-packages", record)  # not a layer layout
    find = iris_handler.model.manifests.find_layer_record
    assert find([str(tmp_path / "a" / "python")]) == str(tmp_path / "a" / "lambdapack-layer.json")
    assert find([str(tmp_path / "a" / "python") + "/"]) == str(tmp_path / "a" / "lambdapack-layer.json")
    site = tmp_path / "b" / "python/lib/python3.12/site-packages"
    assert find(["", str(site)]) == str(tmp_path / "b" / "lambdapack-layer.json")
    assert find([str(tmp_path / "c" / "lib/python3.12/site-packages")]) is None


CASES = [
    ({"xgboost": "3.2.0", "scikit-learn": "1.9.1"}, {"xgboost-cpu": "3.2.0", "scikit-learn": "1.9.1"}),
    ({"xgboost": "3.2.0", "lightgbm": "4.7.0"}, {"xgboost-cpu": "3.1.0", "lightgbm": "4.7.0"}),
    ({"scikit-learn": "1.9.1", "numpy": "2.5.5", "scipy": "1.18.1", "joblib": "1.6.0"},
     {"scikit-learn": "1.9.1", "numpy": "2.5.5", "scipy": "1.18.1", "joblib": "1.6.0"}),
    ({"scikit-learn": "1.9.1", "numpy": "2.5.5"}, {"scikit_learn": "1.9.1", "NumPy": "2.5.5"}),
    ({"scikit-learn": "1.9.1", "numpy": "2.5.5"}, {"scikit-learn": "1.9.0", "numpy": "2.5.5"}),
    ({"scikit-learn": "1.9.1", "scipy": "1.18.1"}, {"scikit-learn": "1.9.1"}),
    ({"python": "3.12.1", "threadpoolctl": "3.8.0", "joblib": "1.6.0"}, {"joblib": "1.6.0"}),
    ({"python": "3.12.1", "threadpoolctl": "3.8.0"}, {}),
    ({}, {"numpy": "2.5.5"}),
    ({"joblib": "1.6.0"}, {"joblib": "1.6"}),
    ({"numpy": "2.5.5", "joblib": "1.5.0"}, {"numpy": "2.4.0", "joblib": "1.5.0", "scikit.learn": "1.0"}),
]


@pytest.mark.parametrize(("model", "layer"), CASES)
def test_template_version_rule_agrees_with_ours(iris_handler: ModuleType, model: dict, layer: dict) -> None:
    record = {"packages": [{"name": n, "version": v} for n, v in layer.items()]}
    carried = version_rule.layer_versions(record)
    ours = [(m.package, m.model, m.layer) for m in version_rule.version_mismatches(model, carried)]
    manifests = iris_handler.model.manifests
    theirs = manifests.version_mismatches(model, manifests.layer_versions(record))
    assert theirs == ours


def test_template_pins_the_same_packages_as_ours(iris_handler: ModuleType) -> None:
    assert tuple(iris_handler.model.manifests.PINNED_PACKAGES) == version_rule.PINNED_PACKAGES
    assert iris_handler.model.manifests.LAYER_ALIASES == version_rule.LAYER_ALIASES


RUNTIME_FILES = sorted(p.relative_to(template_path("lambdapack_runtime").parent).as_posix()
                       for p in template_path("lambdapack_runtime").glob("*.py"))


def _imports(template: str) -> set[str]:
    """What ``templates/<template>`` imports from outside the standard library and its own package."""
    tree = ast.parse(template_path(template).read_text())
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            imported.add(node.module.split(".")[0])
    return imported - set(sys.stdlib_module_names) - {"__future__"}


# the layer's libraries only on the estimator path; SnapStart's hook module only under SnapStart;
# CPython's built-in SHA-256 (_sha2 on 3.12+, _sha256 before) or hashlib's
ALLOWED = {"lambdapack_runtime/model.py": {"numpy", "joblib", "pandas", "snapshot_restore_py"},
           "lambdapack_runtime/frames.py": {"numpy", "pandas"},
           "lambdapack_runtime/lightgbm_booster.py": {"numpy"},
           "lambdapack_runtime/xgboost_booster.py": {"numpy", "scipy"},  # XGBoost's own softmax is scipy's
           "lambdapack_runtime/predictor.py": {"_sha2", "_sha256"}}


def test_templates_import_only_the_standard_library_and_the_layer() -> None:
    assert _imports("lambda_function.py") == {"lambdapack_runtime"}
    for name in RUNTIME_FILES:
        assert _imports(name) <= ALLOWED.get(name, set()), name


@pytest.mark.parametrize("template", ["lambda_function.py", *RUNTIME_FILES])
def test_template_runs_on_the_oldest_lambda_python(template: str) -> None:
    # python3.10 is the oldest runtime lambdapack targets: what ships must parse there
    ast.parse(template_path(template).read_text(), feature_version=(3, 10))


def test_running_other_versions_than_the_model_warns_but_serves(model_copy: Path, load_handler: LoadHandler,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    manifest = json.loads((model_copy / "model.json").read_text())
    manifest["versions"]["scikit-learn"] = "0.24.2"
    (model_copy / "model.json").write_text(json.dumps(manifest))
    module = load_handler(model_copy)
    warnings = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert any("scikit-learn" in w["message"] and "0.24.2 (model)" in w["message"] for w in warnings
               if w["level"] == "WARNING")
    assert module.lambda_handler(SEED, None) == {"statusCode": 200, "body": "virginica"}


def test_matching_versions_do_not_warn(iris_model: Path, load_handler: LoadHandler,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    module = load_handler(iris_model, predictor=False)
    assert module.MODEL.serving == "joblib"
    out = capsys.readouterr().out
    assert '"model loaded"' in out  # the init log was captured
    assert "other library versions" not in out  # the fixture's model was trained with these very libraries
