"""Frozen models: the stack a deploy wants, and the plan of actions that gets it there.

The planner compares a :class:`Stack` (what should exist) with the recorded state and what
AWS reports, and returns a :class:`Plan` of :class:`Action` objects. Values that only exist
once an earlier action ran (a role ARN, an API id) are :class:`Ref` placeholders that the
executor resolves from the state file it keeps up to date after every action.
"""

from __future__ import annotations

import base64
import enum
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lambdapack import defaults

HANDLER = defaults.HANDLER
BASIC_EXECUTION_POLICY = "arn:{partition}:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"
STACK_TAG = "lambdapack:stack"
HTTP_ROUTES = (f"POST {defaults.PREDICT_PATH}", f"GET {defaults.PREDICT_PATH}", "GET /health")
DEFAULT_MEMORY = defaults.MEMORY_MB
DEFAULT_TIMEOUT = defaults.TIMEOUT_S
DEFAULT_THROTTLE_BURST = 50
DEFAULT_THROTTLE_RATE = 20.0
REST_STAGE = "prod"
# The alias a SnapStart stack's API calls: SnapStart applies to published versions only,
# never to $LATEST, so the front must name a version, through an alias that moves with each deploy.
SNAPSTART_ALIAS = "live"
VERSION_PREFIX = "lambdapack sha256:"


class ApiKind(str, enum.Enum):
    HTTP = "http"
    REST = "rest"
    URL = "url"
    NONE = "none"


def predict_url(endpoint: str, api: str) -> str:
    """Where a stack answers predictions: its API's prediction route, or the function URL itself
    (``--api url`` passes every path to the function)."""
    route = defaults.PREDICT_PATH if api in (ApiKind.HTTP.value, ApiKind.REST.value) else ""
    return f"{endpoint.rstrip('/')}{route}"


def trust_policy_for(service: str = "lambda.amazonaws.com") -> str:
    return json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}],
    }, sort_keys=True)


@dataclass(frozen=True)
class Artifact:
    """A zip to upload: where it is, its sha256 (hex) and sizes."""

    path: Path
    sha256: str
    size: int
    unzipped: int

    @property
    def code_sha256(self) -> str:
        """The zip's hash the way Lambda reports it (``CodeSha256``: base64 of the raw digest)."""
        return base64.b64encode(bytes.fromhex(self.sha256)).decode("ascii")


@dataclass(frozen=True)
class RoleSpec:
    name: str
    trust_policy: str
    managed_policies: tuple[str, ...]


@dataclass(frozen=True)
class BucketSpec:
    name: str


@dataclass(frozen=True)
class LayerSpec:
    name: str
    artifact: Artifact
    runtimes: tuple[str, ...]
    architectures: tuple[str, ...]
    via_s3: bool

    @property
    def description(self) -> str:
        # the content hash travels with the layer version, so a lost state file still finds it
        return f"lambdapack sha256:{self.artifact.sha256}"

    @property
    def s3_key(self) -> str:
        return f"layers/{self.name}/{self.artifact.sha256}.zip"


@dataclass(frozen=True)
class FunctionSpec:
    name: str
    artifact: Artifact
    runtime: str
    arch: str
    memory: int
    timeout: int
    via_s3: bool
    handler: str = HANDLER
    snapstart: bool = False

    @property
    def s3_key(self) -> str:
        return f"functions/{self.name}/{self.artifact.sha256}.zip"

    @property
    def alias(self) -> str | None:
        """The alias the front calls, or ``None`` when it calls the function itself ($LATEST)."""
        return SNAPSTART_ALIAS if self.snapstart else None


@dataclass(frozen=True)
class ApiSpec:
    kind: ApiKind
    name: str
    routes: tuple[str, ...] = HTTP_ROUTES
    throttle_burst: int = DEFAULT_THROTTLE_BURST
    throttle_rate: float = DEFAULT_THROTTLE_RATE
    url_auth: str = "NONE"
    stage: str = "$default"


@dataclass(frozen=True)
class Stack:
    """Everything one ``deploy --name NAME`` should leave in the account."""

    name: str
    region: str
    account: str
    partition: str
    role: RoleSpec
    layer: LayerSpec | None  # None: deploy --no-layer, the function runs on the stdlib alone
    function: FunctionSpec
    api: ApiSpec
    bucket: BucketSpec | None = None

    @property
    def tags(self) -> dict[str, str]:
        return {STACK_TAG: self.name}

    @property
    def version_description(self) -> str:
        """What a published version of this stack's function carries in its description.

        A hash of everything a version freezes (code, runtime, handler, memory, timeout,
        architecture, the layer's content, the role, SnapStart): a rerun finds the version
        that already holds exactly this and publishes nothing, the way layer versions are
        found by their zip's hash. It does not depend on AWS reporting SnapStart back.
        """
        spec = self.function
        frozen = {"code": spec.artifact.sha256, "runtime": spec.runtime, "handler": spec.handler,
                  "memory": spec.memory, "timeout": spec.timeout, "arch": spec.arch,
                  "layer": self.layer.artifact.sha256 if self.layer else None, "role": self.role.name,
                  "snapstart": spec.snapstart}
        digest = hashlib.sha256(json.dumps(frozen, sort_keys=True).encode()).hexdigest()
        return f"{VERSION_PREFIX}{digest}"

    def api_source_arn(self, api_id: str) -> str:
        """The execute-api ARN that scopes the invoke permission to this one API."""
        return f"arn:{self.partition}:execute-api:{self.region}:{self.account}:{api_id}/*"


@dataclass(frozen=True)
class Ref:
    """A value recorded in the state by an earlier action: ``resource.key``, optionally formatted."""

    path: str
    template: str = "{}"

    def render(self) -> str:
        return self.template.format("${" + self.path + "}")


class Change(enum.Enum):
    """What an operation does to its resource, as a plan shows it: its mark."""

    ADD = "+"
    MODIFY = "~"
    REMOVE = "-"


class Op(str, enum.Enum):
    """Every operation a plan can hold: the executor runs each through its own handler (one entry
    each in ``Executor.HANDLERS``); a plan shows each with its :class:`Change`. The value is the
    operation's name in ``--json`` plans and ``--dry-run`` output."""

    change: Change

    def __new__(cls, value: str, change: Change) -> Op:
        member = str.__new__(cls, value)
        member._value_ = value
        member.change = change
        return member

    # role
    CREATE_ROLE = "create_role", Change.ADD
    ATTACH_ROLE_POLICY = "attach_role_policy", Change.ADD
    DETACH_ROLE_POLICY = "detach_role_policy", Change.REMOVE
    UPDATE_ASSUME_ROLE_POLICY = "update_assume_role_policy", Change.MODIFY
    DELETE_ROLE = "delete_role", Change.REMOVE
    # bucket
    CREATE_BUCKET = "create_bucket", Change.ADD
    BLOCK_PUBLIC_ACCESS = "block_public_access", Change.MODIFY
    ENCRYPT_BUCKET = "encrypt_bucket", Change.MODIFY
    UPLOAD_OBJECT = "upload_object", Change.ADD
    DELETE_OBJECT = "delete_object", Change.REMOVE
    DELETE_BUCKET = "delete_bucket", Change.REMOVE
    # layer
    PUBLISH_LAYER_VERSION = "publish_layer_version", Change.ADD
    DELETE_LAYER_VERSION = "delete_layer_version", Change.REMOVE
    # function
    CREATE_FUNCTION = "create_function", Change.ADD
    UPDATE_FUNCTION_CODE = "update_function_code", Change.MODIFY
    UPDATE_FUNCTION_CONFIGURATION = "update_function_configuration", Change.MODIFY
    DELETE_FUNCTION = "delete_function", Change.REMOVE
    # SnapStart: published version and alias
    PUBLISH_VERSION = "publish_version", Change.ADD
    CREATE_ALIAS = "create_alias", Change.ADD
    UPDATE_ALIAS = "update_alias", Change.MODIFY
    DELETE_ALIAS = "delete_alias", Change.REMOVE
    # HTTP API
    CREATE_HTTP_API = "create_http_api", Change.ADD
    CREATE_INTEGRATION = "create_integration", Change.ADD
    UPDATE_INTEGRATION = "update_integration", Change.MODIFY
    CREATE_ROUTE = "create_route", Change.ADD
    UPDATE_ROUTE = "update_route", Change.MODIFY
    CREATE_STAGE = "create_stage", Change.ADD
    UPDATE_STAGE = "update_stage", Change.MODIFY
    DELETE_HTTP_API = "delete_http_api", Change.REMOVE
    # REST API
    CREATE_REST_API = "create_rest_api", Change.ADD
    UPDATE_REST_INTEGRATION = "update_rest_integration", Change.MODIFY
    DELETE_REST_API = "delete_rest_api", Change.REMOVE
    # function URL and invoke permissions
    CREATE_FUNCTION_URL = "create_function_url", Change.ADD
    UPDATE_FUNCTION_URL = "update_function_url", Change.MODIFY
    DELETE_FUNCTION_URL = "delete_function_url", Change.REMOVE
    ADD_PERMISSION = "add_permission", Change.ADD
    REMOVE_PERMISSION = "remove_permission", Change.REMOVE


@dataclass(frozen=True)
class Action:
    """One step of a plan: an operation the executor knows, on one resource, with its inputs."""

    op: Op
    resource: str
    summary: str
    params: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Plan:
    """The ordered actions of a deploy or destroy, plus state facts known without any action."""

    name: str
    region: str
    account: str
    actions: tuple[Action, ...]
    record: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    notes: tuple[str, ...] = ()
    forget: tuple[str, ...] = ()  # recorded resources AWS no longer has (removed outside lambdapack)

    @property
    def changes(self) -> bool:
        return bool(self.actions)
