"""Which front end compiles which step or estimator: the one table a new model family is added to.

Pure data, importable without numpy. Keys are ``library.ClassName`` (the class's top-level
package and name: ``sklearn.RandomForestClassifier``, ``xgboost.XGBClassifier``). ``STEPS`` name
modules with ``lower(step, columns, facts) -> (spec, columns)`` (:mod:`.scalers` is the model);
``MODELS`` name modules with ``export(estimator, task) -> Export`` (:mod:`.forest` is the model).
Adding a model family is one such module, its tests, and its line here.
"""

from __future__ import annotations

STEPS = {
    "sklearn.StandardScaler": "scalers", "sklearn.MinMaxScaler": "scalers",
    "sklearn.MaxAbsScaler": "scalers", "sklearn.RobustScaler": "scalers",
    "sklearn.SimpleImputer": "imputers",
    "sklearn.OneHotEncoder": "encoders", "sklearn.OrdinalEncoder": "encoders",
}

MODELS = {
    "sklearn.DecisionTreeClassifier": "forest", "sklearn.ExtraTreeClassifier": "forest",
    "sklearn.DecisionTreeRegressor": "forest", "sklearn.ExtraTreeRegressor": "forest",
    "sklearn.RandomForestClassifier": "forest", "sklearn.ExtraTreesClassifier": "forest",
    "sklearn.RandomForestRegressor": "forest", "sklearn.ExtraTreesRegressor": "forest",
    "sklearn.GradientBoostingClassifier": "gradient_boosting", "sklearn.GradientBoostingRegressor": "gradient_boosting",
    "sklearn.HistGradientBoostingClassifier": "hist_gradient_boosting",
    "sklearn.HistGradientBoostingRegressor": "hist_gradient_boosting",
    **{f"sklearn.{name}": "linear" for name in (
        "LogisticRegression", "LogisticRegressionCV", "SGDClassifier", "LinearSVC", "RidgeClassifier",
        "RidgeClassifierCV", "LinearRegression", "Ridge", "RidgeCV", "Lasso", "LassoCV", "ElasticNet",
        "ElasticNetCV", "SGDRegressor", "LinearSVR")},
    "xgboost.XGBClassifier": "xgboost", "xgboost.XGBRegressor": "xgboost",
    "xgboost.XGBRFClassifier": "xgboost", "xgboost.XGBRFRegressor": "xgboost",
    "xgboost.Booster": "xgboost",  # a native model file, through lambdapack_runtime.xgboost_booster
    "lightgbm.LGBMClassifier": "lightgbm", "lightgbm.LGBMRegressor": "lightgbm", "lightgbm.Booster": "lightgbm",
}

COMPOSITES = ("Pipeline", "ColumnTransformer")


def key(cls: type) -> str:
    """The registry's name for a class: ``sklearn.StandardScaler``; a runtime adapter's is the class it ``adapts``."""
    return getattr(cls, "adapts", None) or f"{cls.__module__.split('.')[0]}.{cls.__name__}"
