"""What lambdapack uses when the user gives nothing else: the function's settings, Lambda's bounds
for them, and where each command's artifacts go.

``package`` writes the handler under this name, the emulator (``invoke --local``, ``serve``)
runs it with this memory and timeout, and ``deploy``/``export sam`` configure the function the
same way; every command's options take their defaults from here. The artifacts follow one
another through the same paths: ``train`` and ``model import`` write :data:`MODEL_DIR`,
``package`` reads it and writes :data:`FUNCTION_ZIP`, which ``invoke``, ``serve``, ``deploy`` and
``export sam`` read; layers are :func:`layer_zip` in :data:`DIST_DIR`.
"""

from __future__ import annotations

from pathlib import Path

HANDLER_MODULE = "lambda_function"
HANDLER_FILE = f"{HANDLER_MODULE}.py"
HANDLER = f"{HANDLER_MODULE}.lambda_handler"  # Lambda's MODULE.FUNCTION
PREDICT_PATH = "/predict"  # the handler's prediction route behind an API (GET /health is the other)

MEMORY_MB = 512  # enough for the iris forest with scikit-learn imported; large forests want 1024-2048
TIMEOUT_S = 30  # room for a cold start that imports scikit-learn (about 1-2 s) many times over

# What Lambda accepts (AWS documentation: memory in 1 MB steps, timeout in whole seconds).
MEMORY_RANGE_MB = (128, 10240)
TIMEOUT_RANGE_S = (1, 900)

# Where the artifacts go, relative to the directory a command runs in.
MODEL_DIR = Path("build/model")  # model.joblib + model.json
DIST_DIR = Path("dist")
FUNCTION_ZIP = DIST_DIR / "function.zip"


def layer_zip(label: str, dist: Path = DIST_DIR) -> Path:
    """``dist/layer-<label>.zip``, where ``label`` is a target's ``<runtime>-<arch>``."""
    return dist / f"layer-{label}.zip"
