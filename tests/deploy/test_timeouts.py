"""Bounded AWS time: an endpoint that accepts connections and never answers ends in an error.

A real loopback socket server accepts every connection and never sends a byte. The timeouts
are injected short so the test takes seconds; the defaults are checked by running the same
retry loop on a clock that advances by the read timeout at each unanswered attempt.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from botocore.exceptions import ReadTimeoutError

from lambdapack.deploy.aws import DEFAULT_TIMEOUTS, AwsClient, Timeouts
from lambdapack.deploy.deployer import DeployRequest, deploy
from lambdapack.errors import DeployError

# room for a second attempt (0.5 s back-off + 1 s), never a third (another 1 s back-off + 1 s)
SHORT = Timeouts(connect=0.5, read=0.5, step=3.5)


@pytest.fixture
def silent_endpoint() -> Iterator[str]:
    """``http://127.0.0.1:PORT`` of a server that accepts connections, reads nothing and never answers."""
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    server.settimeout(0.1)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except TimeoutError:
                continue
            except OSError:
                return

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.getsockname()[1]}"
    stop.set()
    thread.join(timeout=5)
    for conn in held:
        conn.close()
    server.close()


def test_deploy_against_a_silent_endpoint_ends_in_an_error_naming_it(
        silent_endpoint: str, artifacts, tmp_path: Path) -> None:
    layer, function = artifacts()
    aws = AwsClient(region="us-east-1", endpoint_url=silent_endpoint, timeouts=SHORT)
    phases: list[str] = []
    start = time.monotonic()
    with pytest.raises(DeployError) as caught:
        deploy(DeployRequest(name="iris", layer=layer, function=function, root=tmp_path), aws=aws,
               on_step=phases.append)
    elapsed = time.monotonic() - start
    assert elapsed < SHORT.step + 1.0
    assert caught.value.message.startswith(f"sts GetCallerIdentity: no answer from {silent_endpoint} "
                                           "(read timeout 0.5 s, 2 attempts, ")
    assert "accepts connections but does not answer" in caught.value.hint
    # the phase was announced before the wait, so the user saw what it waited on
    assert phases == [f"checking the AWS region and credentials (sts GetCallerIdentity at {silent_endpoint})"]
    assert [(c.operation, c.error) for c in aws.calls] == [("GetCallerIdentity", "ReadTimeoutError")] * 2


def test_a_write_that_got_no_answer_is_not_repeated(silent_endpoint: str) -> None:
    aws = AwsClient(region="us-east-1", endpoint_url=silent_endpoint, timeouts=SHORT)
    with pytest.raises(DeployError, match=r"^lambda DeleteFunction: no answer from "):
        aws.call("lambda", "delete_function", FunctionName="iris")
    assert len(aws.calls) == 1  # it may have happened: the rerun's read-back decides


def test_a_waiter_stops_at_the_first_unanswered_poll(silent_endpoint: str) -> None:
    aws = AwsClient(region="us-east-1", endpoint_url=silent_endpoint, timeouts=SHORT)
    start = time.monotonic()
    with pytest.raises(DeployError, match=r"^lambda function_active_v2: no answer from "):
        aws.wait("lambda", "function_active_v2", FunctionName="iris")
    assert time.monotonic() - start < SHORT.attempt + 1.0


def test_the_default_deadline_is_under_a_minute() -> None:
    assert (DEFAULT_TIMEOUTS.connect, DEFAULT_TIMEOUTS.read, DEFAULT_TIMEOUTS.step) == (5.0, 20.0, 50.0)
    # 20 s unanswered, 0.5 s back-off, 20 s unanswered; a third attempt could not end by 50 s
    assert DEFAULT_TIMEOUTS.worst_case() == 40.5
    assert DEFAULT_TIMEOUTS.worst_case() <= DEFAULT_TIMEOUTS.step < 60
    assert Timeouts(read=5.0, step=50.0).worst_case() == 5 + 0.5 + 5 + 1 + 5 + 2 + 5 + 4 + 5
    assert Timeouts(connect=1, read=60, step=50).worst_case() == 60  # one attempt, never a second


def test_the_default_retry_loop_gives_up_when_the_computed_deadline_says(silent_endpoint: str) -> None:
    now = [0.0]

    def sleep(seconds: float) -> None:
        now[0] += seconds

    aws = AwsClient(region="us-east-1", endpoint_url=silent_endpoint, sleep=sleep, clock=lambda: now[0])

    def never_answers(**_: object) -> None:
        now[0] += aws.timeouts.read  # what botocore's read timeout costs, without waiting for it
        raise ReadTimeoutError(endpoint_url=silent_endpoint)

    aws.client("sts").meta.events.register("before-call.sts.GetCallerIdentity", never_answers)
    with pytest.raises(DeployError, match=r"^sts GetCallerIdentity: no answer .* 2 attempts, 40 s\)$"):
        aws.check_credentials()
    assert now[0] == DEFAULT_TIMEOUTS.worst_case() < 60


def test_retries_of_a_busy_answer_stop_at_the_busy_deadline(silent_endpoint: str) -> None:
    from botocore.awsrequest import AWSResponse

    now = [0.0]

    def sleep(seconds: float) -> None:
        now[0] += seconds

    aws = AwsClient(region="us-east-1", endpoint_url=silent_endpoint, sleep=sleep, clock=lambda: now[0],
                    timeouts=Timeouts(busy=10.0))

    def throttled(**_: object) -> tuple[AWSResponse, dict[str, object]]:
        body = {"Error": {"Code": "TooManyRequestsException", "Message": "slow down"},
                "ResponseMetadata": {"HTTPStatusCode": 429}}
        return AWSResponse(silent_endpoint, 429, {}, None), body

    aws.client("lambda").meta.events.register("before-call.lambda.GetFunction", throttled)
    with pytest.raises(DeployError, match="TooManyRequestsException"):
        aws.call("lambda", "get_function", FunctionName="iris")
    # 0.5 + 1 + 2 + 4 s of back-off; the next 8 s would pass the 10 s deadline
    assert now[0] == 7.5 and len(aws.calls) == 5
