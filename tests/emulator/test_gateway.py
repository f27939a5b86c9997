"""serve's API Gateway front: event shapes, response mapping, and a real pool of runtimes."""

from __future__ import annotations

import base64
import http.client
import json
import socket
import threading
import time
from pathlib import Path

import pytest
from emulator_support import Logs, make_function

from lambdapack.emulator.gateway import start_gateway
from lambdapack.emulator.http_events import HttpRequest, NotUtf8Error, http_api_event, rest_api_event
from lambdapack.emulator.http_responses import proxy_response
from lambdapack.emulator.invoker import InvokeResult
from lambdapack.emulator.session import LocalFunctionSpec
from lambdapack.errors import EmulatorError

WEB_HANDLER = '''
import base64, json, os, time

def lambda_handler(event, context):
    body = event.get("body") or ""
    if event.get("isBase64Encoded"):
        body = base64.b64decode(body).decode()
    if "sleep" in body:
        time.sleep(0.4)
    if "boom" in body:
        raise ValueError("boom")
    if "plain" in body:
        return {"plain": True}
    return {"statusCode": 201, "headers": {"Content-Type": "application/json", "X-Pid": str(os.getpid())},
            "cookies": ["flower=virginica"],
            "body": json.dumps({"body": body, "version": event.get("version"),
                                "path": event.get("rawPath") or event.get("path")})}
'''

REQUEST = HttpRequest("POST", "/predict?sl=6.9&sl=7&x=", (("Host", "localhost:3000"), ("User-Agent", "curl/8"),
                                                          ("Content-Type", "application/x-www-form-urlencoded"),
                                                          ("Cookie", "a=1; b=2"), ("X-Multi", "1"), ("X-Multi", "2")),
                      b'{"sl":6.9,"sw":3.1,"pl":5.1,"pw":2.3}', source_ip="127.0.0.1", host="localhost:3000")


def test_http_api_event_shape() -> None:
    event = http_api_event(REQUEST, now=1795514400.0)
    assert event["version"] == "2.0" and event["routeKey"] == "$default"
    assert (event["rawPath"], event["rawQueryString"]) == ("/predict", "sl=6.9&sl=7&x=")
    assert event["queryStringParameters"] == {"sl": "6.9,7", "x": ""}
    assert event["cookies"] == ["a=1", "b=2"] and "cookie" not in event["headers"]
    assert event["headers"]["x-multi"] == "1,2" and event["headers"]["user-agent"] == "curl/8"
    http = event["requestContext"]["http"]
    assert http == {"method": "POST", "path": "/predict", "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1",
                    "userAgent": "curl/8"}
    assert event["requestContext"]["timeEpoch"] == 1795514400000
    # form-encoded is not a text type for API Gateway: the body arrives base64-encoded
    assert event["isBase64Encoded"] is True
    assert base64.b64decode(event["body"]) == REQUEST.body
    as_json = HttpRequest("POST", "/predict", (("Content-Type", "application/json"),), b'{"a": 1}')
    event = http_api_event(as_json)
    assert (event["body"], event["isBase64Encoded"]) == ('{"a": 1}', False)
    assert "queryStringParameters" not in event and "cookies" not in event
    assert "body" not in http_api_event(HttpRequest("GET", "/health", (), b""))


def test_rest_api_event_shape() -> None:
    event = rest_api_event(REQUEST)
    assert event["httpMethod"] == "POST" and event["path"] == "/predict" and event["resource"] == "/{proxy+}"
    assert event["queryStringParameters"] == {"sl": "7", "x": ""}
    assert event["multiValueQueryStringParameters"] == {"sl": ["6.9", "7"], "x": [""]}
    assert event["multiValueHeaders"]["X-Multi"] == ["1", "2"] and event["headers"]["X-Multi"] == "2"
    assert event["pathParameters"] == {"proxy": "predict"}
    assert (event["body"], event["isBase64Encoded"]) == (REQUEST.body.decode(), False)
    empty = rest_api_event(HttpRequest("GET", "/", (), b""))
    assert empty["body"] is None and empty["queryStringParameters"] is None and empty["pathParameters"] is None


def result(payload: object, ok: bool = True) -> InvokeResult:
    return InvokeResult(request_id="r", payload=payload, status="success" if ok else "error",
                        function_error=None if ok else "Unhandled", error_type=None if ok else "ValueError",
                        cold=False, init_ms=None, duration_ms=1.0, billed_ms=1, memory_mb=128, max_memory_mb=20,
                        round_trip_ms=1.0, pid=1, _raw=json.dumps(payload).encode())


def test_proxy_response_mapping() -> None:
    response = proxy_response(result({"statusCode": 200, "body": "virginica"}))
    assert (response.status, response.body) == (200, b"virginica")
    encoded = proxy_response(result({"statusCode": 200, "body": base64.b64encode(b"\x00\x01").decode(),
                                     "isBase64Encoded": True, "headers": {"Content-Type": "image/png"}}))
    assert encoded.body == b"\x00\x01" and ("Content-Type", "image/png") in encoded.headers
    cookies = proxy_response(result({"statusCode": 302, "cookies": ["a=1", "b=2"], "headers": {"Location": "/"}}))
    assert cookies.status == 302 and [v for k, v in cookies.headers if k == "Set-Cookie"] == ["a=1", "b=2"]
    plain = proxy_response(result({"prediction": "virginica"}))
    assert plain.status == 200 and json.loads(plain.body) == {"prediction": "virginica"}
    assert proxy_response(result({"errorMessage": "boom"}, ok=False)).status == 500
    assert proxy_response(result({"statusCode": "abc"})).status == 500
    assert proxy_response(result({"statusCode": 200, "body": {"not": "a string"}})).status == 500
    # REST (1.0): a non-proxy result is a malformed response, errors are 502
    assert proxy_response(result({"prediction": "virginica"}), "1.0").status == 502
    assert proxy_response(result({"errorMessage": "boom"}, ok=False), "1.0").status == 502
    multi = proxy_response(result({"statusCode": 200, "multiValueHeaders": {"X-A": ["1", "2"]}, "body": ""}), "1.0")
    assert [v for k, v in multi.headers if k == "X-A"] == ["1", "2"]


@pytest.fixture(scope="module")
def web_zip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_function(tmp_path_factory.mktemp("web"), WEB_HANDLER)


def post(url: str, path: str, body: bytes, content_type: str = "application/x-www-form-urlencoded"):  # type: ignore[no-untyped-def]
    host, port = url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=30)
    conn.request("POST", path, body=body, headers={"Content-Type": content_type})
    response = conn.getresponse()
    return response.status, dict(response.getheaders()), response.read()


def test_serve_round_trip_errors_and_concurrency(web_zip: Path, tiny: tuple[Path, Path], logs: Logs) -> None:
    spec = LocalFunctionSpec(web_zip, (tiny[1],))
    with start_gateway(spec, port=0, concurrency=2, log_sink=logs) as (_, info):
        assert info.concurrency == 2 and info.init_errors == ()
        status, headers, body = post(info.url, "/predict", b'{"sl":6.9}')
        assert status == 201
        assert headers["Set-Cookie"] == "flower=virginica"
        assert json.loads(body) == {"body": '{"sl":6.9}', "version": "2.0", "path": "/predict"}
        assert post(info.url, "/x", b"plain")[2] == b'{"plain": true}'
        assert post(info.url, "/x", b"boom")[0] == 500
        # two slow requests at once are served by two different warm runtimes
        answers: list[dict[str, str]] = []
        threads = [threading.Thread(target=lambda: answers.append(post(info.url, "/s", b"sleep")[1]))
                   for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        assert len({a["X-Pid"] for a in answers}) == 2
        # the emulator keeps serving after an error
        assert post(info.url, "/predict", b"{}")[0] == 201
        host, port = info.url.removeprefix("http://").split(":")
        conn = http.client.HTTPConnection(host, int(port), timeout=30)
        conn.request("POST", "/chunked", body=iter([b'{"sl":', b"6.9}"]), encode_chunked=True,
                     headers={"Content-Type": "application/json"})
        chunked = conn.getresponse()
        assert chunked.status == 201 and json.loads(chunked.read())["body"] == '{"sl":6.9}'
        conn.request("POST", "/huge", headers={"Content-Length": str(7 * 1024 * 1024)})
        assert conn.getresponse().status == 413
    assert "POST /x -> 500" in logs.text and "ValueError" in logs.text


def test_serve_rest_payload(web_zip: Path, tiny: tuple[Path, Path], logs: Logs) -> None:
    spec = LocalFunctionSpec(web_zip, (tiny[1],))
    with start_gateway(spec, port=0, payload_version="1.0", log_sink=logs) as (_, info):
        status, _, body = post(info.url, "/predict", b'{"sl":6.9}')
        assert status == 201
        assert json.loads(body) == {"body": '{"sl":6.9}', "version": None, "path": "/predict"}
        assert post(info.url, "/x", b"plain")[0] == 502


def test_port_in_use(web_zip: Path, tiny: tuple[Path, Path], logs: Logs) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        spec = LocalFunctionSpec(web_zip, (tiny[1],))
        with pytest.raises(EmulatorError, match=f"port {port} on 127.0.0.1 is already in use") as info, \
                start_gateway(spec, port=port, log_sink=logs):
            pass
        assert "--port" in info.value.hint


def test_serve_options_are_checked(web_zip: Path, tiny: tuple[Path, Path]) -> None:
    with pytest.raises(EmulatorError, match="payload format"), start_gateway(
            LocalFunctionSpec(web_zip, (tiny[1],)), port=0, payload_version="3.0"):
        pass


def _raw_exchange(url: str, data: bytes, *, wait: float = 30.0) -> tuple[int, dict[str, str], bytes, float]:
    """Send raw bytes, read one response: (status, headers, body, seconds until it came)."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=wait) as conn:
        started = time.monotonic()
        conn.sendall(data)
        reply = http.client.HTTPResponse(conn)
        reply.begin()
        body = reply.read()
        return reply.status, dict(reply.getheaders()), body, time.monotonic() - started


def test_the_front_refuses_with_json_like_api_gateway(web_zip: Path, tiny: tuple[Path, Path], logs: Logs) -> None:
    with start_gateway(LocalFunctionSpec(web_zip, (tiny[1],)), port=0, log_sink=logs, read_timeout=0.5) as (_, info):
        assert info.read_timeout == 0.5
        # text that is not UTF-8: the front says so instead of handing the function a base64 puzzle
        status, headers, body = post(info.url, "/predict", b'{"sl": "\xff\xfe"}', content_type="application/json")
        assert status == 400 and headers["Content-Type"] == "application/json"
        message = json.loads(body)["message"]
        assert "not UTF-8" in message and "byte 8" in message and "application/json" in message
        # a binary content type is not text: its bytes still reach the function, base64-encoded
        status, _, body = post(info.url, "/predict", b"\x00\x01 raw", content_type="application/octet-stream")
        assert status == 201 and json.loads(body)["body"] == "\x00\x01 raw"
        # more header lines than http.server accepts (100): JSON, not http.server's HTML page
        many = "".join(f"X-H{i}: {i}\r\n" for i in range(120))
        status, headers, body, _ = _raw_exchange(info.url, f"GET /health HTTP/1.1\r\nHost: x\r\n{many}\r\n".encode())
        assert status == 431 and headers["Content-Type"] == "application/json"
        assert json.loads(body) == {"message": "Too many headers"}
        long_line = b"GET /health HTTP/1.1\r\nX-Long: " + b"a" * 70000 + b"\r\n\r\n"
        status, _, body, _ = _raw_exchange(info.url, long_line)
        assert status == 431 and json.loads(body) == {"message": "Line too long"}
        status, _, body, _ = _raw_exchange(info.url, b"GET /a b HTTP/1.1\r\n\r\n")
        assert status == 400 and "message" in json.loads(body)
        # a client that stops mid-body gets a 408 once the read timeout has passed, not a hung thread
        stalled = b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"sl\":"
        status, headers, body, waited = _raw_exchange(info.url, stalled)
        assert status == 408 and json.loads(body) == {"message": "Request Timeout"}
        assert 0.4 <= waited < 5, waited
        assert headers.get("Connection") == "close"
        chunk_stall = b"POST /predict HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n{\"sl\""
        status, _, _, waited = _raw_exchange(info.url, chunk_stall)
        assert status == 408 and waited < 5
        # and the front keeps serving
        assert post(info.url, "/predict", b'{"sl":6.9}', content_type="application/json")[0] == 201
    assert "-> 408" in logs.text and "-> 400 (body not UTF-8)" in logs.text and "-> 431" in logs.text


def test_serve_read_timeout_must_be_positive(web_zip: Path, tiny: tuple[Path, Path]) -> None:
    with pytest.raises(EmulatorError, match="--read-timeout"), start_gateway(
            LocalFunctionSpec(web_zip, (tiny[1],)), port=0, read_timeout=0):
        pass


def test_non_utf8_text_is_refused_by_both_payload_formats() -> None:
    broken = HttpRequest("POST", "/predict", (("Content-Type", "text/plain"),), b"ok \xc3")
    with pytest.raises(NotUtf8Error, match="byte 3"):
        http_api_event(broken)
    with pytest.raises(NotUtf8Error):
        rest_api_event(broken)
