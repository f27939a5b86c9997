"""Plan the removal of exactly what the state file says deploy created, dependents first.

Order: permissions and the API (they point at the function or its alias), the function
URL, the SnapStart alias, the function (its published versions go with it), its layer
versions, uploaded objects and the bucket, and last the role (the function must be gone
before its role). Every delete tolerates "already gone".
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lambdapack.deploy.models import Action, Op, Plan
from lambdapack.deploy.state import DeployState


def plan_destroy(state: DeployState) -> Plan:
    res = state.resources
    function = res.get("function", {}).get("name")
    actions = [*_function_dependents(res, function), *_function_removal(res, function), *_storage_removal(res)]
    role = res.get("role", {}).get("name")
    if role:
        actions.append(Action(Op.DELETE_ROLE, "role", f"IAM role {role} (detaching its policies first)",
                              {"RoleName": role}))
    return Plan(state.name, state.region, state.account, tuple(actions))


def _function_dependents(res: Mapping[str, Any], function: str | None) -> list[Action]:
    """What points at the function or its alias: invoke permissions, then the API."""
    actions: list[Action] = []
    alias = res.get("alias") or {}
    if function:
        for sid in sorted(res.get("permissions", {})):
            actions.append(Action(Op.REMOVE_PERMISSION, "permission", f"invoke permission {sid}",
                                  {"FunctionName": function, "StatementId": sid}))
        for sid in sorted(alias.get("permissions") or {}):
            actions.append(Action(Op.REMOVE_PERMISSION, "permission", f"invoke permission {sid} on {function}:"
                                  f"{alias['name']}", {"FunctionName": function, "StatementId": sid,
                                                      "Qualifier": alias["name"]}))
    api = res.get("api")
    if api and api.get("id"):
        if api.get("kind") == "rest":
            actions.append(Action(Op.DELETE_REST_API, "api", f"REST API {api['id']}", {"restApiId": api["id"]}))
        else:
            actions.append(Action(Op.DELETE_HTTP_API, "api",
                                  f"HTTP API {api['id']} (routes, integration and stage with it)",
                                  {"ApiId": api["id"]}))
    return actions


def _function_removal(res: Mapping[str, Any], function: str | None) -> list[Action]:
    """The function URL, the SnapStart alias, then the function with its published versions."""
    if not function:
        return []
    actions: list[Action] = []
    alias = res.get("alias") or {}
    if "url" in res:
        qualifier = res["url"].get("qualifier")
        actions.append(Action(Op.DELETE_FUNCTION_URL, "url",
                              f"function URL of {function}{':' + qualifier if qualifier else ''}",
                              {"FunctionName": function, **({"Qualifier": qualifier} if qualifier else {})}))
    if alias.get("name"):
        actions.append(Action(Op.DELETE_ALIAS, "alias", f"alias {alias['name']}",
                              {"FunctionName": function, "Name": alias["name"]}))
    versions = res["function"].get("versions") or []
    with_versions = f" (and its published version{'s' if len(versions) > 1 else ''} {', '.join(versions)})"
    actions.append(Action(Op.DELETE_FUNCTION, "function", f"function {function}{with_versions if versions else ''}",
                          {"FunctionName": function}))
    return actions


def _storage_removal(res: Mapping[str, Any]) -> list[Action]:
    """The layer's versions, then the uploaded objects and their bucket."""
    actions: list[Action] = []
    for arn in res.get("layer", {}).get("versions", []):
        name, version = arn.rsplit(":", 2)[-2:]
        actions.append(Action(Op.DELETE_LAYER_VERSION, "layer", f"layer version {name}:{version}",
                              {"LayerName": name, "VersionNumber": int(version), "arn": arn}))
    bucket = res.get("bucket", {}).get("name")
    if bucket:
        for key in res.get("bucket", {}).get("keys", []):
            actions.append(Action(Op.DELETE_OBJECT, "bucket", f"s3://{bucket}/{key}", {"Bucket": bucket, "Key": key}))
        actions.append(Action(Op.DELETE_BUCKET, "bucket", f"S3 bucket {bucket}", {"Bucket": bucket}))
    return actions
