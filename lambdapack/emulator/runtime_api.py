"""lambdapack's own Lambda Runtime API (version 2018-06-01) on 127.0.0.1.

One server per sandbox, like Lambda: the runtime in the child process long-polls
``GET /2018-06-01/runtime/invocation/next``, answers with ``POST .../{id}/response`` or
``.../{id}/error``, and reports a failed init with ``POST /2018-06-01/runtime/init/error``.
The invoker side (:meth:`RuntimeAPIServer.submit`) hands over one event at a time and gets
back an :class:`Invocation` whose ``done`` event fires when the runtime answers.

Every accepted socket gets TCP_NODELAY: the runtime writes a request in two segments
(headers, then body) and waits for the answer, so Nagle + delayed ACK would add ~40-80 ms
to every round trip; with it a warm round trip costs a fraction of a millisecond.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import re
import socket
import threading
import time
import uuid
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

API_VERSION = "2018-06-01"
PREFIX = f"/{API_VERSION}/runtime"
# Lambda's synchronous invocation payload limit, both ways (6 MB).
MAX_PAYLOAD = 6 * 1024 * 1024
ERROR_TYPE_HEADER = "Lambda-Runtime-Function-Error-Type"

_INVOCATION_PATH = re.compile(rf"^{PREFIX}/invocation/(?P<id>[^/]+)/(?P<kind>response|error)$")


@dataclass
class Invocation:
    """One event handed to the runtime, and what the runtime answered."""

    payload: bytes
    deadline_ms: int
    function_arn: str
    request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    trace_id: str = ""
    client_context: str | None = None
    cognito_identity: str | None = None
    done: threading.Event = field(default_factory=threading.Event)
    # set by the server when the runtime answers
    outcome: str | None = None  # "response" | "error" | "too-large"
    body: bytes = b""
    content_type: str = "application/json"
    error_type: str | None = None
    delivered_at: float | None = None  # perf_counter when /next handed it out
    completed_at: float | None = None  # perf_counter when the runtime answered

    def __post_init__(self) -> None:
        if not self.trace_id:
            # X-Ray's format: Root=1-<8 hex epoch seconds>-<24 hex>;Parent=<16 hex>;Sampled=0
            random_hex = os.urandom(20).hex()
            self.trace_id = (f"Root=1-{int(time.time()):08x}-{random_hex[:24]};"
                             f"Parent={random_hex[24:]};Sampled=0;Lineage=local")

    def headers(self) -> dict[str, str]:
        out = {
            "Lambda-Runtime-Aws-Request-Id": self.request_id,
            "Lambda-Runtime-Deadline-Ms": str(self.deadline_ms),
            "Lambda-Runtime-Invoked-Function-Arn": self.function_arn,
            "Lambda-Runtime-Trace-Id": self.trace_id,
        }
        if self.client_context is not None:
            out["Lambda-Runtime-Client-Context"] = self.client_context
        if self.cognito_identity is not None:
            out["Lambda-Runtime-Cognito-Identity"] = self.cognito_identity
        return out


@dataclass(frozen=True)
class InitError:
    """What the runtime posted to ``/init/error``."""

    error_type: str
    body: bytes


class _Headers(dict[str, str]):
    """Request headers with case-insensitive ``get`` (names stored lower-cased)."""

    def get(self, name: str, default: str | None = None) -> str | None:  # type: ignore[override]
        return super().get(name.lower(), default)


class _Handler(BaseHTTPRequestHandler):
    # keep-alive: the runtime client reuses one connection for next/response
    protocol_version = "HTTP/1.1"
    server: _Server

    def parse_request(self) -> bool:
        """A lean parser for the runtime client's simple requests.

        The stdlib one builds an ``email.message`` per request, a tenth of a millisecond
        on the path of every response; the Runtime API only needs a few plain headers.
        """
        parts = self.raw_requestline.decode("iso-8859-1").split()
        if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
            self.request_version = "HTTP/1.0"
            self.close_connection = True
            self.send_error(HTTPStatus.BAD_REQUEST)
            return False
        self.command, self.path, self.request_version = parts
        headers = _Headers()
        for _ in range(100):
            raw = self.rfile.readline(65537)
            if raw in (b"\r\n", b"\n", b""):
                break
            name, _, value = raw.decode("iso-8859-1").partition(":")
            headers[name.strip().lower()] = value.strip()
        self.headers = headers  # type: ignore[assignment]
        connection = (headers.get("connection") or "").lower()
        self.close_connection = connection == "close" or (self.request_version == "HTTP/1.0"
                                                          and connection != "keep-alive")
        return True

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: object) -> None:
        """The runtime's traffic is not the user's business; errors surface as invoke results."""

    def _reply(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None,
               content_type: str = "application/json") -> None:
        self.send_response_only(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def _reply_json(self, status: int, document: dict[str, object]) -> None:
        self._reply(status, json.dumps(document).encode())

    def _read_body(self, limit: int) -> bytes | None:
        """The request body, or None (after draining it) when it exceeds ``limit``."""
        length = int(self.headers.get("Content-Length") or 0)
        if length > limit:
            remaining = length
            while remaining > 0:
                chunk = self.rfile.read(min(remaining, 1 << 16))
                if not chunk:
                    break
                remaining -= len(chunk)
            return None
        return self.rfile.read(length) if length else b""

    def do_GET(self) -> None:
        if self.path != f"{PREFIX}/invocation/next":
            self._reply_json(HTTPStatus.NOT_FOUND, {"errorMessage": f"unknown path {self.path}",
                                                    "errorType": "InvalidPath"})
            return
        invocation = self.server.api.next_invocation()
        if invocation is None:  # the server is shutting down; the runtime is about to be killed
            self._reply_json(HTTPStatus.GONE, {"errorMessage": "runtime is shutting down",
                                               "errorType": "Runtime.Shutdown"})
            return
        self._reply(HTTPStatus.OK, invocation.payload, invocation.headers())

    def do_POST(self) -> None:
        api = self.server.api
        if self.path == f"{PREFIX}/init/error":
            body = self._read_body(MAX_PAYLOAD) or b""
            api.record_init_error(InitError(self.headers.get(ERROR_TYPE_HEADER) or "Runtime.Unknown", body))
            self._reply_json(HTTPStatus.ACCEPTED, {"status": "OK"})
            return
        match = _INVOCATION_PATH.match(self.path)
        if match is None:
            self._read_body(MAX_PAYLOAD)
            self._reply_json(HTTPStatus.NOT_FOUND, {"errorMessage": f"unknown path {self.path}",
                                                    "errorType": "InvalidPath"})
            return
        body = self._read_body(MAX_PAYLOAD)
        status, document = api.complete(
            match["id"], match["kind"], body,
            content_type=self.headers.get("Content-Type") or "application/json",
            error_type=self.headers.get(ERROR_TYPE_HEADER),
        )
        self._reply_json(status, document)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    api: RuntimeAPIServer

    def handle_error(self, request: object, client_address: object) -> None:
        """A runtime killed mid-request (timeout, memory) drops its socket; that is expected."""
        import sys

        exc = sys.exc_info()[1]
        if isinstance(exc, OSError):
            return
        super().handle_error(request, client_address)


class RuntimeAPIServer:
    """The Runtime API for one sandbox: at most one invocation in flight at a time."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self._server = _Server((host, 0), _Handler)
        self._server.api = self
        self._pending: queue.Queue[Invocation | None] = queue.Queue()
        self._lock = threading.Lock()
        self._in_flight: Invocation | None = None
        self._thread: threading.Thread | None = None
        self._closed = False
        # fired on the runtime's first GET /next (init finished) or on /init/error
        self.init_done = threading.Event()
        self.init_error: InitError | None = None
        self.init_finished_at: float | None = None

    @property
    def address(self) -> str:
        """``host:port``, the value of ``AWS_LAMBDA_RUNTIME_API``."""
        host, port = self._server.server_address[:2]
        return f"{host}:{port}"

    def start(self) -> RuntimeAPIServer:
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name=f"runtime-api-{self.address}", daemon=True)
        self._thread.start()
        return self

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._pending.put(None)  # release a runtime blocked in /next
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> RuntimeAPIServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- invoker side -------------------------------------------------------------------

    def submit(self, invocation: Invocation) -> Invocation:
        """Queue ``invocation`` for the runtime; wait on ``invocation.done`` for the answer."""
        with self._lock:
            if self._in_flight is not None:
                raise RuntimeError("an invocation is already in flight on this sandbox")
            self._in_flight = invocation
        self._pending.put(invocation)
        return invocation

    def abandon(self) -> None:
        """Forget the in-flight invocation (its runtime was killed); late answers get 400."""
        with self._lock:
            self._in_flight = None
        # an event the runtime never picked up must not reach the next runtime
        with contextlib.suppress(queue.Empty):
            while True:
                item = self._pending.get_nowait()
                if item is None:
                    self._pending.put(None)
                    break

    # --- runtime side (called from request threads) -------------------------------------

    def next_invocation(self) -> Invocation | None:
        if not self.init_done.is_set():
            self.init_finished_at = time.perf_counter()
            self.init_done.set()
        invocation = self._pending.get()
        if invocation is None:
            self._pending.put(None)  # keep waking any other waiter
            return None
        invocation.delivered_at = time.perf_counter()
        return invocation

    def record_init_error(self, error: InitError) -> None:
        self.init_error = error
        if self.init_finished_at is None:
            self.init_finished_at = time.perf_counter()
        self.init_done.set()

    def complete(self, request_id: str, kind: str, body: bytes | None, *, content_type: str,
                 error_type: str | None) -> tuple[int, dict[str, object]]:
        with self._lock:
            invocation = self._in_flight
            if invocation is None or invocation.request_id != request_id or invocation.outcome is not None:
                return HTTPStatus.BAD_REQUEST, {"errorMessage": f"Invalid request ID: {request_id}",
                                                "errorType": "InvalidRequestID"}
            self._in_flight = None
        invocation.completed_at = time.perf_counter()
        if body is None:
            # Lambda turns an oversized response into a function error for the caller
            invocation.outcome = "too-large"
            invocation.error_type = "Function.ResponseSizeTooLarge"
            invocation.body = b""
            invocation.done.set()
            return HTTPStatus.REQUEST_ENTITY_TOO_LARGE, {
                "errorMessage": f"Exceeded maximum allowed payload size ({MAX_PAYLOAD} bytes).",
                "errorType": "RequestEntityTooLarge"}
        invocation.outcome = kind
        invocation.body = body
        invocation.content_type = content_type
        invocation.error_type = error_type
        invocation.done.set()
        return HTTPStatus.ACCEPTED, {"status": "OK"}
