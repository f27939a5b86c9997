"""The predictor compiler: runs inside the model's own libraries (this Python's, or a layer's).

Front ends (one module per model family, listed in :mod:`.registry`) turn a fitted estimator
into the predictor's tables; :mod:`.proof` builds the probe rows and compares the predictor with
the estimator; :mod:`.entry` joins them. Nothing here imports lambdapack: the package is loaded
by file into an interpreter that holds only the model's libraries and the stdlib runtime
``lambdapack_runtime`` (see :mod:`lambdapack.layer_python`).
"""
