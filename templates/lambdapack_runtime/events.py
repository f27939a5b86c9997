"""What an event asks: the HTTP request inside an API Gateway, function URL or ALB event, and the answer's shape.

API Gateway REST (payload 1.0) and HTTP API (payload 2.0), Lambda function URLs and ALB target
groups each wrap a request their own way; :func:`http_request` reads any of them into one
:class:`HttpRequest` (or None for a direct invocation), and :func:`json_response` /
:func:`alb_response` answer in the shape the source requires.
"""

from __future__ import annotations

import json

from .inputs import Reject, show

# base64, binascii, http and urllib.parse are imported where they are needed: each costs init
# time (milliseconds) that a direct invocation never uses.


class HttpRequest:
    """What an API Gateway (REST v1, HTTP API v2), function URL or ALB event asks for."""

    __slots__ = ("base64", "body", "headers", "method", "multi_value", "path", "query", "request_id", "source")

    def __init__(self, source: str, method: object, path: object, headers: dict, query: dict,
                 body: object, base64_encoded: object, request_id: object, multi_value: bool = False) -> None:
        if not isinstance(method, str) or not method:
            raise Reject(400, "bad_event", "the event has no HTTP method")
        if not isinstance(path, str):
            raise Reject(400, "bad_event", "the event has no request path")
        self.source = source
        self.method = method.upper()
        self.path = path
        self.headers = headers
        self.query = query
        self.body = body
        self.base64 = base64_encoded is True
        self.request_id = request_id if isinstance(request_id, str) else None
        self.multi_value = multi_value  # an ALB target group with multi-value headers: answer in kind

    def route(self) -> str:
        path = self.path.rstrip("/") or "/"
        if path in ("/", "/predict"):
            return "/predict"
        if path == "/health":
            return "/health"
        raise Reject(404, "not_found", f"no route {show(self.path, 60)}; use POST /predict, GET /predict?… "
                     "or GET /health")

    def text_body(self) -> str | None:
        body = self.body
        if body is None:
            return None
        if not isinstance(body, str):
            raise Reject(400, "bad_body", "the event's body is not a string")
        if self.base64:
            import base64
            import binascii

            try:
                raw = base64.b64decode(body, validate=True)
            except (binascii.Error, ValueError):
                raise Reject(400, "bad_body", "the body is marked base64 but is not valid base64") from None
            try:
                body = raw.decode("utf-8")
            except UnicodeDecodeError:
                raise Reject(400, "bad_body", "the body is not UTF-8 text") from None
        return body if body.strip() else None

    def parse(self, body: str) -> object:
        from urllib.parse import parse_qs

        content_type = self.headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type == "application/x-www-form-urlencoded" and body.lstrip()[:1] not in ("{", "["):
            fields = parse_qs(body, keep_blank_values=True)
            if fields:
                return {k: (v[0] if len(v) == 1 else v) for k, v in fields.items()}
        try:
            return json.loads(body)
        except json.JSONDecodeError as exc:
            raise Reject(400, "malformed_json", f"the body is not valid JSON: {exc.msg} at line {exc.lineno} "
                         f"column {exc.colno}") from None
        except RecursionError:
            raise Reject(400, "malformed_json", "the body nests too deeply") from None
        except ValueError as exc:  # e.g. an integer longer than Python's int-to-str digit limit
            raise Reject(400, "malformed_json", f"the body is not usable JSON: {exc}") from None


def lower_headers(raw: object) -> dict:
    if not isinstance(raw, dict):
        return {}
    return {k.lower(): v for k, v in raw.items() if isinstance(k, str) and isinstance(v, str)}


def strip_stage(path: str, stage: object) -> str:
    if isinstance(stage, str) and stage and stage != "$default":
        prefix = "/" + stage
        if path == prefix or path.startswith(prefix + "/"):
            return path[len(prefix):] or "/"
    return path


def single_query(raw: object) -> dict:
    if not isinstance(raw, dict):
        return {}
    return {k: [v] for k, v in raw.items() if isinstance(v, str)}


def http_api_request(event: dict, context: dict) -> HttpRequest:
    """HTTP API (payload 2.0) and function URL events."""
    http = context.get("http") if isinstance(context.get("http"), dict) else {}
    path = event.get("rawPath")
    if not isinstance(path, str):
        path = http.get("path")
    route_key = event.get("routeKey")
    if isinstance(route_key, str) and " " in route_key and "{" not in route_key:
        path = route_key.split(" ", 1)[1]  # the route matched, free of stage and base-path prefixes
    elif isinstance(path, str):
        path = strip_stage(path, context.get("stage"))
    raw_query = event.get("rawQueryString")
    if isinstance(raw_query, str) and raw_query:
        from urllib.parse import parse_qs

        query = parse_qs(raw_query, keep_blank_values=True)
    else:
        query = single_query(event.get("queryStringParameters"))
    source = "function-url" if "lambda-url" in str(context.get("domainName", "")) else "http-api-v2"
    return HttpRequest(source, http.get("method"), path, lower_headers(event.get("headers")), query,
                       event.get("body"), event.get("isBase64Encoded"), context.get("requestId"))


def proxy_request(event: dict, context: dict) -> HttpRequest:
    """REST API (payload 1.0) and ALB events."""
    resource = event.get("resource")
    if isinstance(resource, str) and resource.startswith("/") and "{" not in resource:
        path = resource  # the resource matched, free of stage and custom-domain base paths
    else:
        path = event.get("path")
        if isinstance(path, str):
            path = strip_stage(path, context.get("stage"))
    multi = event.get("multiValueQueryStringParameters")
    if isinstance(multi, dict):
        query = {k: [v for v in vs if isinstance(v, str)] for k, vs in multi.items() if isinstance(vs, list)}
    else:
        query = single_query(event.get("queryStringParameters"))
    headers = lower_headers(event.get("headers"))
    multi_headers = event.get("multiValueHeaders")
    if not headers and isinstance(multi_headers, dict):
        headers = lower_headers({k: v[-1] for k, v in multi_headers.items() if isinstance(v, list) and v})
    alb = "elb" in context
    return HttpRequest("alb" if alb else "rest-api-v1", event.get("httpMethod"), path, headers, query,
                       event.get("body"), event.get("isBase64Encoded"), context.get("requestId"),
                       multi_value=alb and isinstance(multi_headers, dict))


def http_request(event: object) -> HttpRequest | None:
    """The HTTP request an event carries, or None for a direct invocation."""
    if not isinstance(event, dict):
        return None
    context = event.get("requestContext")
    context = context if isinstance(context, dict) else {}
    if event.get("version") == "2.0" or "rawPath" in event or "routeKey" in event:
        return http_api_request(event, context)
    if "httpMethod" in event:
        return proxy_request(event, context)
    return None


def json_response(status: int, payload: object, headers: dict | None = None) -> dict:
    out = {"Content-Type": "application/json"}
    if headers:
        out.update(headers)
    return {"statusCode": status, "headers": out, "body": json.dumps(payload, allow_nan=False)}


def alb_response(response: dict, multi_value: bool) -> dict:
    """What an ALB target must answer: a status line, isBase64Encoded, and headers in the request's shape."""
    from http import HTTPStatus

    status = response["statusCode"]
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = "Unknown"
    headers = response.get("headers") or {}
    out = {"statusCode": status, "statusDescription": f"{status} {phrase}", "isBase64Encoded": False,
           "body": response.get("body", "")}
    if multi_value:
        out["multiValueHeaders"] = {k: [v] for k, v in headers.items()}
    else:
        out["headers"] = headers
    return out
