"""The HTTP/1.1 side of ``serve``: read a request, hand it to the front's pool, write the answer.

One thread per connection (keep-alive, TCP_NODELAY). The front itself answers, with API
Gateway's JSON ``{"message": ...}`` shape and never http.server's HTML pages: a body declared
as text that is not UTF-8 (400), a body over the invoke limit (413), too many or too long
header lines (431), and a client that stops sending mid-request (408, after the gateway's
``read_timeout`` seconds: a stalled client must not hold a connection thread forever).

What answering needs of the running front is :class:`Front`; :class:`~.gateway.Gateway` is the
one ``serve`` runs.
"""

from __future__ import annotations

import json
import socket
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Protocol

from lambdapack.emulator.http_events import HttpRequest, NotUtf8Error, event_for
from lambdapack.emulator.http_responses import HttpResponse, gateway_error, proxy_response
from lambdapack.errors import LambdapackError

if TYPE_CHECKING:
    from lambdapack.emulator.pool import FunctionPool

MAX_REQUEST_BYTES = 6 * 1024 * 1024  # the Lambda invoke limit is the tighter one


class Front(Protocol):
    """What the handler asks of the front it serves: the event shape, the read deadline, the runtimes, the log."""

    payload_version: str  # the event a request becomes (http_events.PAYLOAD_VERSIONS)
    read_timeout: float  # seconds a request's headers and body may take to arrive
    pool: FunctionPool  # the warm runtimes that answer

    def log(self, line: str) -> None: ...


class GatewayHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: GatewayServer

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        # bounds every wait for the client, the request line of a kept-alive connection included
        self.connection.settimeout(self.server.gateway.read_timeout)

    def log_message(self, format: str, *args: object) -> None:
        """Requests are logged once, with their outcome, in :meth:`_handle`."""

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """http.server's own refusals (bad request line, 431, 414, 501...) as API Gateway's JSON."""
        phrase = message or (self.responses.get(code, ("Error",))[0])
        self.close_connection = True
        if not hasattr(self, "command") or self.command is None:
            self.command = ""  # a request line too broken to name a method still gets a body
        self._send(gateway_error(code, phrase))
        self.server.gateway.log(f"{self.client_address[0]} {self.command or '-'} {getattr(self, 'path', '-')} "
                                f"-> {code} ({phrase})\n")

    def parse_request(self) -> bool:
        self._deadline = time.monotonic() + self.server.gateway.read_timeout
        try:
            return super().parse_request()
        except TimeoutError:  # headers stopped arriving
            self.send_error(408, "Request Timeout")
            return False

    def _wait_budget(self) -> None:
        """Shrink the socket timeout to what is left of this request's read deadline."""
        remaining = self._deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("the request took longer than the read timeout")
        self.connection.settimeout(remaining)

    def _read_exact(self, length: int) -> bytes:
        chunks: list[bytes] = []
        while length > 0:
            self._wait_budget()
            chunk = self.rfile.read1(min(length, 1 << 16))
            if not chunk:
                raise ConnectionResetError("the client closed the connection mid-body")
            chunks.append(chunk)
            length -= len(chunk)
        return b"".join(chunks)

    def _read_body(self) -> bytes | None:
        """The request body; None past the size limit. Raises ValueError, TimeoutError, OSError."""
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            return self._read_chunked()
        length = int(self.headers.get("Content-Length") or 0)
        if length < 0:
            raise ValueError(length)
        if length > MAX_REQUEST_BYTES:
            return None
        return self._read_exact(length) if length else b""

    def _handle(self) -> None:
        started = time.perf_counter()
        gateway = self.server.gateway
        try:
            body = self._read_body()
        except ValueError:  # a malformed length or chunk size
            self.close_connection = True
            self._send(gateway_error(400, "Bad Request"))
            return
        except TimeoutError:
            self.close_connection = True
            self._send(gateway_error(408, "Request Timeout"))
            gateway.log(f"{self.client_address[0]} {self.command} {self.path} -> 408 (no complete body within "
                        f"{gateway.read_timeout:g} s)\n")
            return
        finally:
            self.connection.settimeout(gateway.read_timeout)
        if body is None:
            self.close_connection = True
            self._send(gateway_error(413, "Request Entity Too Large"))
            return
        request = HttpRequest(self.command, self.path, tuple(self.headers.items()), body,
                              source_ip=self.client_address[0], host=self.headers.get("Host") or "localhost")
        try:
            event = event_for(request, gateway.payload_version)
        except NotUtf8Error as exc:
            self._send(gateway_error(400, f"Bad Request: {exc}"))
            gateway.log(f"{self.client_address[0]} {self.command} {request.path} -> 400 (body not UTF-8)\n")
            return
        try:
            result = gateway.pool.invoke(json.dumps(event).encode())
        except LambdapackError as exc:  # the runtime could not even start: keep serving, say why
            self._send(gateway_error(500, "Internal Server Error"))
            gateway.log(f"{self.client_address[0]} {self.command} {request.path} -> 500 (error: {exc.message})\n")
            return
        response = proxy_response(result, gateway.payload_version)
        self._send(response)
        ms = (time.perf_counter() - started) * 1000
        gateway.log(f"{self.client_address[0]} {self.command} {request.path} -> {response.status} "
                    f"({ms:.1f} ms{', ' + str(result.error_type) if result.error_type else ''})\n")

    def _read_chunked(self) -> bytes | None:
        """A ``Transfer-Encoding: chunked`` body, or None past the size limit."""
        chunks: list[bytes] = []
        total = 0
        while True:
            self._wait_budget()
            size = int(self.rfile.readline(1024).split(b";", 1)[0].strip() or b"0", 16)
            if size < 0:
                raise ValueError(size)
            if size == 0:
                self._wait_budget()
                while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                    self._wait_budget()  # trailers
                return b"".join(chunks)
            total += size
            if total > MAX_REQUEST_BYTES:
                return None
            chunks.append(self._read_exact(size))
            self._wait_budget()
            self.rfile.readline(3)

    def _send(self, response: HttpResponse) -> None:
        self.send_response(response.status)
        for key, value in response.headers:
            if key.lower() not in ("content-length", "connection", "transfer-encoding"):
                self.send_header(key, value)
        self.send_header("Content-Length", str(len(response.body)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(response.body)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = do_HEAD = _handle


class GatewayServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = False  # a port in use must be an error, not a silent second listener
    gateway: Front

    def handle_error(self, request: object, client_address: object) -> None:
        import sys

        if isinstance(sys.exc_info()[1], OSError):  # client went away
            return
        super().handle_error(request, client_address)

