"""A faithful local Lambda without Docker.

- :mod:`~lambdapack.emulator.runtime_api`: lambdapack's own Lambda Runtime API server.
- :mod:`~lambdapack.emulator.process`: one sandbox (server + runtime child process).
- :mod:`~lambdapack.emulator.invoker`: Lambda's invoke semantics (init, warm, timeout, memory, reports).
- :mod:`~lambdapack.emulator.session`: from zip files to a running function (``invoke_local``).
- :mod:`~lambdapack.emulator.http`: the API Gateway front of ``serve``.
"""

from lambdapack.emulator.invoker import InvokeResult, LocalFunction
from lambdapack.emulator.session import FunctionSpec, LocalInvokeReport, invoke_local, open_function

__all__ = ["FunctionSpec", "InvokeResult", "LocalFunction", "LocalInvokeReport", "invoke_local", "open_function"]
