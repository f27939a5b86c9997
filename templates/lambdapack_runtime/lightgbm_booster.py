"""A native ``lightgbm.Booster`` (``model import model.txt``) answering like LightGBM's scikit-learn wrappers.

The booster's objective says the task: ``binary``, ``multiclass`` and ``multiclassova`` classify
(the classes are 0, 1, ... as the booster's labels were), every other objective regresses.
``predict`` gives the class of highest probability (the first on a tie, as ``LGBMClassifier``
does) or the booster's prediction, ``predict_proba`` the probability of each class,
``decision_function`` the raw scores. The iterations used are the booster's own choice
(``best_iteration`` when it has one), as ``Booster.predict`` makes it.
"""

from __future__ import annotations

CLASSIFIERS = ("binary", "multiclass", "multiclassova")
RANKERS = ("lambdarank", "rank_xendcg")  # scores that order a query's rows: no prediction to serve


def objective_of(booster: object) -> str:
    """The objective's canonical name as the model states it (``binary``, ``regression``, ``custom``, ...)."""
    return str(booster.dump_model(num_iteration=1).get("objective") or "custom").split()[0]


class _Booster:
    adapts = "lightgbm.Booster"  # the compiler's registry key for what this wraps

    def __init__(self, booster: object) -> None:
        self.booster = booster
        self.objective = objective_of(booster)
        self.n_features_in_ = int(booster.num_feature())
        names = [str(n) for n in booster.feature_name()]
        # LightGBM names unnamed columns Column_0, Column_1, ...: those are no names a request should use
        if names != [f"Column_{i}" for i in range(len(names))]:
            import numpy as np

            self.feature_names_in_ = np.array(names, dtype=object)

    def decision_function(self, X: object) -> object:
        return self.booster.predict(X, raw_score=True)

    def get_params(self, deep: bool = False) -> dict:
        return {"objective": self.objective, "num_trees": int(self.booster.num_trees()),
                "num_model_per_iteration": int(self.booster.num_model_per_iteration())}


class BoosterClassifier(_Booster):
    task = "classification"
    _estimator_type = "classifier"

    def __init__(self, booster: object) -> None:
        super().__init__(booster)
        import numpy as np

        width = int(booster.num_model_per_iteration())
        self.classes_ = np.arange(2 if width == 1 else width)

    def predict_proba(self, X: object) -> object:
        import numpy as np

        result = self.booster.predict(X)
        if result.ndim == 1:
            return np.vstack((1.0 - result, result)).transpose()
        return result

    def predict(self, X: object) -> object:
        import numpy as np

        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]


class BoosterRegressor(_Booster):
    _estimator_type = "regressor"

    def __init__(self, booster: object) -> None:
        super().__init__(booster)
        self.task = "ranking" if self.objective in RANKERS else "regression"

    def predict(self, X: object) -> object:
        return self.booster.predict(X)


def adapt(booster: object) -> _Booster:
    """The classifier or regressor a booster's objective makes it."""
    return (BoosterClassifier if objective_of(booster) in CLASSIFIERS else BoosterRegressor)(booster)
