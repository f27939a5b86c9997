"""Desired stack + recorded state + what AWS reports → the list of actions (pure: no I/O).

Content hashes decide whether code changed: a layer version whose description carries the
zip's sha256 is reused; a function whose ``CodeSha256`` equals the zip's is left alone; with
SnapStart, a published version whose description carries the stack's version hash is
reused (and the alias moved to it) instead of publishing another. When nothing differs the
plan is empty, so a rerun performs no write.

The front (HTTP API, REST API or function URL) and its invoke permissions are planned by
:mod:`~lambdapack.deploy.plan_front`; what AWS reports is :class:`~lambdapack.deploy.observed.Observed`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from lambdapack.deploy.models import (
    VERSION_PREFIX,
    Action,
    FunctionSpec,
    LayerSpec,
    Op,
    Plan,
    Ref,
    Stack,
)
from lambdapack.deploy.observed import Observed, VersionSeen
from lambdapack.deploy.plan_front import OUR_SIDS, plan_front, retire_old_target
from lambdapack.deploy.state import DeployState
from lambdapack.errors import DeployError


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
    plan_front(stack, seen, recorded, actions, record, notes)
    retire_old_target(stack, seen, actions)
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
