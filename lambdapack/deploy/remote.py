"""Invoke a deployed stack: through the Lambda API (payload, decoded tail logs) or its HTTP URL.

``invoke --name NAME`` calls the function with the Lambda ``Invoke`` API (``LogType=Tail``
returns the last 4 KB of the execution log, base64-encoded; ``--logs`` prints it decoded).
``--http`` sends the event to the API the stack recorded (HTTP API, REST API or function
URL) with urllib: an API event's method, path, query and body are replayed, a plain
feature object is POSTed to ``/predict``.
"""

from __future__ import annotations

import base64
import json
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lambdapack import defaults
from lambdapack.deploy.aws import INVOKE_TIMEOUTS, AwsClient
from lambdapack.deploy.preflight import check_name
from lambdapack.deploy.state import DeployState, load_state, state_path
from lambdapack.errors import DeployError

HTTP_TIMEOUT = 35.0  # API Gateway gives up after 30 s; leave it room to answer with its own 504


@dataclass(frozen=True)
class RemoteInvokeResult:
    name: str
    via: str  # "lambda" | "http"
    status_code: int
    payload: Any  # parsed JSON when the answer is JSON, else text
    function_error: str | None = None
    logs: str | None = None
    url: str | None = None
    qualifier: str | None = None  # the alias invoked (a SnapStart stack), else $LATEST


def _decode(raw: bytes) -> Any:
    text = raw.decode("utf-8", "replace")
    try:
        return json.loads(text)
    except ValueError:
        return text


def _state_for(name: str, root: Path | None) -> DeployState | None:
    return load_state(state_path(check_name(name), root))


def invoke_lambda(name: str, event: Any, *, logs: bool = False, region: str | None = None,
                  profile: str | None = None, endpoint_url: str | None = None, root: Path | None = None,
                  aws: AwsClient | None = None) -> RemoteInvokeResult:
    """Invoke the stack's function synchronously through the Lambda API."""
    state = _state_for(name, root)
    function = (state.get("function.name") if state else None) or name
    # a SnapStart stack serves from its alias; invoking $LATEST would skip the snapshot
    alias = state.get("alias.name") if state else None
    aws = aws or AwsClient(region or (state.region if state else None), profile, endpoint_url,
                           timeouts=INVOKE_TIMEOUTS)
    aws.check_region()
    got = aws.call("lambda", "invoke", FunctionName=function, InvocationType="RequestResponse",
                   LogType="Tail", Payload=json.dumps(event).encode("utf-8"),
                   **({"Qualifier": alias} if alias else {}))
    payload = _decode(got["Payload"].read())
    log_text = None
    if logs and got.get("LogResult"):
        log_text = base64.b64decode(got["LogResult"]).decode("utf-8", "replace")
    return RemoteInvokeResult(name=name, via="lambda", status_code=int(got.get("StatusCode", 0)), payload=payload,
                              function_error=got.get("FunctionError"), logs=log_text if logs else None,
                              qualifier=alias)


def _request_for(event: Any) -> tuple[str, str, str, bytes | None]:
    """(method, path, query, body) an API event describes, or a POST of the event to /predict."""
    if isinstance(event, dict) and ("requestContext" in event or "rawPath" in event or "httpMethod" in event):
        http = (event.get("requestContext") or {}).get("http") or {}
        method = str(http.get("method") or event.get("httpMethod") or "POST").upper()
        path = str(event.get("rawPath") or event.get("path") or defaults.PREDICT_PATH)
        query = event.get("rawQueryString")
        if query is None:
            query = urllib.parse.urlencode(event.get("queryStringParameters") or {})
        body = event.get("body")
        data: bytes | None = None
        if body is not None:
            data = base64.b64decode(body) if event.get("isBase64Encoded") else str(body).encode("utf-8")
        return method, path, str(query), data
    return "POST", defaults.PREDICT_PATH, "", json.dumps(event).encode("utf-8")


def invoke_http(name: str, event: Any, *, root: Path | None = None, timeout: float = HTTP_TIMEOUT,
                base_url: str | None = None) -> RemoteInvokeResult:
    """Send ``event`` to the stack's recorded API URL (or ``base_url``) and return the HTTP answer."""
    if base_url is None:
        state = _state_for(name, root)
        if state is None:
            raise DeployError(f"no deployment named {name!r} here, so its URL is unknown",
                              hint="run from the directory you deployed from, or deploy first")
        api = state.resources.get("api") or {}
        base_url = api.get("endpoint") or (state.resources.get("url") or {}).get("url")
        if not base_url:
            raise DeployError(f"stack {name!r} has no HTTP endpoint (deployed with --api none)",
                              hint="invoke it through the Lambda API (drop --http), or redeploy with --api http")
    method, path, query, body = _request_for(event)
    url = base_url.rstrip("/") + "/" + path.lstrip("/") + (f"?{query}" if query else "")
    request = urllib.request.Request(url, data=body if method not in ("GET", "HEAD") else None, method=method,
                                     headers={"Content-Type": "application/json", "User-Agent": "lambdapack"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            status, raw = response.status, response.read()
    except urllib.error.HTTPError as exc:  # a 4xx/5xx answer is still an answer
        status, raw = exc.code, exc.read()
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise DeployError(f"cannot reach {url}: {reason}",
                          hint="a new API takes a few seconds to answer; check the URL and your network") from None
    return RemoteInvokeResult(name=name, via="http", status_code=status, payload=_decode(raw), url=url)
