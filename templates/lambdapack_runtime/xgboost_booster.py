"""XGBoost's own ``Booster`` (a model imported from its JSON or UBJSON file), answering like its scikit-learn wrappers.

``model import model.json`` pickles the native booster; on the estimator path the handler wraps
it here (:mod:`.adapters`) so that it answers as ``XGBClassifier`` / ``XGBRegressor`` would with
that booster inside: ``predict`` (class labels, or values), ``predict(X, output_margin=True)``,
``predict_proba``, ``classes_`` (``0 .. n-1``), the trees of ``best_iteration`` when the model
was trained with early stopping, NaN as the missing value and pandas categories as XGBoost reads
them. The task comes from the objective: ``binary:*`` and ``multi:*`` classify, the rest regress.
Imported only when such a model is served (numpy and xgboost come from the layer).
"""

from __future__ import annotations

import json

CLASSIFYING = ("binary:", "multi:")


class BoosterRegressor:
    """A booster whose objective regresses (or ranks, or counts): ``predict`` gives its values."""

    adapts = "xgboost.Booster"  # the compiler's registry reads the booster through this adapter

    def __init__(self, booster: object, objective: str) -> None:
        self.booster = booster
        self.objective = objective
        self.n_features_in_ = int(booster.num_features())
        names = booster.feature_names
        if names:
            import numpy as np

            self.feature_names_in_ = np.array(names, dtype=object)
        self.feature_types = booster.feature_types
        self.enable_categorical = "c" in (booster.feature_types or ())
        self.missing = float("nan")
        best = booster.attr("best_iteration")
        if best is not None:  # early stopping: XGBModel predicts with the trees up to it
            self.best_iteration = int(best)

    def get_booster(self) -> object:
        return self.booster

    def get_params(self, deep: bool = False) -> dict:
        return {"objective": self.objective, "booster": self.booster_kind(),
                "n_estimators": int(self.booster.num_boosted_rounds())}

    def booster_kind(self) -> str:
        return json.loads(self.booster.save_config())["learner"]["gradient_booster"]["name"]

    def _iteration_range(self) -> tuple[int, int]:
        best = getattr(self, "best_iteration", None)
        return (0, best + 1) if best is not None else (0, 0)

    def predict(self, X: object, output_margin: bool = False) -> object:
        return self.booster.inplace_predict(X, iteration_range=self._iteration_range(), missing=self.missing,
                                            predict_type="margin" if output_margin else "value")


class BoosterClassifier(BoosterRegressor):
    """A booster whose objective classifies: labels and probabilities as XGBClassifier gives them."""

    def __init__(self, booster: object, objective: str, n_classes: int) -> None:
        super().__init__(booster, objective)
        import numpy as np

        self.n_classes_ = n_classes
        self.classes_ = np.arange(n_classes)

    def predict(self, X: object, output_margin: bool = False) -> object:
        import numpy as np

        values = super().predict(X, output_margin)
        if output_margin:
            return values
        if values.ndim > 1:  # multi:softprob
            return np.argmax(values, axis=1)
        if self.objective == "multi:softmax":  # the booster gives the class itself
            return values.astype(np.int32)
        return (values > 0.5).astype(np.int64)

    def predict_proba(self, X: object) -> object:
        import numpy as np

        if self.objective == "multi:softmax":
            from scipy.special import softmax

            return softmax(super().predict(X, output_margin=True), axis=1)
        values = super().predict(X)
        if values.ndim > 1:
            return values
        return np.vstack((1.0 - values, values)).transpose()


def adapt(booster: object) -> BoosterRegressor:
    """The adapter for ``booster``, chosen by its objective."""
    learner = json.loads(booster.save_config())["learner"]
    objective = str(learner["objective"]["name"])
    if not objective.startswith(CLASSIFYING):
        return BoosterRegressor(booster, objective)
    n_classes = int(learner["learner_model_param"].get("num_class") or 0)
    return BoosterClassifier(booster, objective, n_classes if n_classes >= 2 else 2)
