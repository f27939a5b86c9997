"""A faithful local Lambda without Docker.

- :mod:`~lambdapack.emulator.runtime_api`: lambdapack's own Lambda Runtime API server.
- :mod:`~lambdapack.emulator.process`: one sandbox (server + runtime child process); ``_bootstrap``
  is what that child runs.
- :mod:`~lambdapack.emulator.invoker`: Lambda's invoke semantics (init, warm, timeout, memory, reports).
- :mod:`~lambdapack.emulator.code`: the task root and ``/opt`` on disk, and whether this machine can run the layers.
- :mod:`~lambdapack.emulator.ric`: awslambdaric for the layer's Python, fetched once and cached.
- :mod:`~lambdapack.emulator.session`: from zip files to a running function (``invoke_local``).
- :mod:`~lambdapack.emulator.gateway`: the API Gateway (and ALB) front of ``serve``: its events
  (:mod:`~lambdapack.emulator.http_events`), responses (:mod:`~lambdapack.emulator.http_responses`),
  HTTP server (:mod:`~lambdapack.emulator.http_server`) and pool of runtimes (:mod:`~lambdapack.emulator.pool`).
"""

from lambdapack.emulator.invoker import InvokeResult, LocalFunction
from lambdapack.emulator.session import LocalFunctionSpec, LocalInvokeReport, invoke_local, open_function

__all__ = ["InvokeResult", "LocalFunction", "LocalFunctionSpec", "LocalInvokeReport", "invoke_local", "open_function"]
