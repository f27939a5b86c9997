"""Which front end compiles which step or estimator: the one table a new model family is added to.

Pure data, importable without numpy: ``lambdapack.predictor.build`` reads it to say early that a
model is not covered. ``STEPS`` name modules with ``lower(step, columns, facts) -> (spec,
columns)``; ``MODELS`` name modules with ``export(estimator, task) -> Export``.
"""

from __future__ import annotations

STEPS = {
    "StandardScaler": "scalers", "MinMaxScaler": "scalers", "MaxAbsScaler": "scalers", "RobustScaler": "scalers",
    "SimpleImputer": "imputers",
    "OneHotEncoder": "encoders", "OrdinalEncoder": "encoders",
}

MODELS = {
    "DecisionTreeClassifier": "forest", "ExtraTreeClassifier": "forest",
    "DecisionTreeRegressor": "forest", "ExtraTreeRegressor": "forest",
    "RandomForestClassifier": "forest", "ExtraTreesClassifier": "forest",
    "RandomForestRegressor": "forest", "ExtraTreesRegressor": "forest",
    "GradientBoostingClassifier": "gradient_boosting", "GradientBoostingRegressor": "gradient_boosting",
    "HistGradientBoostingClassifier": "hist_gradient_boosting",
    "HistGradientBoostingRegressor": "hist_gradient_boosting",
}

COMPOSITES = ("Pipeline", "ColumnTransformer")
