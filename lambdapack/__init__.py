"""lambdapack: from a scikit-learn model to a prediction API on AWS Lambda."""

__version__ = "0.1.0"
