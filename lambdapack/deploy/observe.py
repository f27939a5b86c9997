"""Read back what exists in AWS for a stack (reads only), as the planner's :class:`Observed`."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import unquote

from lambdapack.deploy.aws import AwsCallError, AwsClient
from lambdapack.deploy.models import STACK_TAG, ApiKind, Stack
from lambdapack.deploy.planner import (
    BucketSeen,
    FunctionSeen,
    HttpApiSeen,
    Observed,
    RestApiSeen,
    RoleSeen,
    UrlSeen,
)
from lambdapack.deploy.state import DeployState


def _trust_document(raw: Any) -> str:
    # IAM returns the document URL-encoded on the wire; boto3 usually decodes it to a dict
    if isinstance(raw, str):
        raw = json.loads(unquote(raw))
    return json.dumps(raw, sort_keys=True)


def read_role(aws: AwsClient, stack: Stack) -> RoleSeen | None:
    got = aws.call_or_none("iam", "get_role", RoleName=stack.role.name)
    if got is None:
        return None
    role = got["Role"]
    attached = aws.call("iam", "list_attached_role_policies", RoleName=stack.role.name)
    tags = {t["Key"]: t["Value"] for t in role.get("Tags", [])}
    return RoleSeen(arn=role["Arn"], trust_policy=_trust_document(role["AssumeRolePolicyDocument"]),
                    policies=tuple(p["PolicyArn"] for p in attached.get("AttachedPolicies", [])),
                    ours=tags.get(STACK_TAG) == stack.name)


def read_bucket(aws: AwsClient, name: str) -> tuple[BucketSeen | None, frozenset[str]]:
    if aws.call_or_none("s3", "head_bucket", Bucket=name) is None:
        return None, frozenset()
    blocked = False
    try:
        pab = aws.call("s3", "get_public_access_block", Bucket=name)["PublicAccessBlockConfiguration"]
        blocked = all(pab.get(k) for k in ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy",
                                           "RestrictPublicBuckets"))
    except AwsCallError as exc:
        if exc.code != "NoSuchPublicAccessBlockConfiguration":
            raise
    encrypted = False
    try:
        rules = aws.call("s3", "get_bucket_encryption", Bucket=name)["ServerSideEncryptionConfiguration"]["Rules"]
        encrypted = bool(rules)
    except AwsCallError as exc:
        if exc.code != "ServerSideEncryptionConfigurationNotFoundError":
            raise
    keys = frozenset(o["Key"] for o in aws.call("s3", "list_objects_v2", Bucket=name).get("Contents", []))
    return BucketSeen(name, blocked, encrypted), keys


def read_layer(aws: AwsClient, stack: Stack) -> str | None:
    """The ARN of a published version holding exactly this zip for this runtime/arch, if any."""
    spec = stack.layer
    marker: str | None = None
    while True:
        listed = aws.call_or_none("lambda", "list_layer_versions", LayerName=spec.name,
                                  **({"Marker": marker} if marker else {}))
        for version in (listed or {}).get("LayerVersions", []):
            if (version.get("Description") == spec.description
                    and set(spec.runtimes) <= set(version.get("CompatibleRuntimes", []))
                    and set(spec.architectures) <= set(version.get("CompatibleArchitectures", []))):
                return str(version["LayerVersionArn"])
        marker = (listed or {}).get("NextMarker")
        if not marker:
            return None


def read_function(aws: AwsClient, stack: Stack) -> FunctionSeen | None:
    got = aws.call_or_none("lambda", "get_function", FunctionName=stack.function.name)
    if got is None:
        return None
    cfg = got["Configuration"]
    tags = got.get("Tags") or {}
    return FunctionSeen(
        arn=cfg["FunctionArn"], code_sha256=cfg.get("CodeSha256", ""), runtime=cfg.get("Runtime", ""),
        handler=cfg.get("Handler", ""), memory=int(cfg.get("MemorySize", 0)), timeout=int(cfg.get("Timeout", 0)),
        layers=tuple(layer["Arn"] for layer in cfg.get("Layers", [])), role=cfg.get("Role", ""),
        arch=(cfg.get("Architectures") or ["x86_64"])[0], ours=tags.get(STACK_TAG) == stack.name)


def read_http_api(aws: AwsClient, api_id: str) -> HttpApiSeen | None:
    api = aws.call_or_none("apigatewayv2", "get_api", ApiId=api_id)
    if api is None:
        return None
    integrations = aws.call("apigatewayv2", "get_integrations", ApiId=api_id).get("Items", [])
    integration = integrations[0] if integrations else {}
    routes = aws.call("apigatewayv2", "get_routes", ApiId=api_id).get("Items", [])
    stage = aws.call_or_none("apigatewayv2", "get_stage", ApiId=api_id, StageName="$default")
    throttle = None
    if stage is not None:
        settings = stage.get("DefaultRouteSettings") or {}
        if "ThrottlingBurstLimit" in settings:
            throttle = (int(settings["ThrottlingBurstLimit"]), float(settings.get("ThrottlingRateLimit", 0)))
    return HttpApiSeen(
        id=api_id, endpoint=api.get("ApiEndpoint", ""),
        integration_id=integration.get("IntegrationId"), integration_uri=integration.get("IntegrationUri"),
        payload_version=integration.get("PayloadFormatVersion"),
        routes={r["RouteKey"]: r["RouteId"] for r in routes},
        route_targets={r["RouteKey"]: r.get("Target", "") for r in routes},
        stage=stage is not None, throttle=throttle)


def find_tagged_http_api(aws: AwsClient, stack: Stack) -> str | None:
    """The id of this stack's HTTP API when the state does not know it (a create whose answer was lost)."""
    token: str | None = None
    while True:
        page = aws.call("apigatewayv2", "get_apis", **({"NextToken": token} if token else {}))
        for api in page.get("Items", []):
            if api.get("Name") == stack.api.name and (api.get("Tags") or {}).get(STACK_TAG) == stack.name:
                return str(api["ApiId"])
        token = page.get("NextToken")
        if not token:
            return None


def find_tagged_rest_api(aws: AwsClient, stack: Stack) -> str | None:
    position: str | None = None
    while True:
        page = aws.call("apigateway", "get_rest_apis", limit=500, **({"position": position} if position else {}))
        for api in page.get("items", []):
            if api.get("name") == stack.api.name and (api.get("tags") or {}).get(STACK_TAG) == stack.name:
                return str(api["id"])
        position = page.get("position")
        if not position:
            return None


def read_permissions(aws: AwsClient, function_name: str) -> dict[str, str]:
    got = aws.call_or_none("lambda", "get_policy", FunctionName=function_name)
    if got is None:
        return {}
    out: dict[str, str] = {}
    for statement in json.loads(got["Policy"]).get("Statement", []):
        condition = statement.get("Condition", {}).get("ArnLike", {})
        out[statement.get("Sid", "")] = condition.get("AWS:SourceArn", "")
    return out


def find_untracked_api(aws: AwsClient, stack: Stack) -> str | None:
    """The id of an API named and tagged for this stack that the state does not know.

    It exists when a create's answer was lost (a timeout after AWS had acted): without
    this look-up the rerun would create a second API and the first would outlive destroy.
    """
    if stack.api.kind is ApiKind.HTTP:
        return find_tagged_http_api(aws, stack)
    if stack.api.kind is ApiKind.REST:
        return find_tagged_rest_api(aws, stack)
    return None


def read_back(aws: AwsClient, stack: Stack, state: DeployState | None) -> Observed:
    recorded = state.resources if state else {}
    bucket, objects = (read_bucket(aws, stack.bucket.name) if stack.bucket else (None, frozenset()))
    function = read_function(aws, stack)
    api = recorded.get("api") or {}
    if not api.get("id") and stack.api.kind in (ApiKind.HTTP, ApiKind.REST):
        found = find_untracked_api(aws, stack)
        if found is not None:
            # a REST API found this way is incomplete as far as we know: the planner replaces it whole
            api = {"kind": stack.api.kind.value, "id": found, "complete": False}
    recorded_id = api.get("id")
    http_id = recorded_id if api.get("kind") == "http" else None
    rest_id = recorded_id if api.get("kind") == "rest" else None
    http_api = read_http_api(aws, http_id) if http_id else None
    rest_api = None
    if rest_id and aws.call_or_none("apigateway", "get_rest_api", restApiId=rest_id) is not None:
        # only a REST API this state saw finished is complete; an adopted one is rebuilt
        rest_api = RestApiSeen(rest_id, complete=bool(api.get("complete")) and rest_id == recorded_id)
    url = None
    if function is not None:
        got = aws.call_or_none("lambda", "get_function_url_config", FunctionName=stack.function.name)
        if got is not None:
            url = UrlSeen(got["FunctionUrl"], got["AuthType"])
    return Observed(
        role=read_role(aws, stack), bucket=bucket, objects=objects, layer_version_arn=read_layer(aws, stack),
        function=function, http_api=http_api, rest_api=rest_api, url=url,
        permissions=read_permissions(aws, stack.function.name) if function is not None else {})
