"""Every covered preprocessing step, variant by variant, in front of a tree model: compiled, proven, served.

Each case is fitted here on a small frame with numbers, string categories and missing values; the
package must serve it by the predictor with the preprocessing proven bit-identical, and the handler
must answer the training rows (missing values and categories included) exactly as the estimator does.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import numpy as np
import pandas as pd
import pytest
from function_support import write_model_dir
from sklearn.compose import ColumnTransformer, make_column_selector
from sklearn.ensemble import HistGradientBoostingRegressor, RandomForestClassifier
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import (
    MaxAbsScaler,
    MinMaxScaler,
    OneHotEncoder,
    OrdinalEncoder,
    RobustScaler,
    StandardScaler,
)
from sklearn.tree import DecisionTreeClassifier

from lambdapack.function.package import package_function

LoadHandler = Callable[..., ModuleType]
RNG = np.random.default_rng(11)
N = 240
DATA = pd.DataFrame({
    "a": RNG.normal(50, 20, N),
    "b": RNG.lognormal(3, 1, N),
    "colour": RNG.choice(["red", "green", "blue", "grey"], N, p=[0.4, 0.3, 0.25, 0.05]),
    "size": RNG.choice(["s", "m", "l"], N),
})
DATA.loc[RNG.random(N) < 0.12, "a"] = np.nan
DATA.loc[RNG.random(N) < 0.08, "colour"] = None
DATA.loc[RNG.random(N) < 0.1, "b"] = -1.0  # a sentinel some pipelines treat as missing
LABEL = ((DATA["b"] > 20) ^ (DATA["colour"] == "red")).astype(int)
NUMBERS, CATEGORIES = ["a", "b"], ["colour", "size"]


def _pipe(pre: object, model: object | None = None) -> Pipeline:
    return Pipeline([("pre", pre), ("model", model or RandomForestClassifier(n_estimators=8, random_state=0))])


def _numbers(*steps: object) -> ColumnTransformer:
    return ColumnTransformer([("num", make_pipeline(*steps), NUMBERS),
                              ("cat", OneHotEncoder(handle_unknown="ignore"), CATEGORIES)])


def _categories(encoder: object) -> ColumnTransformer:
    return ColumnTransformer([("num", SimpleImputer(), NUMBERS), ("cat", encoder, CATEGORIES)])


CASES = {
    "standard": _pipe(_numbers(SimpleImputer(), StandardScaler())),
    "standard_no_mean": _pipe(_numbers(SimpleImputer(), StandardScaler(with_mean=False))),
    "minmax_clip": _pipe(_numbers(SimpleImputer(), MinMaxScaler(feature_range=(-1, 2), clip=True))),
    "maxabs": _pipe(_numbers(SimpleImputer(), MaxAbsScaler())),
    "robust_no_centering": _pipe(_numbers(SimpleImputer(), RobustScaler(with_centering=False))),
    "impute_median_indicator": _pipe(_numbers(SimpleImputer(strategy="median", add_indicator=True))),
    "impute_most_frequent": _pipe(_numbers(SimpleImputer(strategy="most_frequent"))),
    "impute_constant_sentinel": _pipe(_numbers(SimpleImputer(), SimpleImputer(missing_values=-1.0,
                                                                              strategy="constant", fill_value=0.5))),
    "onehot_infrequent": _pipe(_categories(OneHotEncoder(handle_unknown="infrequent_if_exist", min_frequency=20))),
    "onehot_max_categories": _pipe(_categories(OneHotEncoder(handle_unknown="infrequent_if_exist",
                                                             max_categories=3, sparse_output=False))),
    "onehot_drop_first": _pipe(_categories(OneHotEncoder(drop="first", handle_unknown="ignore"))),
    "onehot_impute_then_encode": _pipe(_categories(make_pipeline(
        SimpleImputer(strategy="constant", fill_value="none"), OneHotEncoder(handle_unknown="ignore")))),
    "ordinal_unknown_value": _pipe(_categories(OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1,
                                                              encoded_missing_value=-2))),
    "columns_by_index_remainder": _pipe(ColumnTransformer([("imp", SimpleImputer(), [0]),
                                                           ("cat", OrdinalEncoder(encoded_missing_value=-1), [2])],
                                                          remainder=MaxAbsScaler())),
    "columns_selector_drop": _pipe(ColumnTransformer([
        ("num", SimpleImputer(), make_column_selector(dtype_include="number")),
        ("colour", "drop", ["colour"]),
        ("size", OneHotEncoder(), ["size"])])),
    "tree_after_scaling": _pipe(_numbers(SimpleImputer(), StandardScaler()), DecisionTreeClassifier(random_state=0)),
    "boosting_missing_passthrough": _pipe(ColumnTransformer([("num", "passthrough", NUMBERS),
                                                             ("cat", OrdinalEncoder(), ["size"])]),
                                          HistGradientBoostingRegressor(max_iter=15, random_state=0)),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_each_step_variant_is_compiled_proven_and_served(name: str, tmp_path: Path,
                                                         load_handler: LoadHandler) -> None:
    model = CASES[name]
    regression = name.startswith("boosting")
    columns = NUMBERS + (["size"] if regression else ["colour"] if name.endswith("remainder") else CATEGORIES)
    if name == "columns_by_index_remainder":
        X = DATA[columns].to_numpy(dtype=object)
        names = [(c, None) for c in columns]
    else:
        X = DATA[columns]
        names = [(c, None) for c in columns]
    target = DATA["b"] * 2.0 if regression else LABEL
    model.fit(X, target)
    task = "regression" if regression else "classification"
    model_dir = write_model_dir(tmp_path / "model", model, names, None if regression else ["no", "yes"], task)
    report = package_function(model_dir, tmp_path / "f.zip")
    assert report.function.serving == "predictor", report.function.reason
    assert report.function.claim["preprocessing"] == "bit-identical"
    assert report.function.claim["predict"] == "identical labels and values"
    module = load_handler(model_dir)
    manifest = json.loads((model_dir / "model.json").read_text())
    rows = [[None if (v is None or v != v) and f["type"] == "category" else
             (float("nan") if v is None or v != v else v) for v, f in zip(row, manifest["features"], strict=True)]
            for row in DATA[columns].itertuples(index=False)]
    rows = [r for r in rows if all(f["nullable"] or not (v is None or v != v)
                                   for v, f in zip(r, manifest["features"], strict=True))]
    outputs, probas = module.MODEL.predictor.predict(rows)
    estimator = load_handler(model_dir, env={"LAMBDAPACK_PREDICTOR": "0"}).MODEL.estimator()
    expected, expected_probas = estimator.predict(rows)
    assert outputs == expected
    if probas is not None:
        assert probas == expected_probas
