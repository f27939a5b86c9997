"""Desired stack + recorded state + what AWS reports → the list of actions (pure: no I/O).

Content hashes decide whether code changed: a layer version whose description carries the
zip's sha256 is reused; a function whose ``CodeSha256`` equals the zip's is left alone; with
SnapStart, a published version whose description carries the stack's version hash is
reused (and the alias moved to it) instead of publishing another. When nothing differs the
plan is empty, so a rerun performs no write.

With SnapStart the front (HTTP API integration, REST integration, function URL) and its
invoke permission name the alias ``live``; without it, the function itself. Switching
either way adds the new permission before the front moves, and retires the old one (and
the alias) after, so the API keeps answering while it changes.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from lambdapack.deploy.models import (
    SNAPSTART_ALIAS,
    VERSION_PREFIX,
    Action,
    ApiKind,
    FunctionSpec,
    LayerSpec,
    Op,
    Plan,
    Ref,
    Stack,
)
from lambdapack.deploy.state import DeployState
from lambdapack.errors import DeployError

API_PERMISSION_SID = "lambdapack-api"
URL_PERMISSION_SID = "lambdapack-url"
URL_INVOKE_PERMISSION_SID = "lambdapack-url-invoke"
OUR_SIDS = (API_PERMISSION_SID, URL_PERMISSION_SID, URL_INVOKE_PERMISSION_SID)


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


def _policy(document: str) -> str:
    return json.dumps(json.loads(document), sort_keys=True)


def plan_deploy(stack: Stack, state: DeployState | None, seen: Observed) -> Plan:
    actions: list[Action] = []
    record: dict[str, dict[str, Any]] = {}
    notes: list[str] = []
    recorded = state.resources if state else {}

    _plan_role(stack, seen, recorded, actions, record)
    if stack.bucket:
        _plan_bucket(stack, seen, actions, record)
    if stack.layer:
        _plan_layer(stack, stack.layer, seen, recorded, actions, record)
    published = matching_version(stack, seen) if stack.function.snapstart else None
    _plan_function(stack, seen, recorded, actions, record,
                   publishing=stack.function.snapstart and published is None)
    if stack.function.snapstart:
        _plan_alias(stack, seen, published, actions, record)
    _plan_api(stack, seen, recorded, actions, record, notes)
    _retire_old_target(stack, seen, actions)
    # permissions found on the function are lambdapack's own statement ids: keep them on record
    ours = {sid: arn for sid, arn in seen.permissions.items() if sid in OUR_SIDS}
    if ours:
        record["permissions"] = ours
    if seen.alias is not None:
        # on record until destroy or a deploy without --snapstart removes it
        record["alias"] = {"name": seen.alias.name, "arn": seen.alias.arn, "version": seen.alias.version,
                           "permissions": {s: a for s, a in seen.alias_permissions.items() if s in OUR_SIDS}}
    gone = {"api": seen.http_api is None and seen.rest_api is None and "api" not in record,
            "url": seen.url is None and seen.alias_url is None, "function": seen.function is None,
            "permissions": not ours, "alias": seen.alias is None,
            "version": published is None}
    forget = tuple(sorted(r for r, missing in gone.items() if missing and r in recorded))
    return Plan(stack.name, stack.region, stack.account, tuple(actions), record, tuple(notes), forget)


def matching_version(stack: Stack, seen: Observed) -> VersionSeen | None:
    """The newest published version that froze exactly what this deploy wants, if any."""
    wanted = stack.version_description
    found = [v for v in seen.versions if v.description == wanted]
    return max(found, key=lambda v: int(v.number)) if found else None


def qualified(arn: Any, alias: str | None) -> Any:
    """The ARN the front invokes: the function's, or its alias's (``ARN:alias``), also for a :class:`Ref`."""
    if alias is None:
        return arn
    if isinstance(arn, Ref):
        return Ref(arn.path, arn.template + f":{alias}")
    return f"{arn}:{alias}"


def _qualifier(alias: str | None) -> dict[str, str]:
    return {"Qualifier": alias} if alias else {}


def _plan_role(stack: Stack, seen: Observed, recorded: Mapping[str, Any],
               actions: list[Action], record: dict[str, dict[str, Any]]) -> None:
    spec = stack.role
    role = seen.role
    if role is None:
        actions.append(Action(Op.CREATE_ROLE, "role", f"IAM role {spec.name} (trust lambda.amazonaws.com)",
                              {"RoleName": spec.name, "AssumeRolePolicyDocument": spec.trust_policy}))
        for arn in spec.managed_policies:
            actions.append(Action(Op.ATTACH_ROLE_POLICY, "role", f"attach {arn.rsplit('/', 1)[-1]} to {spec.name}",
                                  {"RoleName": spec.name, "PolicyArn": arn}))
        return
    if not role.ours and "role" not in recorded:
        raise DeployError(f"IAM role {spec.name} exists but lambdapack did not create it for stack {stack.name!r}",
                          hint="choose another --name, or delete that role")
    record["role"] = {"name": spec.name, "arn": role.arn}
    if _policy(role.trust_policy) != _policy(spec.trust_policy):
        actions.append(Action(Op.UPDATE_ASSUME_ROLE_POLICY, "role", f"reset the trust policy of {spec.name}",
                              {"RoleName": spec.name, "PolicyDocument": spec.trust_policy}))
    for arn in spec.managed_policies:
        if arn not in role.policies:
            actions.append(Action(Op.ATTACH_ROLE_POLICY, "role", f"attach {arn.rsplit('/', 1)[-1]} to {spec.name}",
                                  {"RoleName": spec.name, "PolicyArn": arn}))
    # least privilege: anything else attached to lambdapack's own role goes
    for arn in role.policies:
        if arn not in spec.managed_policies:
            actions.append(Action(Op.DETACH_ROLE_POLICY, "role", f"detach {arn} from {spec.name}",
                                  {"RoleName": spec.name, "PolicyArn": arn}))


def _plan_bucket(stack: Stack, seen: Observed, actions: list[Action], record: dict[str, dict[str, Any]]) -> None:
    assert stack.bucket is not None
    name = stack.bucket.name
    bucket = seen.bucket
    if bucket is None:
        actions.append(Action(Op.CREATE_BUCKET, "bucket", f"S3 bucket {name} for uploads over the direct limit",
                              {"Bucket": name}))
    else:
        # every object in the stack's own bucket is lambdapack's (even one whose upload answer was lost)
        record["bucket"] = {"name": name, "keys": sorted(seen.objects)}
    if bucket is None or not bucket.public_access_blocked:
        actions.append(Action(Op.BLOCK_PUBLIC_ACCESS, "bucket", f"block all public access to {name}",
                              {"Bucket": name}))
    if bucket is None or not bucket.encrypted:
        actions.append(Action(Op.ENCRYPT_BUCKET, "bucket", f"default encryption (SSE-S3) on {name}",
                              {"Bucket": name}))


def _plan_layer(stack: Stack, spec: LayerSpec, seen: Observed, recorded: Mapping[str, Any],
                actions: list[Action], record: dict[str, dict[str, Any]]) -> None:
    if seen.layer_version_arn:
        # the version carries this stack's layer name and this zip's hash: it is ours to reuse (and to destroy)
        versions = list(recorded.get("layer", {}).get("versions", []))
        if seen.layer_version_arn not in versions:
            versions.append(seen.layer_version_arn)
        record["layer"] = {"name": spec.name, "version_arn": seen.layer_version_arn, "sha256": spec.artifact.sha256,
                           "versions": versions}
        return
    source = _code_source(stack, spec, seen, actions)
    actions.append(Action(
        Op.PUBLISH_LAYER_VERSION, "layer",
        f"layer {spec.name} ({spec.artifact.size:,} bytes, sha256 {spec.artifact.sha256[:12]}"
        f"{', via S3' if spec.via_s3 else ''})",
        {"LayerName": spec.name, "Description": spec.description, "content": source,
         "CompatibleRuntimes": list(spec.runtimes), "CompatibleArchitectures": list(spec.architectures),
         "sha256": spec.artifact.sha256}))


def _code_source(stack: Stack, spec: LayerSpec | FunctionSpec, seen: Observed,
                 actions: list[Action]) -> dict[str, Any]:
    """Where Lambda takes the zip from: the local file, or (over the direct-upload limit) the
    stack's bucket, planning the upload unless the object is already there (its key is the zip's hash)."""
    if not spec.via_s3:
        return {"path": str(spec.artifact.path)}
    assert stack.bucket is not None
    if spec.s3_key not in seen.objects:
        actions.append(Action(Op.UPLOAD_OBJECT, "bucket",
                              f"upload {spec.artifact.path.name} to s3://{stack.bucket.name}/{spec.s3_key}",
                              {"Bucket": stack.bucket.name, "Key": spec.s3_key, "path": str(spec.artifact.path),
                               "size": spec.artifact.size}))
    return {"S3Bucket": stack.bucket.name, "S3Key": spec.s3_key}


def _function_config(stack: Stack, role_arn: Any, layer_arn: Any) -> dict[str, Any]:
    spec = stack.function
    return {"FunctionName": spec.name, "Runtime": spec.runtime, "Handler": spec.handler, "Role": role_arn,
            "MemorySize": spec.memory, "Timeout": spec.timeout, "Layers": [layer_arn] if stack.layer else []}


def _snapstart(on: bool) -> dict[str, str]:
    return {"ApplyOn": "PublishedVersions" if on else "None"}


def _plan_function(stack: Stack, seen: Observed, recorded: Mapping[str, Any], actions: list[Action],
                   record: dict[str, dict[str, Any]], *, publishing: bool) -> None:
    spec = stack.function
    role_arn: Any = record.get("role", {}).get("arn") or Ref("role.arn")
    layer_arn: Any = record.get("layer", {}).get("version_arn") or Ref("layer.version_arn")
    code = _code_source(stack, spec, seen, actions)
    config = _function_config(stack, role_arn, layer_arn)
    fn = seen.function
    if fn is None:
        snap = {"SnapStart": _snapstart(True)} if spec.snapstart else {}
        actions.append(Action(
            Op.CREATE_FUNCTION, "function",
            f"function {spec.name} ({spec.runtime}, {spec.arch}, {spec.memory} MB, {spec.timeout} s"
            f"{', no layer' if stack.layer is None else ''}{', SnapStart' if spec.snapstart else ''})",
            {**config, **snap, "Architectures": [spec.arch], "code": code, "sha256": spec.artifact.sha256}))
        return
    if not fn.ours and "function" not in recorded:
        raise DeployError(f"Lambda function {spec.name} exists but lambdapack did not create it",
                          hint="choose another --name, or delete that function")
    record["function"] = {"name": spec.name, "arn": fn.arn,
                          "versions": sorted((v.number for v in seen.versions
                                              if v.description.startswith(VERSION_PREFIX)), key=int)}
    if fn.code_sha256 != spec.artifact.code_sha256 or fn.arch != spec.arch:
        actions.append(Action(Op.UPDATE_FUNCTION_CODE, "function",
                              f"code of {spec.name} (sha256 {spec.artifact.sha256[:12]})",
                              {"FunctionName": spec.name, "Architectures": [spec.arch], "code": code,
                               "sha256": spec.artifact.sha256}))
    current = {"Runtime": fn.runtime, "Handler": fn.handler, "Role": fn.role, "MemorySize": fn.memory,
               "Timeout": fn.timeout, "Layers": list(fn.layers)}
    changed = sorted(k for k, v in current.items() if config[k] != v)
    # $LATEST's SnapStart setting only matters when a version is published from it: it is
    # (re)asserted then, and turned off when AWS reports it on without --snapstart. Checking
    # it on every rerun would write on every rerun against a service that does not report it.
    if fn.snapstart != spec.snapstart and (publishing or not spec.snapstart):
        config = {**config, "SnapStart": _snapstart(spec.snapstart)}
        changed.append("SnapStart")
    if changed:
        actions.append(Action(Op.UPDATE_FUNCTION_CONFIGURATION, "function",
                              f"configuration of {spec.name} ({', '.join(changed)})", config))


def _plan_alias(stack: Stack, seen: Observed, published: VersionSeen | None, actions: list[Action],
                record: dict[str, dict[str, Any]]) -> None:
    """Publish a version when none holds what this deploy wants, and point the alias at it."""
    spec = stack.function
    alias = spec.alias
    assert alias is not None
    number: Any
    if published is None:
        actions.append(Action(Op.PUBLISH_VERSION, "version",
                              f"publish a version of {spec.name} (SnapStart takes its snapshot; waits until active)",
                              {"FunctionName": spec.name, "Description": stack.version_description,
                               "CodeSha256": spec.artifact.code_sha256}))
        number = Ref("version.number")
    else:
        record["version"] = {"number": published.number, "arn": published.arn}
        number = published.number
    shown = number.render() if isinstance(number, Ref) else number
    if seen.alias is None:
        actions.append(Action(Op.CREATE_ALIAS, "alias", f"alias {alias} → version {shown}",
                              {"FunctionName": spec.name, "Name": alias, "FunctionVersion": number,
                               "Description": "lambdapack: the version the API calls"}))
    elif seen.alias.version != number:
        actions.append(Action(Op.UPDATE_ALIAS, "alias", f"alias {alias}: version {seen.alias.version} → {shown}",
                              {"FunctionName": spec.name, "Name": alias, "FunctionVersion": number}))


def _retire_old_target(stack: Stack, seen: Observed, actions: list[Action]) -> None:
    """After the front moved: lambdapack's permissions on the target it left, and the alias without --snapstart."""
    fn = stack.function.name
    alias = stack.function.alias
    old, old_alias = ((seen.permissions, None) if alias else (seen.alias_permissions, SNAPSTART_ALIAS))
    where = f"{fn}:{old_alias}" if old_alias else fn
    for sid in sorted(s for s in old if s in OUR_SIDS):
        actions.append(Action(Op.REMOVE_PERMISSION, "permission", f"invoke permission {sid} on {where}",
                              {"FunctionName": fn, "StatementId": sid, **_qualifier(old_alias)}))
    if alias is None and seen.alias is not None:
        actions.append(Action(Op.DELETE_ALIAS, "alias",
                              f"alias {seen.alias.name} (deploy without --snapstart: the front calls {fn} itself)",
                              {"FunctionName": fn, "Name": seen.alias.name}))


def _plan_api(stack: Stack, seen: Observed, recorded: Mapping[str, Any], actions: list[Action],
              record: dict[str, dict[str, Any]], notes: list[str]) -> None:
    kind = stack.api.kind
    alias = stack.function.alias
    function_arn: Any = record.get("function", {}).get("arn") or Ref("function.arn")
    target = qualified(function_arn, alias)
    permissions = seen.alias_permissions if alias else seen.permissions
    # an API of another kind recorded by an earlier deploy goes first
    if seen.http_api and kind is not ApiKind.HTTP:
        actions.append(Action(Op.DELETE_HTTP_API, "api",
                              f"HTTP API {seen.http_api.id} (switching to --api {kind.value})",
                              {"ApiId": seen.http_api.id}))
    if seen.rest_api and (kind is not ApiKind.REST or not seen.rest_api.complete):
        why = "incomplete, recreated" if kind is ApiKind.REST else f"switching to --api {kind.value}"
        actions.append(Action(Op.DELETE_REST_API, "api", f"REST API {seen.rest_api.id} ({why})",
                              {"restApiId": seen.rest_api.id}))
    # AWS gives each qualifier its own function URL: one on the target this deploy does not use goes
    for url_alias, url in ((None, seen.url), (SNAPSTART_ALIAS, seen.alias_url)):
        if url is not None and (kind is not ApiKind.URL or url_alias != alias):
            where = f"{stack.function.name}:{url_alias}" if url_alias else stack.function.name
            actions.append(Action(Op.DELETE_FUNCTION_URL, "url", f"function URL of {where}",
                                  {"FunctionName": stack.function.name, **_qualifier(url_alias)}))
    wanted_sids = {ApiKind.HTTP: {API_PERMISSION_SID}, ApiKind.REST: {API_PERMISSION_SID},
                   ApiKind.URL: {URL_PERMISSION_SID, URL_INVOKE_PERMISSION_SID} if stack.api.url_auth == "NONE"
                   else set(), ApiKind.NONE: set()}[kind]
    for sid in sorted(set(permissions) - wanted_sids):
        if sid in OUR_SIDS:
            actions.append(Action(Op.REMOVE_PERMISSION, "permission", f"invoke permission {sid}",
                                  {"FunctionName": stack.function.name, "StatementId": sid, **_qualifier(alias)}))

    if kind is ApiKind.HTTP:
        _plan_http_api(stack, seen, target, permissions, actions, record)
    elif kind is ApiKind.REST:
        _plan_rest_api(stack, seen, target, permissions, actions, record)
    elif kind is ApiKind.URL:
        _plan_url(stack, seen, actions, record, notes)


def _permission(stack: Stack, permissions: Mapping[str, str], source_arn: Any, actions: list[Action]) -> None:
    alias = stack.function.alias
    current = permissions.get(API_PERMISSION_SID)
    if current is not None and current == source_arn:
        return
    if current is not None:
        actions.append(Action(Op.REMOVE_PERMISSION, "permission", f"stale invoke permission {API_PERMISSION_SID}",
                              {"FunctionName": stack.function.name, "StatementId": API_PERMISSION_SID,
                               **_qualifier(alias)}))
    shown = source_arn.render() if isinstance(source_arn, Ref) else source_arn
    invoked = f"{stack.function.name}:{alias}" if alias else stack.function.name
    actions.append(Action(Op.ADD_PERMISSION, "permission", f"allow API Gateway to invoke {invoked} "
                          f"from {shown}",
                          {"FunctionName": stack.function.name, "StatementId": API_PERMISSION_SID,
                           "Action": "lambda:InvokeFunction", "Principal": "apigateway.amazonaws.com",
                           "SourceArn": source_arn, **_qualifier(alias)}))


def _plan_http_api(stack: Stack, seen: Observed, target: Any, permissions: Mapping[str, str],
                   actions: list[Action], record: dict[str, dict[str, Any]]) -> None:
    spec = stack.api
    api = seen.http_api
    throttle = {"ThrottlingBurstLimit": spec.throttle_burst, "ThrottlingRateLimit": spec.throttle_rate}
    if api is None:
        actions.append(Action(Op.CREATE_HTTP_API, "api", f"HTTP API {spec.name}",
                              {"Name": spec.name, "ProtocolType": "HTTP"}))
        api_id: Any = Ref("api.id")
    else:
        api_id = api.id
        record["api"] = {"kind": "http", "id": api.id, "endpoint": api.endpoint}
    source_arn: Any = stack.api_source_arn(api.id) if api else Ref("api.id", stack.api_source_arn("{}"))
    integration = api.integration_id if api else None
    retarget = api is not None and integration is not None and (
        api.integration_uri != target or api.payload_version != "2.0")
    if retarget:
        # the new target must accept the API's calls before the integration sends them there
        _permission(stack, permissions, source_arn, actions)
    if integration is None:
        actions.append(Action(Op.CREATE_INTEGRATION, "api", "Lambda proxy integration (payload format 2.0)",
                              {"ApiId": api_id, "IntegrationType": "AWS_PROXY", "IntegrationUri": target,
                               "PayloadFormatVersion": "2.0", "IntegrationMethod": "POST"}))
    elif retarget:
        actions.append(Action(Op.UPDATE_INTEGRATION, "api", f"point the integration at {_shown(target)}, payload 2.0",
                              {"ApiId": api_id, "IntegrationId": integration, "IntegrationUri": target,
                               "PayloadFormatVersion": "2.0"}))
    route_target: Any = f"integrations/{integration}" if integration else Ref("api.integration_id",
                                                                              "integrations/{}")
    for route in spec.routes:
        route_id = api.routes.get(route) if api else None
        if route_id is None:
            actions.append(Action(Op.CREATE_ROUTE, "api", f"route {route}",
                                  {"ApiId": api_id, "RouteKey": route, "Target": route_target}))
        elif api is not None and api.route_targets.get(route) != route_target:
            actions.append(Action(Op.UPDATE_ROUTE, "api", f"route {route} → the integration",
                                  {"ApiId": api_id, "RouteId": route_id, "Target": route_target}))
    if api is None or not api.stage:
        actions.append(Action(Op.CREATE_STAGE, "api",
                              f"stage $default (auto-deploy, burst {spec.throttle_burst}, "
                              f"rate {spec.throttle_rate:g}/s)",
                              {"ApiId": api_id, "StageName": "$default", "AutoDeploy": True,
                               "DefaultRouteSettings": throttle}))
    elif api.throttle != (spec.throttle_burst, spec.throttle_rate):
        actions.append(Action(Op.UPDATE_STAGE, "api",
                              f"stage throttling (burst {spec.throttle_burst}, rate {spec.throttle_rate:g}/s)",
                              {"ApiId": api_id, "StageName": "$default", "DefaultRouteSettings": throttle}))
    if not retarget:
        _permission(stack, permissions, source_arn, actions)


def _shown(value: Any) -> str:
    return value.render() if isinstance(value, Ref) else str(value)


def rest_integration_uri(stack: Stack, target: Any) -> Any:
    """The REST API's Lambda proxy integration URI for ``target`` (a function or alias ARN)."""
    template = (f"arn:{stack.partition}:apigateway:{stack.region}:lambda:path/2015-03-31/functions/"
                "{}/invocations")
    if isinstance(target, Ref):
        return Ref(target.path, template.format(target.template))
    return template.format(target)


def _plan_rest_api(stack: Stack, seen: Observed, target: Any, permissions: Mapping[str, str],
                   actions: list[Action], record: dict[str, dict[str, Any]]) -> None:
    spec = stack.api
    rest = seen.rest_api
    uri = rest_integration_uri(stack, target)
    if rest is not None and rest.complete:
        record["api"] = {"kind": "rest", "id": rest.id}
        source_arn: Any = stack.api_source_arn(rest.id)
        if rest.integration_uri != uri:
            _permission(stack, permissions, source_arn, actions)
            actions.append(Action(Op.UPDATE_REST_INTEGRATION, "api",
                                  f"point the REST API's integrations at {_shown(target)}; redeploy stage "
                                  f"{spec.stage}", {"restApiId": rest.id, "uri": uri, "stage": spec.stage}))
            return
    else:
        # a REST API is a tree of resources, methods and a deployment; one that stopped
        # halfway is replaced whole rather than patched
        actions.append(Action(Op.CREATE_REST_API, "api",
                              f"REST API {spec.name}: proxy resource, ANY methods, Lambda proxy integration, "
                              f"stage {spec.stage} (burst {spec.throttle_burst}, rate {spec.throttle_rate:g}/s)",
                              {"name": spec.name, "uri": uri, "stage": spec.stage,
                               "burst": spec.throttle_burst, "rate": spec.throttle_rate}))
        source_arn = Ref("api.id", stack.api_source_arn("{}"))
    _permission(stack, permissions, source_arn, actions)


def _plan_url(stack: Stack, seen: Observed, actions: list[Action], record: dict[str, dict[str, Any]],
              notes: list[str]) -> None:
    auth = stack.api.url_auth
    fn = stack.function.name
    alias = stack.function.alias
    url = seen.alias_url if alias else seen.url
    permissions = seen.alias_permissions if alias else seen.permissions
    where = f"{fn}:{alias}" if alias else fn
    if url is None:
        actions.append(Action(Op.CREATE_FUNCTION_URL, "url", f"function URL for {where} (AuthType {auth})",
                              {"FunctionName": fn, "AuthType": auth, **_qualifier(alias)}))
    else:
        record["url"] = {"url": url.url, "auth": url.auth, "qualifier": alias}
        if url.auth != auth:
            actions.append(Action(Op.UPDATE_FUNCTION_URL, "url", f"function URL auth type → {auth}",
                                  {"FunctionName": fn, "AuthType": auth, **_qualifier(alias)}))
    if auth == "NONE":
        notes.append("the function URL has AuthType NONE: anyone with the URL can call it "
                     "(use --url-auth AWS_IAM to require signed requests)")
        if URL_PERMISSION_SID not in permissions:
            actions.append(Action(Op.ADD_PERMISSION, "permission", f"allow public calls to {where}'s URL",
                                  {"FunctionName": fn, "StatementId": URL_PERMISSION_SID,
                                   "Action": "lambda:InvokeFunctionUrl", "Principal": "*",
                                   "FunctionUrlAuthType": "NONE", **_qualifier(alias)}))
        if URL_INVOKE_PERMISSION_SID not in permissions:
            actions.append(Action(Op.ADD_PERMISSION, "permission", f"allow {where} to be invoked through its URL",
                                  {"FunctionName": fn, "StatementId": URL_INVOKE_PERMISSION_SID,
                                   "Action": "lambda:InvokeFunction", "Principal": "*",
                                   "InvokedViaFunctionUrl": True, **_qualifier(alias)}))
