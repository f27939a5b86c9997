"""``serve``: an API Gateway front on 127.0.0.1 over a pool of warm local runtimes.

Each HTTP request becomes an HTTP API event (payload format 2.0, the ``$default`` route), a
REST API proxy event (``1.0``) or an ALB target group event (:mod:`.http_events`); the
function's answer goes back the way that front maps it (:mod:`.http_responses`). A function
error answers 500 (2.0) or 502 and the runtime is replaced for the next request. Requests are
read and answered by :mod:`.http_server`, one thread per connection, and run on a
:class:`~.pool.FunctionPool` of warm runtimes.
"""

from __future__ import annotations

import contextlib
import errno
import signal
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from types import FrameType

from lambdapack.emulator.http_events import PAYLOAD_VERSIONS
from lambdapack.emulator.http_server import GatewayHandler, GatewayServer
from lambdapack.emulator.invoker import LocalFunction, LogSink, stderr_sink
from lambdapack.emulator.pool import FunctionPool
from lambdapack.emulator.session import LocalFunctionSpec, prepare
from lambdapack.errors import EmulatorError

DEFAULT_READ_TIMEOUT = 10.0  # seconds a request (headers and body) may take to arrive


@dataclass(frozen=True)
class ServeInfo:
    url: str
    port: int
    concurrency: int
    payload_version: str
    runtime: str
    python: str
    init_errors: tuple[str, ...]
    read_timeout: float = DEFAULT_READ_TIMEOUT


class Gateway:
    """A running ``serve``: HTTP server thread + function pool (use as a context manager)."""

    def __init__(self, pool: FunctionPool | None, host: str, port: int, payload_version: str,
                 log_sink: LogSink, read_timeout: float = DEFAULT_READ_TIMEOUT) -> None:
        self.pool: FunctionPool = pool  # type: ignore[assignment]  # set before start()
        self.payload_version = payload_version
        self.read_timeout = read_timeout
        self._sink = log_sink
        self._lock = threading.Lock()
        self._closed = False
        try:
            self._server = GatewayServer((host, port), GatewayHandler)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise EmulatorError(f"port {port} on {host} is already in use",
                                    hint="choose another with --port, or stop the program listening there") from None
            if exc.errno == errno.EACCES:
                raise EmulatorError(f"not allowed to listen on port {port}",
                                    hint="ports below 1024 need privileges; use --port 3000") from None
            raise EmulatorError(f"cannot listen on {host}:{port}: {exc.strerror or exc}",
                                hint="choose another --port") from None
        self._server.gateway = self
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.2},
                                        name="lambdapack-serve", daemon=True)

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log(self, line: str) -> None:
        with self._lock:
            self._sink(line.encode())

    def start(self) -> Gateway:
        self._thread.start()
        return self

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._thread.is_alive():
            self._server.shutdown()
        self._server.server_close()
        if self.pool is not None:
            self.pool.close()


class StopSignals:
    """SIGINT (Ctrl-C) and SIGTERM as a request to stop ``serve``; a context manager for the main thread.

    Installed whatever the process inherited: a program started as a background job of a
    non-interactive shell (``lambdapack serve &`` in a script) inherits SIGINT *ignored*, and
    Python leaves it so; such a ``serve`` never stopped on Ctrl-C or ``kill -INT``. While the
    runtimes start, SIGINT still raises KeyboardInterrupt (nothing to wait for); once
    :meth:`wait` runs, a signal only records itself and :meth:`wait` returns within ``poll_s``.
    The handler takes no lock: one that set a ``threading.Event`` could find the main thread
    holding that event's lock inside ``Event.wait`` and wait for itself forever.
    """

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self, poll_s: float = 0.2) -> None:
        self._poll_s = poll_s
        self._serving = False
        self._received: list[int] = []
        self._previous: dict[int, object] = {}

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if signum == signal.SIGINT and not self._serving:
            raise KeyboardInterrupt
        self._received.append(signum)

    def __enter__(self) -> StopSignals:
        self._previous = {sig: signal.signal(sig, self._handle) for sig in self.SIGNALS}
        return self

    def __exit__(self, *exc: object) -> None:
        for sig, previous in self._previous.items():
            signal.signal(sig, previous)  # type: ignore[arg-type]

    def serving(self) -> None:
        """From now on a signal asks to stop instead of interrupting: the runtimes are up."""
        self._serving = True

    def wait(self) -> int:
        """Block until SIGINT or SIGTERM arrives (or has arrived); the signal's number."""
        self.serving()
        while not self._received:
            time.sleep(self._poll_s)
        return self._received[0]


@contextlib.contextmanager
def start_gateway(spec: LocalFunctionSpec, *, port: int = 3000, concurrency: int = 1, payload_version: str = "2.0",
                  host: str = "127.0.0.1", log_sink: LogSink | None = None,
                  read_timeout: float = DEFAULT_READ_TIMEOUT) -> Iterator[tuple[Gateway, ServeInfo]]:
    """Serve ``spec`` on ``host:port`` until the context exits (``port=0`` picks a free one)."""
    if payload_version not in PAYLOAD_VERSIONS:
        raise EmulatorError(f"unknown payload format {payload_version!r}",
                            hint="choose 2.0 (HTTP API), 1.0 (REST), alb or alb-multi (ALB target group)")
    if concurrency < 1:
        raise EmulatorError(f"--concurrency {concurrency} must be at least 1", hint="use 1 or more runtimes")
    if not read_timeout > 0:
        raise EmulatorError(f"--read-timeout {read_timeout:g} must be more than 0 seconds",
                            hint=f"the default is {DEFAULT_READ_TIMEOUT:g}")
    sink_lock = threading.Lock()
    base_sink = log_sink or stderr_sink

    def sink(data: bytes) -> None:
        with sink_lock:
            base_sink(data)

    # bind first: a port in use should fail before any runtime starts
    gateway = Gateway(None, host, port, payload_version, sink, read_timeout)
    try:
        with prepare(spec) as prepared:
            pool = FunctionPool([LocalFunction(prepared.config, sink) for _ in range(concurrency)])
            gateway.pool = pool
            outcomes = pool.warm()
            errors = tuple(sorted({o.status for o in outcomes if o is not None and o.status != "ready"}))
            gateway.start()
            info = ServeInfo(url=gateway.url, port=gateway.port, concurrency=concurrency,
                             payload_version=payload_version, runtime=prepared.config.runtime,
                             python=prepared.python_full_version, init_errors=errors, read_timeout=read_timeout)
            try:
                yield gateway, info
            finally:
                gateway.close()  # runtimes stop before their task root goes away
    finally:
        gateway.close()
