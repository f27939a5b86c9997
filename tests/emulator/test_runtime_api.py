"""The Runtime API server against a fake runtime client (http.client, as awslambdaric's fallback does)."""

from __future__ import annotations

import http.client
import json
import threading
import time
from collections.abc import Iterator

import pytest

from lambdapack.emulator.runtime_api import MAX_PAYLOAD, PREFIX, Invocation, RuntimeAPIServer


@pytest.fixture
def api() -> Iterator[RuntimeAPIServer]:
    with RuntimeAPIServer() as server:
        yield server


def connect(api: RuntimeAPIServer) -> http.client.HTTPConnection:
    host, port = api.address.split(":")
    return http.client.HTTPConnection(host, int(port), timeout=10)


def invocation(payload: bytes = b'{"sl": 6.9}', **kwargs: object) -> Invocation:
    return Invocation(payload=payload, deadline_ms=int(time.time() * 1000) + 3000,
                      function_arn="arn:aws:lambda:us-east-1:012345678912:function:f", **kwargs)  # type: ignore[arg-type]


def test_next_delivers_the_event_with_lambda_headers(api: RuntimeAPIServer) -> None:
    inv = api.submit(invocation(client_context='{"custom": {}}', cognito_identity='{"cognitoIdentityId": "x"}'))
    conn = connect(api)
    conn.request("GET", f"{PREFIX}/invocation/next")
    response = conn.getresponse()
    assert response.status == 200
    assert response.read() == b'{"sl": 6.9}'
    assert response.getheader("Lambda-Runtime-Aws-Request-Id") == inv.request_id
    assert int(response.getheader("Lambda-Runtime-Deadline-Ms")) == inv.deadline_ms
    assert response.getheader("Lambda-Runtime-Invoked-Function-Arn").endswith(":function:f")
    assert response.getheader("Lambda-Runtime-Trace-Id").startswith("Root=1-")
    assert response.getheader("Lambda-Runtime-Client-Context") == '{"custom": {}}'
    assert response.getheader("Lambda-Runtime-Cognito-Identity") == '{"cognitoIdentityId": "x"}'
    assert api.init_done.is_set()


def test_response_completes_the_invocation_on_a_kept_alive_connection(api: RuntimeAPIServer) -> None:
    conn = connect(api)
    for n in range(3):
        inv = api.submit(invocation(f'{{"n": {n}}}'.encode()))
        conn.request("GET", f"{PREFIX}/invocation/next")
        got = conn.getresponse()
        assert got.read() == f'{{"n": {n}}}'.encode()
        conn.request("POST", f"{PREFIX}/invocation/{inv.request_id}/response", body=b'{"ok": true}',
                     headers={"Content-Type": "application/json"})
        answer = conn.getresponse()
        assert answer.status == 202
        assert json.loads(answer.read()) == {"status": "OK"}
        assert inv.done.wait(5)
        assert (inv.outcome, inv.body) == ("response", b'{"ok": true}')
        assert inv.completed_at is not None and inv.delivered_at is not None


def test_error_keeps_the_payload_and_error_type(api: RuntimeAPIServer) -> None:
    inv = api.submit(invocation())
    conn = connect(api)
    conn.request("GET", f"{PREFIX}/invocation/next")
    conn.getresponse().read()
    error = {"errorMessage": "boom", "errorType": "ValueError", "stackTrace": []}
    conn.request("POST", f"{PREFIX}/invocation/{inv.request_id}/error", body=json.dumps(error),
                 headers={"Lambda-Runtime-Function-Error-Type": "ValueError"})
    assert conn.getresponse().status == 202
    assert inv.done.wait(5)
    assert inv.outcome == "error"
    assert inv.error_type == "ValueError"
    assert json.loads(inv.body) == error


def test_unknown_or_repeated_request_id_is_refused(api: RuntimeAPIServer) -> None:
    inv = api.submit(invocation())
    conn = connect(api)
    conn.request("GET", f"{PREFIX}/invocation/next")
    conn.getresponse().read()
    conn.request("POST", f"{PREFIX}/invocation/not-the-id/response", body=b"{}")
    refused = conn.getresponse()
    assert refused.status == 400
    assert json.loads(refused.read())["errorType"] == "InvalidRequestID"
    assert not inv.done.is_set()
    conn.request("POST", f"{PREFIX}/invocation/{inv.request_id}/response", body=b"1")
    first = conn.getresponse()
    first.read()
    assert first.status == 202
    conn.request("POST", f"{PREFIX}/invocation/{inv.request_id}/response", body=b"2")
    assert conn.getresponse().status == 400
    assert inv.body == b"1"


def test_init_error_is_recorded(api: RuntimeAPIServer) -> None:
    conn = connect(api)
    body = {"errorMessage": "Unable to import module 'x'", "errorType": "Runtime.ImportModuleError",
            "requestId": "", "stackTrace": []}
    conn.request("POST", f"{PREFIX}/init/error", body=json.dumps(body),
                 headers={"Lambda-Runtime-Function-Error-Type": "Runtime.ImportModuleError"})
    assert conn.getresponse().status == 202
    assert api.init_done.is_set()
    assert api.init_error is not None
    assert api.init_error.error_type == "Runtime.ImportModuleError"
    assert json.loads(api.init_error.body) == body


def test_oversized_response_is_refused_and_reported(api: RuntimeAPIServer) -> None:
    inv = api.submit(invocation())
    conn = connect(api)
    conn.request("GET", f"{PREFIX}/invocation/next")
    conn.getresponse().read()
    conn.request("POST", f"{PREFIX}/invocation/{inv.request_id}/response", body=b"x" * (MAX_PAYLOAD + 1))
    answer = conn.getresponse()
    assert answer.status == 413
    assert json.loads(answer.read())["errorType"] == "RequestEntityTooLarge"
    assert inv.done.wait(5)
    assert inv.outcome == "too-large"


def test_unknown_paths_get_404(api: RuntimeAPIServer) -> None:
    conn = connect(api)
    conn.request("GET", "/2018-06-01/runtime/nope")
    assert conn.getresponse().status == 404


def test_next_blocks_until_an_event_arrives_and_close_releases_it() -> None:
    api = RuntimeAPIServer().start()
    results: list[int] = []

    def poll() -> None:
        conn = connect(api)
        conn.request("GET", f"{PREFIX}/invocation/next")
        results.append(conn.getresponse().status)

    thread = threading.Thread(target=poll)
    thread.start()
    assert api.init_done.wait(5)
    time.sleep(0.05)
    assert results == []  # still long-polling
    api.close()
    thread.join(5)
    assert results == [410]


def test_abandon_drops_an_undelivered_event(api: RuntimeAPIServer) -> None:
    api.submit(invocation(b'{"stale": true}'))
    api.abandon()
    fresh = api.submit(invocation(b'{"fresh": true}'))
    conn = connect(api)
    conn.request("GET", f"{PREFIX}/invocation/next")
    response = conn.getresponse()
    assert response.read() == b'{"fresh": true}'
    assert response.getheader("Lambda-Runtime-Aws-Request-Id") == fresh.request_id


def test_one_invocation_in_flight_at_a_time(api: RuntimeAPIServer) -> None:
    api.submit(invocation())
    with pytest.raises(RuntimeError):
        api.submit(invocation())
