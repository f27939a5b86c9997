"""The model zoo: one row spec per model family, fitted the way tabular users fit them.

Each :class:`ZooModel` names a fit function that returns the fitted estimator, the feature
names ``lambdapack model import`` needs (None for a model fitted on a DataFrame, which carries
its own) and one request event taken from held-out data (``null`` where a value is missing).
Adding a family to the benchmark is one fit function and one line of :data:`MODELS`.

The data are scikit-learn's bundled datasets (no download) and one synthetic customer table
with a string category, a pandas ``category`` column and missing values, made from a fixed seed.
Everything is imported lazily: ``bench_zoo``'s renderer and tests import this module without
numpy, pandas or the boosters.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

SEED = 0
# Boosters are judged against a wider Init budget: their tables are larger (docs/benchmarks.md).
INIT_BUDGET_MS = 30.0
BOOSTER_INIT_BUDGET_MS = 50.0
WARM_BUDGET_MS = 1.0


@dataclass(frozen=True)
class Fitted:
    estimator: Any
    features: list[str] | None  # None: fitted on a DataFrame, its column names are the inputs
    event: dict[str, Any]  # one held-out row as a direct event


@dataclass(frozen=True)
class ZooModel:
    key: str
    label: str  # the model, short
    data: str  # what it was fitted on
    family: str  # tree | ensemble | pipeline | linear | xgboost | lightgbm | uncovered
    fit: Callable[[], Fitted]
    libraries: tuple[str, ...] = ()  # modules beyond scikit-learn the fit needs (pandas, xgboost, lightgbm)
    init_budget_ms: float = INIT_BUDGET_MS


# ---------------------------------------------------------------------------- data


def _bundled(name: str, missing: float = 0.0) -> tuple[Any, Any, list[str]]:
    """A bundled dataset as float arrays, a share of values set missing, and identifier-safe names."""
    import numpy as np
    from sklearn import datasets

    data = getattr(datasets, f"load_{name}")()
    X = np.array(data.data, dtype=float)
    if missing:
        X[np.random.default_rng(SEED).random(X.shape) < missing] = np.nan
    names = [str(n).replace(" ", "_").replace("(", "").replace(")", "").replace("/", "_")
             for n in data.feature_names]
    return X, data.target, names


def _event(values: Sequence[Any], names: Sequence[str]) -> dict[str, Any]:
    """One row as the request sends it: plain numbers and strings, null for a missing value."""
    out: dict[str, Any] = {}
    for name, value in zip(names, values, strict=True):
        if value is None or (isinstance(value, float) and math.isnan(value)):
            out[name] = None
        elif isinstance(value, str):
            out[name] = value
        else:
            out[name] = float(value)
    return out


def _split(X: Any, y: Any) -> tuple[Any, Any, Any]:
    """Fit on all rows but the last; the last is the request."""
    return X[:-1], y[:-1], X[-1]


def customers(n: int = 3000, pandas_category: bool = False) -> tuple[Any, Any, Any]:
    """A customer table: numbers with missing values, string categories (one missing now and then),
    a churn label and a spend value. ``pandas_category``: the string columns as pandas ``category``."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(SEED)
    cities = np.array(["Lisbon", "Porto", "Braga", "Faro", "Coimbra", "Aveiro", "Evora", "Leiria"])
    frame = pd.DataFrame({
        "age": rng.normal(45, 12, n).round(),
        "income": rng.lognormal(10, 0.5, n).round(2),
        "tenure": rng.integers(0, 120, n).astype(float),
        "city": rng.choice(cities, n).astype(object),
        "plan": rng.choice(["basic", "plus", "pro"], n, p=[0.6, 0.3, 0.1]).astype(object),
    })
    frame.loc[rng.random(n) < 0.1, "age"] = np.nan
    frame.loc[rng.random(n) < 0.1, "income"] = np.nan
    frame.loc[rng.random(n) < 0.05, "city"] = np.nan
    score = (0.03 * (frame["age"].fillna(45) - 45) - 0.02 * frame["tenure"] + (frame["plan"] == "basic") * 1.2
             + frame["city"].isin(["Faro", "Evora"]) * 0.8 + rng.normal(0, 1, n))
    churn = (score > 0).astype(int).to_numpy()
    spend = (frame["income"].fillna(20000) * 0.01 + frame["tenure"] * 3 + rng.normal(0, 20, n)).to_numpy()
    if pandas_category:
        for column in ("city", "plan"):
            frame[column] = frame[column].astype("category")
    return frame, churn, spend


def _frame_event(frame: Any) -> tuple[Any, dict[str, Any]]:
    """Fit on every row but the last; the last row (with a missing value put in) is the request."""
    last = frame.iloc[-1].to_dict()
    last["age"] = None
    return frame.iloc[:-1], _event([last[c] for c in frame.columns], list(frame.columns))


# ---------------------------------------------------------------------------- scikit-learn trees


def decision_tree() -> Fitted:
    from sklearn.tree import DecisionTreeClassifier

    X, y, names = _bundled("breast_cancer")
    X, y, row = _split(X, y)
    return Fitted(DecisionTreeClassifier(random_state=SEED).fit(X, y), names, _event(row, names))


def random_forest() -> Fitted:
    from sklearn.ensemble import RandomForestClassifier

    X, y, _ = _bundled("iris")
    names = ["sl", "sw", "pl", "pw"]
    return Fitted(RandomForestClassifier(n_estimators=100, random_state=SEED).fit(X, y), names,
                  {"sl": 6.9, "sw": 3.1, "pl": 5.1, "pw": 2.3})


def extra_trees_regressor() -> Fitted:
    from sklearn.ensemble import ExtraTreesRegressor

    X, y, names = _bundled("diabetes")
    X, y, row = _split(X, y)
    return Fitted(ExtraTreesRegressor(n_estimators=100, random_state=SEED).fit(X, y), names, _event(row, names))


def gradient_boosting() -> Fitted:
    from sklearn.ensemble import GradientBoostingClassifier

    X, y, names = _bundled("breast_cancer")
    X, y, row = _split(X, y)
    return Fitted(GradientBoostingClassifier(n_estimators=100, random_state=SEED).fit(X, y), names,
                  _event(row, names))


def hist_gradient_boosting() -> Fitted:
    from sklearn.ensemble import HistGradientBoostingClassifier

    X, y, names = _bundled("breast_cancer", missing=0.1)
    X, y, row = _split(X, y)
    return Fitted(HistGradientBoostingClassifier(max_iter=100, random_state=SEED).fit(X, y), names,
                  _event(row, names))


def hist_gradient_boosting_regressor() -> Fitted:
    from sklearn.ensemble import HistGradientBoostingRegressor

    X, y, names = _bundled("diabetes", missing=0.1)
    X, y, row = _split(X, y)
    return Fitted(HistGradientBoostingRegressor(max_iter=100, random_state=SEED).fit(X, y), names,
                  _event(row, names))


# ---------------------------------------------------------------------------- pipelines


def scaled_forest() -> Fitted:
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X, y, names = _bundled("wine")
    X, y, row = _split(X, y)
    model = make_pipeline(StandardScaler(), RandomForestClassifier(n_estimators=100, random_state=SEED))
    return Fitted(model.fit(X, y), names, _event(row, names))


def imputed_scaled_forest() -> Fitted:
    from sklearn.ensemble import RandomForestRegressor
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import MinMaxScaler

    X, y, names = _bundled("diabetes", missing=0.1)
    X, y, row = _split(X, y)
    model = make_pipeline(SimpleImputer(strategy="median"), MinMaxScaler(),
                          RandomForestRegressor(n_estimators=100, random_state=SEED))
    return Fitted(model.fit(X, y), names, _event(row, names))


def onehot_hist_gradient_boosting() -> Fitted:
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder

    frame, churn, _ = customers()
    fit_frame, event = _frame_event(frame)
    columns = ColumnTransformer([("categories", OneHotEncoder(handle_unknown="ignore"), ["city", "plan"])],
                                remainder="passthrough")
    model = make_pipeline(columns, HistGradientBoostingClassifier(max_iter=100, random_state=SEED))
    return Fitted(model.fit(fit_frame, churn[:-1]), None, event)


def ordinal_forest() -> Fitted:
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OrdinalEncoder

    frame, churn, _ = customers()
    fit_frame, event = _frame_event(frame)
    columns = ColumnTransformer([
        ("categories", OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1), ["city", "plan"]),
        ("numbers", SimpleImputer(strategy="mean"), ["age", "income", "tenure"])])
    model = make_pipeline(columns, RandomForestClassifier(n_estimators=100, random_state=SEED))
    return Fitted(model.fit(fit_frame, churn[:-1]), None, event)


# ---------------------------------------------------------------------------- linear models


def logistic_regression() -> Fitted:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X, y, names = _bundled("breast_cancer")
    X, y, row = _split(X, y)
    return Fitted(make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)).fit(X, y), names,
                  _event(row, names))


def multinomial_logistic() -> Fitted:
    from sklearn.linear_model import LogisticRegression

    X, y, _ = _bundled("iris")
    names = ["sl", "sw", "pl", "pw"]
    return Fitted(LogisticRegression(max_iter=1000).fit(X, y), names, {"sl": 6.9, "sw": 3.1, "pl": 5.1, "pw": 2.3})


def ridge() -> Fitted:
    from sklearn.linear_model import Ridge

    X, y, names = _bundled("diabetes")
    X, y, row = _split(X, y)
    return Fitted(Ridge(alpha=1.0).fit(X, y), names, _event(row, names))


def onehot_logistic() -> Fitted:
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    frame, churn, _ = customers()
    fit_frame, event = _frame_event(frame)
    columns = ColumnTransformer([
        ("categories", OneHotEncoder(handle_unknown="ignore"), ["city", "plan"]),
        ("numbers", make_pipeline(SimpleImputer(strategy="median"), StandardScaler()), ["age", "income", "tenure"])])
    model = make_pipeline(columns, LogisticRegression(max_iter=1000))
    return Fitted(model.fit(fit_frame, churn[:-1]), None, event)


# ---------------------------------------------------------------------------- boosters


def xgboost_classifier() -> Fitted:
    from xgboost import XGBClassifier

    X, y, names = _bundled("breast_cancer", missing=0.1)
    X, y, row = _split(X, y)
    model = XGBClassifier(n_estimators=300, max_depth=6, learning_rate=0.1, random_state=SEED, n_jobs=1)
    return Fitted(model.fit(X, y), names, _event(row, names))


def xgboost_regressor() -> Fitted:
    from xgboost import XGBRegressor

    X, y, names = _bundled("diabetes")
    X, y, row = _split(X, y)
    model = XGBRegressor(n_estimators=300, max_depth=6, learning_rate=0.05, random_state=SEED, n_jobs=1)
    return Fitted(model.fit(X, y), names, _event(row, names))


def lightgbm_classifier() -> Fitted:
    from lightgbm import LGBMClassifier

    frame, churn, _ = customers(pandas_category=True)
    fit_frame, event = _frame_event(frame)
    model = LGBMClassifier(n_estimators=300, num_leaves=31, random_state=SEED, n_jobs=1, verbose=-1)
    return Fitted(model.fit(fit_frame, churn[:-1]), None, event)


def lightgbm_regressor() -> Fitted:
    from lightgbm import LGBMRegressor

    X, y, names = _bundled("diabetes", missing=0.1)
    X, y, row = _split(X, y)
    model = LGBMRegressor(n_estimators=300, num_leaves=15, random_state=SEED, n_jobs=1, verbose=-1)
    return Fitted(model.fit(X, y), names, _event(row, names))


# ---------------------------------------------------------------------------- outside the predictor


def function_transformer_forest() -> Fitted:
    import numpy as np
    from sklearn.ensemble import RandomForestRegressor
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer

    X, y, names = _bundled("diabetes")
    X, y, row = _split(np.abs(X), y)
    model = make_pipeline(FunctionTransformer(np.log1p), RandomForestRegressor(n_estimators=100, random_state=SEED))
    return Fitted(model.fit(X, y), names, _event(row, names))


def kneighbors() -> Fitted:
    from sklearn.neighbors import KNeighborsClassifier

    X, y, _ = _bundled("iris")
    return Fitted(KNeighborsClassifier(n_neighbors=5).fit(X, y), ["sl", "sw", "pl", "pw"],
                  {"sl": 6.9, "sw": 3.1, "pl": 5.1, "pw": 2.3})


def kernel_svc() -> Fitted:
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVC

    X, y, names = _bundled("breast_cancer")
    X, y, row = _split(X, y)
    model = make_pipeline(StandardScaler(), SVC(kernel="rbf"))
    return Fitted(model.fit(X, y), names, _event(row, names))


PANDAS = ("pandas",)
CUSTOMERS = "customers DataFrame: string categories, missing values"
MODELS: tuple[ZooModel, ...] = (
    ZooModel("decision_tree", "DecisionTreeClassifier", "breast_cancer", "tree", decision_tree),
    ZooModel("random_forest", "RandomForestClassifier, 100 trees", "iris (the guide's)", "ensemble", random_forest),
    ZooModel("extra_trees", "ExtraTreesRegressor, 100 trees", "diabetes", "ensemble", extra_trees_regressor),
    ZooModel("gradient_boosting", "GradientBoostingClassifier, 100 trees", "breast_cancer", "ensemble",
             gradient_boosting),
    ZooModel("hist_gb", "HistGradientBoostingClassifier, 100 iterations", "breast_cancer, 10% missing", "ensemble",
             hist_gradient_boosting),
    ZooModel("hist_gb_regressor", "HistGradientBoostingRegressor, 100 iterations", "diabetes, 10% missing",
             "ensemble", hist_gradient_boosting_regressor),
    ZooModel("scaler_forest", "StandardScaler + RandomForestClassifier", "wine", "pipeline", scaled_forest),
    ZooModel("imputer_scaler_forest", "SimpleImputer + MinMaxScaler + RandomForestRegressor", "diabetes, 10% missing",
             "pipeline", imputed_scaled_forest),
    ZooModel("onehot_hist_gb", "ColumnTransformer(OneHotEncoder) + HistGradientBoostingClassifier",
             CUSTOMERS, "pipeline", onehot_hist_gradient_boosting, PANDAS),
    ZooModel("ordinal_forest", "ColumnTransformer(OrdinalEncoder, SimpleImputer) + RandomForestClassifier",
             CUSTOMERS, "pipeline", ordinal_forest, PANDAS),
    ZooModel("logistic", "StandardScaler + LogisticRegression", "breast_cancer", "linear", logistic_regression),
    ZooModel("multinomial", "LogisticRegression, 3 classes", "iris", "linear", multinomial_logistic),
    ZooModel("ridge", "Ridge", "diabetes", "linear", ridge),
    ZooModel("onehot_logistic", "ColumnTransformer(OneHotEncoder, SimpleImputer + StandardScaler) + LogisticRegression",
             CUSTOMERS, "linear", onehot_logistic, PANDAS),
    ZooModel("xgb_classifier", "XGBClassifier, 300 trees", "breast_cancer, 10% missing", "xgboost",
             xgboost_classifier, ("xgboost",), BOOSTER_INIT_BUDGET_MS),
    ZooModel("xgb_regressor", "XGBRegressor, 300 trees", "diabetes", "xgboost", xgboost_regressor, ("xgboost",),
             BOOSTER_INIT_BUDGET_MS),
    ZooModel("lgbm_classifier", "LGBMClassifier, 300 trees", "customers DataFrame, pandas category columns, missing "
             "values", "lightgbm", lightgbm_classifier, ("lightgbm", "pandas"), BOOSTER_INIT_BUDGET_MS),
    ZooModel("lgbm_regressor", "LGBMRegressor, 300 trees", "diabetes, 10% missing", "lightgbm", lightgbm_regressor,
             ("lightgbm",), BOOSTER_INIT_BUDGET_MS),
    ZooModel("function_transformer", "FunctionTransformer(log1p) + RandomForestRegressor", "diabetes", "uncovered",
             function_transformer_forest),
    ZooModel("kneighbors", "KNeighborsClassifier", "iris", "uncovered", kneighbors),
    ZooModel("kernel_svc", "StandardScaler + SVC(kernel='rbf')", "breast_cancer", "uncovered", kernel_svc),
)
QUICK = ("random_forest", "onehot_hist_gb", "logistic", "xgb_classifier", "kneighbors")


def by_key(keys: Sequence[str] | None) -> list[ZooModel]:
    """The specs named by ``keys`` (all when None), in MODELS order; an unknown key is a ValueError."""
    if keys is None:
        return list(MODELS)
    known = {m.key for m in MODELS}
    unknown = [k for k in keys if k not in known]
    if unknown:
        raise ValueError(f"unknown model(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
    return [m for m in MODELS if m.key in keys]
