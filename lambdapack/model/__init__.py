"""Training, importing and describing models (``model.joblib`` + its ``model.json`` manifest)."""
