"""What AWS reports for a stack's resources: :class:`Observed`, read back by :mod:`~lambdapack.deploy.observe`
and compared with the desired stack by the planner (``None`` or empty: it does not exist)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class RoleSeen:
    arn: str
    trust_policy: str  # canonical JSON (sorted keys)
    policies: tuple[str, ...]
    ours: bool


@dataclass(frozen=True)
class BucketSeen:
    name: str
    public_access_blocked: bool
    encrypted: bool


@dataclass(frozen=True)
class FunctionSeen:
    arn: str
    code_sha256: str
    runtime: str
    handler: str
    memory: int
    timeout: int
    layers: tuple[str, ...]
    role: str
    arch: str
    ours: bool
    snapstart: bool = False  # $LATEST's SnapStart ApplyOn is PublishedVersions


@dataclass(frozen=True)
class VersionSeen:
    number: str
    description: str
    arn: str


@dataclass(frozen=True)
class AliasSeen:
    name: str
    version: str
    arn: str


@dataclass(frozen=True)
class HttpApiSeen:
    id: str
    endpoint: str
    integration_id: str | None = None
    integration_uri: str | None = None
    payload_version: str | None = None
    routes: Mapping[str, str] = field(default_factory=dict)  # route key -> route id
    route_targets: Mapping[str, str] = field(default_factory=dict)  # route key -> target
    stage: bool = False
    throttle: tuple[int, float] | None = None


@dataclass(frozen=True)
class RestApiSeen:
    id: str
    complete: bool  # proxy resource, methods, integrations and the stage all recorded
    integration_uri: str | None = None  # what the proxy resource's integration invokes


@dataclass(frozen=True)
class UrlSeen:
    url: str
    auth: str


@dataclass(frozen=True)
class Observed:
    """What AWS reports for the stack's resources (``None``: it does not exist)."""

    role: RoleSeen | None = None
    bucket: BucketSeen | None = None
    objects: frozenset[str] = frozenset()
    layer_version_arn: str | None = None
    function: FunctionSeen | None = None
    http_api: HttpApiSeen | None = None
    rest_api: RestApiSeen | None = None
    url: UrlSeen | None = None  # the function's own URL (unqualified)
    permissions: Mapping[str, str] = field(default_factory=dict)  # sid -> SourceArn ("" if none)
    versions: tuple[VersionSeen, ...] = ()  # published versions (not $LATEST)
    alias: AliasSeen | None = None  # the SnapStart alias
    alias_url: UrlSeen | None = None
    alias_permissions: Mapping[str, str] = field(default_factory=dict)  # on the alias: sid -> SourceArn
