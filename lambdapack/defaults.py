"""The Lambda function settings lambdapack uses when the user gives none, and Lambda's bounds for them.

``package`` writes the handler under this name, the emulator (``invoke --local``, ``serve``)
runs it with this memory and timeout, and ``deploy``/``export sam`` configure the function the
same way; every command's options take their defaults from here.
"""

from __future__ import annotations

HANDLER_MODULE = "lambda_function"
HANDLER_FILE = f"{HANDLER_MODULE}.py"
HANDLER = f"{HANDLER_MODULE}.lambda_handler"  # Lambda's MODULE.FUNCTION

MEMORY_MB = 512  # enough for the iris forest with scikit-learn imported; large forests want 1024-2048
TIMEOUT_S = 30  # room for a cold start that imports scikit-learn (about 1-2 s) many times over

# What Lambda accepts (AWS documentation: memory in 1 MB steps, timeout in whole seconds).
MEMORY_RANGE_MB = (128, 10240)
TIMEOUT_RANGE_S = (1, 900)
