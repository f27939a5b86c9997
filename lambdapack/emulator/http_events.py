"""The event API Gateway or an ALB sends a function for one HTTP request.

``serve`` turns each request into one of four shapes, named by ``payload_version``:

- ``2.0``: an HTTP API event (payload format 2.0) on the ``$default`` route;
- ``1.0``: a REST API proxy event on ``/{proxy+}``;
- ``alb`` / ``alb-multi``: an Application Load Balancer target group event, without or with
  multi-value headers.

Like the HTTP API, a body whose content type is not textual reaches the function base64
encoded (``curl -d`` sends ``application/x-www-form-urlencoded``, which API Gateway encodes:
a handler must cope, and the local front makes sure it does). A body declared as text that
is not UTF-8 raises :class:`NotUtf8Error`, which the front answers with a 400.
"""

from __future__ import annotations

import base64
import random
import string
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from lambdapack.emulator.process import ACCOUNT_ID

# "alb": an Application Load Balancer target group; "alb-multi": one with multi-value headers on
PAYLOAD_VERSIONS = ("2.0", "1.0", "alb", "alb-multi")
TARGET_GROUP_ARN = "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/lambdapack-local/0123456789abcdef"
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

