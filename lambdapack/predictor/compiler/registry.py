"""Which front end compiles which estimator: the one table a new model family is added to.

Pure data, importable without numpy: ``lambdapack.predictor.build`` reads it to say early that a
model is not covered. Each value names a module of this package whose ``export(est, task)``
returns ``(header, Tables)``.
"""

from __future__ import annotations

FRONT_ENDS = {
    "DecisionTreeClassifier": "forest", "ExtraTreeClassifier": "forest",
    "DecisionTreeRegressor": "forest", "ExtraTreeRegressor": "forest",
    "RandomForestClassifier": "forest", "ExtraTreesClassifier": "forest",
    "RandomForestRegressor": "forest", "ExtraTreesRegressor": "forest",
    "GradientBoostingClassifier": "gradient_boosting", "GradientBoostingRegressor": "gradient_boosting",
    "HistGradientBoostingClassifier": "hist_gradient_boosting",
    "HistGradientBoostingRegressor": "hist_gradient_boosting",
}
