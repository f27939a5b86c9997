"""Plan the removal of exactly what the state file says deploy created, dependents first.

Order: permissions and the API (they point at the function or its alias), the function
URL, the SnapStart alias, the function (its published versions go with it), its layer
versions, uploaded objects and the bucket, and last the role (the function must be gone
before its role). Every delete tolerates "already gone".
"""

from __future__ import annotations

from lambdapack.deploy.models import Action, Plan
from lambdapack.deploy.state import DeployState


def plan_destroy(state: DeployState) -> Plan:
    res = state.resources
    actions: list[Action] = []
    function = res.get("function", {}).get("name")
    alias = res.get("alias") or {}
    if function:
        for sid in sorted(res.get("permissions", {})):
            actions.append(Action("remove_permission", "permission", f"invoke permission {sid}",
                                  {"FunctionName": function, "StatementId": sid}))
        for sid in sorted(alias.get("permissions") or {}):
            actions.append(Action("remove_permission", "permission", f"invoke permission {sid} on {function}:"
                                  f"{alias['name']}", {"FunctionName": function, "StatementId": sid,
                                                      "Qualifier": alias["name"]}))
    api = res.get("api")
    if api and api.get("id"):
        if api.get("kind") == "rest":
            actions.append(Action("delete_rest_api", "api", f"REST API {api['id']}", {"restApiId": api["id"]}))
        else:
            actions.append(Action("delete_http_api", "api",
                                  f"HTTP API {api['id']} (routes, integration and stage with it)",
                                  {"ApiId": api["id"]}))
    if "url" in res and function:
        qualifier = res["url"].get("qualifier")
        actions.append(Action("delete_function_url", "url",
                              f"function URL of {function}{':' + qualifier if qualifier else ''}",
                              {"FunctionName": function, **({"Qualifier": qualifier} if qualifier else {})}))
    if alias.get("name") and function:
        actions.append(Action("delete_alias", "alias", f"alias {alias['name']}",
                              {"FunctionName": function, "Name": alias["name"]}))
    if function:
        versions = res["function"].get("versions") or []
        with_versions = f" (and its published version{'s' if len(versions) > 1 else ''} {', '.join(versions)})"
        actions.append(Action("delete_function", "function", f"function {function}{with_versions if versions else ''}",
                              {"FunctionName": function}))
    layer = res.get("layer", {})
    for arn in layer.get("versions", []):
        name, version = arn.rsplit(":", 2)[-2:]
        actions.append(Action("delete_layer_version", "layer", f"layer version {name}:{version}",
                              {"LayerName": name, "VersionNumber": int(version), "arn": arn}))
    bucket = res.get("bucket", {}).get("name")
    if bucket:
        for key in res.get("bucket", {}).get("keys", []):
            actions.append(Action("delete_object", "bucket", f"s3://{bucket}/{key}", {"Bucket": bucket, "Key": key}))
        actions.append(Action("delete_bucket", "bucket", f"S3 bucket {bucket}", {"Bucket": bucket}))
    role = res.get("role", {}).get("name")
    if role:
        actions.append(Action("delete_role", "role", f"IAM role {role} (detaching its policies first)",
                              {"RoleName": role}))
    return Plan(state.name, state.region, state.account, tuple(actions))
