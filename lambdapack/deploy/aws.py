"""The only module that touches boto3: one small client wrapper for every AWS call deploy makes.

Everything else in :mod:`lambdapack.deploy` talks to :class:`AwsClient`, which

- builds one boto3 session from ``--region/--profile/--endpoint-url`` or the standard
  environment (``AWS_PROFILE``, ``AWS_REGION``/``AWS_DEFAULT_REGION``, ``AWS_ENDPOINT_URL``);
- retries conflicts and throttling with exponential backoff through an *injected* ``sleep``
  (botocore's own retries are switched off so the policy lives in one place and tests run
  in milliseconds);
- bounds time: connect and read timeouts on every request, and a deadline per step
  (:class:`Timeouts`), so an endpoint that accepts connections and never answers ends in
  an error naming the operation and the endpoint instead of a silent wait;
- translates botocore's exceptions into :class:`~lambdapack.errors.DeployError` with a hint;
- records every call (service, operation, write or read) so a test can prove that a rerun
  with nothing changed performs no write.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import boto3
import botocore.config
import botocore.exceptions
from botocore.exceptions import ClientError

from lambdapack.errors import DeployError

# Error codes worth another try: someone else (or Lambda itself) is still busy with the
# resource, or the account is being throttled.
RETRYABLE_CODES = frozenset({
    "ResourceConflictException", "TooManyRequestsException", "ThrottlingException", "Throttling",
    "ThrottledException", "RequestLimitExceeded", "TooManyRequests", "SlowDown",
    "ConcurrentModification", "ConcurrentModificationException", "ConflictException",
    "PriorRequestNotComplete", "OperationAbortedException",
})
# What "it is already gone" looks like in each service (destroy tolerates these).
NOT_FOUND_CODES = frozenset({
    "ResourceNotFoundException", "NoSuchEntity", "NotFoundException", "NoSuchBucket", "NoSuchKey",
    "404", "NotFound",
})
_TRANSIENT = (botocore.exceptions.ConnectionClosedError, botocore.exceptions.ReadTimeoutError)
# Operations that only read. Everything else counts as a write.
_READ_PREFIXES = ("Get", "List", "Describe", "Head")
# Names a boto3 client method exposes for a service's operation.
SERVICES = ("iam", "lambda", "apigatewayv2", "apigateway", "s3", "sts")


@dataclass(frozen=True)
class Timeouts:
    """How long one AWS step may take.

    ``connect`` and ``read`` go to botocore (a read timeout is time without a byte of the
    answer, so a large upload that keeps moving is never cut off); ``step`` bounds one call
    with all its retries after unanswered attempts: another attempt starts only if it can
    finish (``connect + read``) before the deadline, so the worst case for an endpoint that
    never answers is under ``step``. A read timeout of 120 s times the retries once held a
    deploy silent for over ten minutes. ``busy`` bounds retries of calls AWS did answer
    (throttled, or a conflict while Lambda is still updating): the service is alive and the
    step's progress line is already on screen, so it may take longer.
    """

    connect: float = 5.0
    read: float = 20.0
    step: float = 50.0
    busy: float = 90.0

    @property
    def attempt(self) -> float:
        """The longest one attempt can take before botocore gives up on it."""
        return self.connect + self.read

    def allows_another(self, elapsed: float, delay: float) -> bool:
        """Whether an attempt started after ``delay`` more seconds would still end before the deadline."""
        return elapsed + delay + self.attempt <= self.step

    def worst_case(self, base_delay: float = 0.5, max_delay: float = 20.0, max_attempts: int = 8) -> float:
        """Seconds an endpoint that accepts connections and never answers can hold one step.

        Each attempt runs into the read timeout (the connection itself succeeds); the loop
        below is the one :meth:`AwsClient.call` runs, with the clock advanced instead of read.
        """
        elapsed, delay = self.read, base_delay
        for _ in range(1, max_attempts):
            wait = min(delay, max_delay)
            if not self.allows_another(elapsed, wait):
                break
            elapsed += wait + self.read
            delay *= 2
        return elapsed


DEFAULT_TIMEOUTS = Timeouts()
# Invoke waits for the function itself, which may run up to Lambda's 900 s limit.
INVOKE_TIMEOUTS = Timeouts(connect=5.0, read=910.0, step=920.0)
# How long a waiter may poll (function active/updated, a SnapStart version's snapshot).
WAIT_LIMIT = 300.0
SNAPSHOT_WAIT_LIMIT = 900.0


@dataclass(frozen=True)
class CallRecord:
    service: str
    operation: str
    write: bool
    attempt: int
    error: str | None = None


def is_write(operation: str) -> bool:
    return not operation.startswith(_READ_PREFIXES) and operation != "Invoke"


def error_code(exc: BaseException) -> str:
    if isinstance(exc, ClientError):
        return str(exc.response.get("Error", {}).get("Code", ""))
    return ""


def _role_not_ready(service: str, operation: str, exc: ClientError) -> bool:
    # A freshly created IAM role takes a few seconds to propagate to Lambda; until then
    # CreateFunction answers "cannot be assumed by Lambda".
    message = str(exc.response.get("Error", {}).get("Message", ""))
    return (service == "lambda" and error_code(exc) == "InvalidParameterValueException"
            and "assume" in message.lower())


def _hint_for(code: str, service: str) -> str:
    if code in {"AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "AuthorizationError"}:
        return f"your AWS identity lacks a {service} permission; use a profile allowed to manage {service}"
    if code in {"InvalidClientTokenId", "UnrecognizedClientException", "SignatureDoesNotMatch",
                "InvalidSignatureException", "ExpiredToken", "ExpiredTokenException"}:
        return "your AWS credentials are invalid or expired; refresh them (aws sso login / aws configure)"
    if code in RETRYABLE_CODES:
        return "AWS kept refusing the call as busy or throttled; wait a minute and rerun (deploy resumes)"
    if code in {"CodeStorageExceededException"}:
        return "the account's Lambda code storage is full; delete old layer or function versions"
    if code in {"RequestEntityTooLargeException"}:
        return "the upload is over Lambda's limit; slim the layer (build-layer --slim) or shrink the model"
    return "rerun to resume; `lambdapack destroy --name NAME` removes what was created"


class AwsClient:
    """boto3 clients for one account and region, with retries, error translation and a call log."""

    def __init__(self, region: str | None = None, profile: str | None = None, endpoint_url: str | None = None,
                 *, sleep: Callable[[float], None] = time.sleep, max_attempts: int = 8,
                 base_delay: float = 0.5, max_delay: float = 20.0, waiter_delay: int = 1,
                 timeouts: Timeouts = DEFAULT_TIMEOUTS, clock: Callable[[], float] = time.monotonic) -> None:
        self.profile = profile or os.environ.get("AWS_PROFILE") or None
        self.endpoint_url = endpoint_url or os.environ.get("AWS_ENDPOINT_URL") or None
        try:
            self._session = boto3.Session(profile_name=self.profile)
        except botocore.exceptions.ProfileNotFound:
            raise DeployError(f"AWS profile {self.profile!r} not found",
                              hint="check `aws configure list-profiles`, or pass --profile") from None
        self.region = (region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
                       or self._session.region_name)
        self._sleep = sleep
        self._max_attempts = max_attempts
        self._base_delay = base_delay
        self._max_delay = max_delay
        self._waiter_delay = waiter_delay
        self.timeouts = timeouts
        self._clock = clock
        self._clients: dict[str, Any] = {}
        self.calls: list[CallRecord] = []

    # -- session facts -----------------------------------------------------------------

    def check_region(self) -> str:
        """The region, or DeployError if none is configured or botocore does not know it."""
        if not self.region:
            raise DeployError("no AWS region configured",
                              hint="pass --region, or set AWS_REGION (e.g. AWS_REGION=us-east-1)")
        known: set[str] = set()
        for partition in self._session.get_available_partitions():
            known.update(self._session.get_available_regions("lambda", partition_name=partition))
        if self.region not in known:
            raise DeployError(f"unknown AWS region {self.region!r}",
                              hint="use a region Lambda runs in, e.g. us-east-1 or eu-west-1 "
                                   "(a brand-new region needs a newer boto3)")
        return self.region

    def check_credentials(self) -> str:
        """The caller's account id; DeployError if there are no usable credentials."""
        try:
            # the last place botocore looks is the instance metadata service, over the network
            # (and through any HTTPS_PROXY): a dead proxy or network fails here, not in a call
            credentials = self._session.get_credentials()
        except botocore.exceptions.BotoCoreError as exc:
            raise DeployError(f"cannot look up AWS credentials: {type(exc).__name__}: {exc}",
                              hint="set AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, or check the proxy "
                                   "(HTTPS_PROXY) and network the instance metadata service is reached through") \
                from None
        if credentials is None:
            raise DeployError("no AWS credentials found",
                              hint="run `aws configure` or `aws sso login`, or set AWS_PROFILE / AWS_ACCESS_KEY_ID")
        identity = self.call("sts", "get_caller_identity")
        return str(identity["Account"])

    @property
    def partition(self) -> str:
        if not self.region:
            return "aws"
        try:
            return str(self._session.get_partition_for_region(self.region))
        except (botocore.exceptions.BotoCoreError, ValueError):
            return "aws"  # an unknown region: check_region says so; this only names ARNs

    # -- calls -------------------------------------------------------------------------

    def client(self, service: str) -> Any:
        """The underlying boto3 client (tests register botocore event hooks on it)."""
        if service not in self._clients:
            config = botocore.config.Config(
                # retries are ours (injected sleep, one policy); botocore's would double them
                retries={"mode": "standard", "total_max_attempts": 1},
                user_agent_extra="lambdapack",
                connect_timeout=self.timeouts.connect, read_timeout=self.timeouts.read,
            )
            self._clients[service] = self._session.client(
                service, region_name=self.region, endpoint_url=self.endpoint_url, config=config)
        return self._clients[service]

    def call(self, service: str, method: str, *, retry_on: Iterable[str] = (), **params: Any) -> Any:
        """``client(service).method(**params)`` with retries and error translation."""
        client = self.client(service)
        operation = client.meta.method_to_api_mapping.get(method, method)
        write = is_write(operation)
        extra = frozenset(retry_on)
        delay = self._base_delay
        start = self._clock()
        for attempt in range(1, self._max_attempts + 1):
            wait = min(delay, self._max_delay)
            try:
                result = getattr(client, method)(**params)
            except ClientError as exc:
                code = error_code(exc)
                self.calls.append(CallRecord(service, operation, write, attempt, code))
                retry = code in RETRYABLE_CODES or code in extra or _role_not_ready(service, operation, exc)
                if retry and attempt < self._max_attempts and self._clock() - start + wait <= self.timeouts.busy:
                    self._sleep(wait)
                    delay *= 2
                    continue
                raise self._translate(exc, service, operation) from None
            except botocore.exceptions.BotoCoreError as exc:
                self.calls.append(CallRecord(service, operation, write, attempt, type(exc).__name__))
                # a read is safe to repeat after a dropped connection; a write might have
                # happened (a second CreateApi would make a second API), so it is not repeated
                if isinstance(exc, _TRANSIENT) and not write and self._another(attempt, start, wait):
                    self._sleep(wait)
                    delay *= 2
                    continue
                raise self._translate(exc, service, operation, attempt, self._clock() - start) from None
            self.calls.append(CallRecord(service, operation, write, attempt))
            return result
        raise AssertionError("unreachable")  # pragma: no cover

    def _another(self, attempt: int, start: float, wait: float) -> bool:
        return attempt < self._max_attempts and self.timeouts.allows_another(self._clock() - start, wait)

    def endpoint(self, service: str) -> str:
        """The URL requests for ``service`` go to (named in errors and progress lines)."""
        try:
            return str(self.client(service).meta.endpoint_url)
        except botocore.exceptions.BotoCoreError as exc:
            return f"no endpoint: {exc}"

    def call_or_none(self, service: str, method: str, **params: Any) -> Any:
        """Like :meth:`call`, but ``None`` when the resource does not exist."""
        try:
            return self.call(service, method, **params)
        except AwsCallError as exc:
            if exc.code in NOT_FOUND_CODES:
                return None
            raise

    def wait(self, service: str, waiter_name: str, *, limit: float = WAIT_LIMIT, **params: Any) -> None:
        """Block on a botocore waiter (e.g. ``function_active_v2``) for at most ``limit`` seconds of polling.

        Each poll is one request under the client's connect/read timeouts, so an endpoint
        that stops answering ends the wait at the first unanswered poll.
        """
        waiter = self.client(service).get_waiter(waiter_name)
        self.calls.append(CallRecord(service, f"wait:{waiter_name}", False, 1))
        attempts = max(1, math.ceil(limit / max(self._waiter_delay, 1)))
        start = self._clock()
        try:
            waiter.wait(WaiterConfig={"Delay": self._waiter_delay, "MaxAttempts": attempts}, **params)
        except botocore.exceptions.WaiterError as exc:
            reason = exc.last_response.get("Configuration", {}).get("StateReason") if exc.last_response else None
            raise DeployError(f"{service}: gave up waiting for {waiter_name} ({reason or exc.kwargs.get('reason')})",
                              hint="check the resource in the AWS console; rerun to resume") from None
        except botocore.exceptions.BotoCoreError as exc:
            raise self._translate(exc, service, waiter_name, 1, self._clock() - start) from None

    @property
    def writes(self) -> list[CallRecord]:
        return [c for c in self.calls if c.write]

    # -- translation -------------------------------------------------------------------

    def _translate(self, exc: Exception, service: str, operation: str, attempts: int = 1,
                   elapsed: float = 0.0) -> DeployError:
        if isinstance(exc, ClientError):
            code = error_code(exc)
            message = exc.response.get("Error", {}).get("Message", "") or code
            return AwsCallError(f"{service} {operation} failed: {code}: {message}",
                                hint=_hint_for(code, service), code=code)
        if isinstance(exc, botocore.exceptions.NoCredentialsError):
            return DeployError("no AWS credentials found",
                               hint="run `aws configure` or `aws sso login`, or set AWS_PROFILE")
        if isinstance(exc, botocore.exceptions.NoRegionError):
            return DeployError("no AWS region configured", hint="pass --region, or set AWS_REGION")
        if isinstance(exc, botocore.exceptions.ReadTimeoutError):
            tries = f"{attempts} attempts" if attempts > 1 else "1 attempt"
            return DeployError(
                f"{service} {operation}: no answer from {self.endpoint(service)} "
                f"(read timeout {self.timeouts.read:g} s, {tries}, {elapsed:.0f} s)",
                hint="the endpoint accepts connections but does not answer: check --endpoint-url / "
                     "AWS_ENDPOINT_URL, a proxy (HTTPS_PROXY) and your network; rerun to resume")
        if isinstance(exc, (botocore.exceptions.EndpointConnectionError, botocore.exceptions.ConnectTimeoutError)):
            return DeployError(f"{service} {operation}: cannot reach {self.endpoint(service)} ({exc})",
                               hint="check your network, --region and --endpoint-url / AWS_ENDPOINT_URL")
        if isinstance(exc, botocore.exceptions.ParamValidationError):
            return DeployError(f"{service} {operation}: invalid request ({exc})",
                               hint="this is a lambdapack bug; please report it")
        return DeployError(f"{service} {operation} failed: {type(exc).__name__}: {exc}",
                           hint="check your network and AWS configuration, then rerun")


class AwsCallError(DeployError):
    """An AWS API error, with its error code kept for callers that tolerate some of them."""

    def __init__(self, message: str, hint: str = "", code: str = "") -> None:
        super().__init__(message, hint)
        self.code = code
