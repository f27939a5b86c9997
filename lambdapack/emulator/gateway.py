"""``serve``: an API Gateway front on 127.0.0.1 over a pool of warm local runtimes.

Each HTTP request becomes an HTTP API event (payload format 2.0, the ``$default`` route) or,
with ``payload="1.0"``, a REST API proxy event; the function's answer goes back the way API
Gateway maps it:

- a proxy response (``statusCode``, ``headers``, ``multiValueHeaders`` (1.0), ``cookies``
  (2.0), ``body``, ``isBase64Encoded``) becomes that HTTP response;
- with 2.0, any other JSON result becomes a ``200`` ``application/json`` response with the
  result as body; with 1.0 it is a malformed proxy response (``502``);
- a function error (exception, timeout, crash) becomes ``500 Internal Server Error`` (2.0)
  or ``502`` (1.0), and the runtime is replaced for the next request.

Like the HTTP API, a body whose content type is not textual reaches the function base64
encoded (``curl -d`` sends ``application/x-www-form-urlencoded``, which API Gateway encodes:
a handler must cope, and the local front makes sure it does).

The front itself answers, with API Gateway's JSON ``{"message": ...}`` shape and never
http.server's HTML pages: a body declared as text that is not UTF-8 (400), a body over the
invoke limit (413), too many or too long header lines (431), and a client that stops
sending mid-request (408, after ``read_timeout`` seconds: a stalled client must not hold a
connection thread forever).
"""

from __future__ import annotations

import base64
import contextlib
import errno
import json
import queue
import random
import socket
import string
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from lambdapack.emulator.invoker import InitOutcome, InvokeResult, LocalFunction, LogSink, stderr_sink
from lambdapack.emulator.process import ACCOUNT_ID
from lambdapack.emulator.session import LocalFunctionSpec, prepare
from lambdapack.errors import EmulatorError, LambdapackError

# "alb": an Application Load Balancer target group; "alb-multi": one with multi-value headers on
PAYLOAD_VERSIONS = ("2.0", "1.0", "alb", "alb-multi")
TARGET_GROUP_ARN = "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/lambdapack-local/0123456789abcdef"
MAX_REQUEST_BYTES = 6 * 1024 * 1024  # the Lambda invoke limit is the tighter one
DEFAULT_READ_TIMEOUT = 10.0  # seconds a request (headers and body) may take to arrive
_TEXT_TYPES = ("text/", "application/json", "application/xml", "application/javascript",
               "application/yaml", "application/x-yaml")


def _is_text(content_type: str | None) -> bool:
    if not content_type:
        return True
    media = content_type.split(";", 1)[0].strip().lower()
    return media.startswith(_TEXT_TYPES) or media.endswith(("+json", "+xml"))


def _request_id() -> str:
    # API Gateway's request ids are 16 base64-ish characters ending in '='
    return "".join(random.choices(string.ascii_letters + string.digits, k=15)) + "="


def _clf_time(now: float) -> str:
    return time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now))


@dataclass(frozen=True)
class HttpRequest:
    method: str
    target: str  # path and query, as received
    headers: tuple[tuple[str, str], ...]
    body: bytes
    source_ip: str = "127.0.0.1"
    host: str = "localhost"

    @property
    def path(self) -> str:
        return urlsplit(self.target).path or "/"

    @property
    def query(self) -> str:
        return urlsplit(self.target).query

    def header(self, name: str) -> str | None:
        lowered = name.lower()
        for key, value in reversed(self.headers):
            if key.lower() == lowered:
                return value
        return None


class NotUtf8Error(ValueError):
    """A body sent as text (by its content type) whose bytes are not UTF-8."""

    def __init__(self, content_type: str | None, position: int) -> None:
        declared = f"Content-Type {content_type}" if content_type else "no Content-Type"
        super().__init__(f"the request body is not UTF-8 text (byte {position}; sent with {declared}); "
                         "send UTF-8, or a binary Content-Type such as application/octet-stream")


def _body_field(request: HttpRequest, *, encode_binary_types: bool) -> tuple[str | None, bool]:
    if not request.body:
        return None, False
    if encode_binary_types and not _is_text(request.header("content-type")):
        return base64.b64encode(request.body).decode(), True
    try:
        return request.body.decode("utf-8"), False
    except UnicodeDecodeError as exc:
        raise NotUtf8Error(request.header("content-type"), exc.start) from None


def http_api_event(request: HttpRequest, now: float | None = None) -> dict[str, Any]:
    """An HTTP API (payload format 2.0) event for ``request`` on the ``$default`` route."""
    now = time.time() if now is None else now
    headers: dict[str, str] = {}
    cookies: list[str] = []
    for key, value in request.headers:
        name = key.lower()
        if name == "cookie":
            cookies.extend(part.strip() for part in value.split(";") if part.strip())
            continue
        headers[name] = f"{headers[name]},{value}" if name in headers else value
    query: dict[str, str] = {}
    for key, value in parse_qsl(request.query, keep_blank_values=True):
        query[key] = f"{query[key]},{value}" if key in query else value
    event: dict[str, Any] = {"version": "2.0", "routeKey": "$default", "rawPath": request.path,
                             "rawQueryString": request.query}
    if cookies:
        event["cookies"] = cookies
    event["headers"] = headers
    if query:
        event["queryStringParameters"] = query
    event["requestContext"] = {
        "accountId": ACCOUNT_ID, "apiId": "local", "domainName": request.host,
        "domainPrefix": request.host.split(".", 1)[0].split(":", 1)[0],
        "http": {"method": request.method, "path": request.path, "protocol": "HTTP/1.1",
                 "sourceIp": request.source_ip, "userAgent": headers.get("user-agent", "")},
        "requestId": _request_id(), "routeKey": "$default", "stage": "$default",
        "time": _clf_time(now), "timeEpoch": int(now * 1000),
    }
    body, encoded = _body_field(request, encode_binary_types=True)
    if body is not None:
        event["body"] = body
    event["isBase64Encoded"] = encoded
    return event


def rest_api_event(request: HttpRequest, now: float | None = None) -> dict[str, Any]:
    """A REST API proxy (payload format 1.0) event for ``request`` on ``/{proxy+}``."""
    now = time.time() if now is None else now
    single: dict[str, str] = {}
    multi: dict[str, list[str]] = {}
    for key, value in request.headers:
        single[key] = value
        multi.setdefault(key, []).append(value)
    query_single: dict[str, str] = {}
    query_multi: dict[str, list[str]] = {}
    for key, value in parse_qsl(request.query, keep_blank_values=True):
        query_single[key] = value
        query_multi.setdefault(key, []).append(value)
    proxy = request.path.lstrip("/")
    body, encoded = _body_field(request, encode_binary_types=False)
    return {
        "resource": "/{proxy+}", "path": request.path, "httpMethod": request.method,
        "headers": single or None, "multiValueHeaders": multi or None,
        "queryStringParameters": query_single or None, "multiValueQueryStringParameters": query_multi or None,
        "pathParameters": {"proxy": proxy} if proxy else None, "stageVariables": None,
        "requestContext": {
            "accountId": ACCOUNT_ID, "apiId": "local", "httpMethod": request.method,
            "path": f"/local{request.path}", "protocol": "HTTP/1.1", "requestId": _request_id(),
            "requestTime": _clf_time(now), "requestTimeEpoch": int(now * 1000),
            "resourcePath": "/{proxy+}", "stage": "local", "domainName": request.host,
            "identity": {"sourceIp": request.source_ip, "userAgent": single.get("User-Agent")},
        },
        "body": body, "isBase64Encoded": encoded,
    }


def alb_event(request: HttpRequest, multi_value: bool = False) -> dict[str, Any]:
    """An ALB target group event: header names lowercased, query values passed as sent (undecoded)."""
    pairs = [p.partition("=") for p in request.query.split("&") if p] if request.query else []
    body, encoded = _body_field(request, encode_binary_types=True)
    event: dict[str, Any] = {"requestContext": {"elb": {"targetGroupArn": TARGET_GROUP_ARN}},
                             "httpMethod": request.method, "path": request.path, "body": body or "",
                             "isBase64Encoded": encoded}
    if multi_value:
        headers: dict[str, list[str]] = {}
        for key, value in request.headers:
            headers.setdefault(key.lower(), []).append(value)
        query: dict[str, list[str]] = {}
        for key, _, value in pairs:
            query.setdefault(key, []).append(value)
        event.update(multiValueHeaders=headers, multiValueQueryStringParameters=query)
    else:
        event.update(headers={k.lower(): v for k, v in request.headers},
                     queryStringParameters={key: value for key, _, value in pairs})
    return event


def event_for(request: HttpRequest, payload_version: str) -> dict[str, Any]:
    """The event the front named by ``payload_version`` would send the function for ``request``."""
    if payload_version == "2.0":
        return http_api_event(request)
    if payload_version == "1.0":
        return rest_api_event(request)
    return alb_event(request, multi_value=payload_version == "alb-multi")


@dataclass(frozen=True)
class HttpResponse:
    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes


def _gateway_error(status: int, message: str) -> HttpResponse:
    return HttpResponse(status, (("Content-Type", "application/json"),), json.dumps({"message": message}).encode())


def proxy_response(result: InvokeResult, payload_version: str = "2.0") -> HttpResponse:
    """The HTTP response API Gateway (or an ALB) makes of ``result``."""
    if payload_version.startswith("alb"):
        return alb_response(result, multi_value=payload_version == "alb-multi")
    v2 = payload_version == "2.0"
    if not result.ok:
        return _gateway_error(500, "Internal Server Error") if v2 else _gateway_error(502, "Internal server error")
    payload = result.payload
    if isinstance(payload, dict) and "statusCode" in payload:
        try:
            return _from_proxy(payload, v2)
        except (TypeError, ValueError):
            pass
    elif v2:
        raw = result._raw or json.dumps(payload).encode()
        return HttpResponse(200, (("Content-Type", "application/json"),), raw)
    return _gateway_error(500, "Internal Server Error") if v2 else _gateway_error(502, "Internal server error")


def _from_proxy(payload: dict[str, Any], v2: bool) -> HttpResponse:
    status = int(payload["statusCode"])
    if not 100 <= status <= 599:
        raise ValueError(status)
    headers: list[tuple[str, str]] = []
    for key, value in (payload.get("headers") or {}).items():
        headers.append((str(key), str(value)))
    if not v2:
        for key, values in (payload.get("multiValueHeaders") or {}).items():
            headers.extend((str(key), str(v)) for v in values)
    else:
        headers.extend(("Set-Cookie", str(cookie)) for cookie in payload.get("cookies") or [])
    body = payload.get("body")
    if body is None:
        data = b""
    elif not isinstance(body, str):
        raise TypeError("body must be a string")
    elif payload.get("isBase64Encoded"):
        data = base64.b64decode(body, validate=True)
    else:
        data = body.encode("utf-8")
    if v2 and not any(k.lower() == "content-type" for k, _ in headers) and data:
        headers.append(("Content-Type", "application/json"))
    return HttpResponse(status, tuple(headers), data)


def alb_response(result: InvokeResult, multi_value: bool) -> HttpResponse:
    """What an ALB answers: the function's response if it has every field an ALB requires, else 502.

    An ALB needs ``statusCode``, ``isBase64Encoded`` and ``headers`` — or ``multiValueHeaders``
    when the target group has multi-value headers on — and answers 502 to anything less.
    """
    payload = result.payload if result.ok else None
    needed = "multiValueHeaders" if multi_value else "headers"
    if not isinstance(payload, dict) or not isinstance(payload.get("isBase64Encoded"), bool) \
            or not isinstance(payload.get(needed), dict):
        return _gateway_error(502, "Bad Gateway")
    shaped = {"statusCode": payload.get("statusCode"), "body": payload.get("body"),
              "isBase64Encoded": payload["isBase64Encoded"]}
    if multi_value:
        shaped["multiValueHeaders"] = payload["multiValueHeaders"]
    else:
        shaped["headers"] = payload["headers"]
    try:
        return _from_proxy(shaped, v2=False)
    except (TypeError, ValueError):
        return _gateway_error(502, "Bad Gateway")


class FunctionPool:
    """``size`` warm runtimes of one function; a request leases one, waiting if all are busy."""

    def __init__(self, functions: list[LocalFunction]) -> None:
        self._all = functions
        self._idle: queue.Queue[LocalFunction] = queue.Queue()
        for function in functions:
            self._idle.put(function)

    @property
    def size(self) -> int:
        return len(self._all)

    def warm(self) -> list[InitOutcome | None]:
        outcomes: list[InitOutcome | None] = [None] * len(self._all)

        def start(i: int) -> None:
            outcomes[i] = self._all[i].warm()

        threads = [threading.Thread(target=start, args=(i,), daemon=True) for i in range(len(self._all))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        return outcomes

    @contextlib.contextmanager
    def lease(self) -> Iterator[LocalFunction]:
        function = self._idle.get()
        try:
            yield function
        finally:
            self._idle.put(function)

    def invoke(self, event: bytes) -> InvokeResult:
        with self.lease() as function:
            return function.invoke(event)

    def close(self) -> None:
        for function in self._all:
            function.close()


class _GatewayHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _GatewayServer

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
        self._send(_gateway_error(code, phrase))
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
            self._send(_gateway_error(400, "Bad Request"))
            return
        except TimeoutError:
            self.close_connection = True
            self._send(_gateway_error(408, "Request Timeout"))
            gateway.log(f"{self.client_address[0]} {self.command} {self.path} -> 408 (no complete body within "
                        f"{gateway.read_timeout:g} s)\n")
            return
        finally:
            self.connection.settimeout(gateway.read_timeout)
        if body is None:
            self.close_connection = True
            self._send(_gateway_error(413, "Request Entity Too Large"))
            return
        request = HttpRequest(self.command, self.path, tuple(self.headers.items()), body,
                              source_ip=self.client_address[0], host=self.headers.get("Host") or "localhost")
        try:
            event = event_for(request, gateway.payload_version)
        except NotUtf8Error as exc:
            self._send(_gateway_error(400, f"Bad Request: {exc}"))
            gateway.log(f"{self.client_address[0]} {self.command} {request.path} -> 400 (body not UTF-8)\n")
            return
        try:
            result = gateway.pool.invoke(json.dumps(event).encode())
        except LambdapackError as exc:  # the runtime could not even start: keep serving, say why
            self._send(_gateway_error(500, "Internal Server Error"))
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


class _GatewayServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = False  # a port in use must be an error, not a silent second listener
    gateway: Gateway

    def handle_error(self, request: object, client_address: object) -> None:
        import sys

        if isinstance(sys.exc_info()[1], OSError):  # client went away
            return
        super().handle_error(request, client_address)


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
            self._server = _GatewayServer((host, port), _GatewayHandler)
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
