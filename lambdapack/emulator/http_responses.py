"""The HTTP response API Gateway or an ALB makes of a function's answer.

- A proxy response (``statusCode``, ``headers``, ``multiValueHeaders`` (1.0), ``cookies``
  (2.0), ``body``, ``isBase64Encoded``) becomes that HTTP response;
- with 2.0, any other JSON result becomes a ``200`` ``application/json`` response with the
  result as body; with 1.0 it is a malformed proxy response (``502``);
- a function error (exception, timeout, crash) becomes ``500 Internal Server Error`` (2.0)
  or ``502`` (1.0);
- an ALB answers ``502`` to a response that lacks a field it requires.

What the front refuses on its own uses API Gateway's JSON ``{"message": ...}`` shape
(:func:`gateway_error`).
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any

from lambdapack.emulator.invoker import InvokeResult


@dataclass(frozen=True)
class HttpResponse:
    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes


def gateway_error(status: int, message: str) -> HttpResponse:
    return HttpResponse(status, (("Content-Type", "application/json"),), json.dumps({"message": message}).encode())


def proxy_response(result: InvokeResult, payload_version: str = "2.0") -> HttpResponse:
    """The HTTP response API Gateway (or an ALB) makes of ``result``."""
    if payload_version.startswith("alb"):
        return alb_response(result, multi_value=payload_version == "alb-multi")
    v2 = payload_version == "2.0"
    if not result.ok:
        return gateway_error(500, "Internal Server Error") if v2 else gateway_error(502, "Internal server error")
    payload = result.payload
    if isinstance(payload, dict) and "statusCode" in payload:
        try:
            return _from_proxy(payload, v2)
        except (TypeError, ValueError):
            pass
    elif v2:
        raw = result._raw or json.dumps(payload).encode()
        return HttpResponse(200, (("Content-Type", "application/json"),), raw)
    return gateway_error(500, "Internal Server Error") if v2 else gateway_error(502, "Internal server error")


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
        return gateway_error(502, "Bad Gateway")
    shaped = {"statusCode": payload.get("statusCode"), "body": payload.get("body"),
              "isBase64Encoded": payload["isBase64Encoded"]}
    if multi_value:
        shaped["multiValueHeaders"] = payload["multiValueHeaders"]
    else:
        shaped["headers"] = payload["headers"]
    try:
        return _from_proxy(shaped, v2=False)
    except (TypeError, ValueError):
        return gateway_error(502, "Bad Gateway")

