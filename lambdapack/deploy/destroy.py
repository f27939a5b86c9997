"""Plan the removal of exactly what the state file says deploy created, dependents first.

Order: permissions and the API (they point at the function), the function URL, the
function, its layer versions, uploaded objects and the bucket, and last the role (the
function must be gone before its role). Every delete tolerates "already gone".
"""

from __future__ import annotations

from lambdapack.deploy.models import Action, Plan
from lambdapack.deploy.state import DeployState


def plan_destroy(state: DeployState) -> Plan:
    res = state.resources
    actions: list[Action] = []
    function = res.get("function", {}).get("name")
    if function:
        for sid in sorted(res.get("permissions", {})):
            actions.append(Action("remove_permission", "permission", f"invoke permission {sid}",
                                  {"FunctionName": function, "StatementId": sid}))
    api = res.get("api")
    if api and api.get("id"):
        if api.get("kind") == "rest":
            actions.append(Action("delete_rest_api", "api", f"REST API {api['id']}", {"restApiId": api["id"]}))
        else:
            actions.append(Action("delete_http_api", "api",
                                  f"HTTP API {api['id']} (routes, integration and stage with it)",
                                  {"ApiId": api["id"]}))
    if "url" in res and function:
        actions.append(Action("delete_function_url", "url", f"function URL of {function}",
                              {"FunctionName": function}))
    if function:
        actions.append(Action("delete_function", "function", f"function {function}", {"FunctionName": function}))
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
