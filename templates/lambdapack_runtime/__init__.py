"""lambdapack's runtime: what serves the model inside the function (standard library only)."""
