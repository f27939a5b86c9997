from lambdapack.model.version_rule import layer_versions, pins_for, version_mismatches

MODEL = {"python": "3.11.7", "scikit-learn": "1.9.1", "numpy": "2.4.6", "scipy": "1.17.1",
         "joblib": "1.6.0", "threadpoolctl": "3.8.0"}


def test_same_versions_agree_whatever_python_and_threadpoolctl() -> None:
    record = {"packages": [{"name": "scikit_learn", "version": "1.9.1"}, {"name": "numpy", "version": "2.4.6"},
                           {"name": "SciPy", "version": "1.17.1"}, {"name": "joblib", "version": "1.6.0"},
                           {"name": "threadpoolctl", "version": "3.6.0"}]}
    assert version_mismatches(MODEL, layer_versions(record)) == []


def test_mismatches_name_each_package() -> None:
    found = version_mismatches(MODEL, {"scikit-learn": "1.7.2", "numpy": "2.4.6", "joblib": "1.6.0"})
    assert [(m.package, m.model, m.layer) for m in found] == [("scikit-learn", "1.9.1", "1.7.2"),
                                                               ("scipy", "1.17.1", None)]
    assert found[0].describe() == "scikit-learn 1.9.1 (model) vs layer has 1.7.2"


def test_pins() -> None:
    assert pins_for(MODEL) == ["scikit-learn==1.9.1", "numpy==2.4.6", "scipy==1.17.1", "joblib==1.6.0"]


def test_boosters_are_compared_only_when_the_model_lists_them() -> None:
    layer = {"scikit-learn": "1.9.1", "numpy": "2.4.6", "scipy": "1.17.1", "joblib": "1.6.0"}
    assert version_mismatches(MODEL, layer) == []  # a scikit-learn model: no xgboost or lightgbm asked for
    booster = {**MODEL, "xgboost": "3.1.0", "lightgbm": "4.6.0"}
    found = version_mismatches(booster, {**layer, "lightgbm": "4.5.0"})
    assert [(m.package, m.model, m.layer) for m in found] == [("xgboost", "3.1.0", None),
                                                               ("lightgbm", "4.6.0", "4.5.0")]


def test_a_layers_xgboost_cpu_is_its_xgboost() -> None:
    record = {"packages": [{"name": "xgboost_cpu", "version": "3.1.0"}, {"name": "lightgbm", "version": "4.6.0"}]}
    carried = layer_versions(record)
    assert carried["xgboost"] == "3.1.0" and carried["xgboost-cpu"] == "3.1.0"
    assert version_mismatches({"xgboost": "3.1.0", "lightgbm": "4.6.0"}, carried) == []
    assert version_mismatches({"xgboost": "3.1.0"}, {"XGBoost-CPU": "3.1.0"}) == []  # any spelling, any caller
    assert [m.describe() for m in version_mismatches({"xgboost": "3.0.5"}, carried)] == [
        "xgboost 3.0.5 (model) vs layer has 3.1.0"]


def test_a_model_pins_xgboost_through_its_cpu_only_build() -> None:
    assert pins_for({"scikit-learn": "1.9.1", "xgboost": "3.1.0", "lightgbm": "4.6.0"}) == [
        "scikit-learn==1.9.1", "xgboost-cpu==3.1.0", "lightgbm==4.6.0"]
