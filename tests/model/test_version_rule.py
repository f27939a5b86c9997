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
