"""Read back what exists in AWS for a stack (reads only), as the planner's :class:`Observed`."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import unquote

from lambdapack.deploy.aws import AwsCallError, AwsClient
from lambdapack.deploy.models import SNAPSTART_ALIAS, STACK_TAG, ApiKind, Stack
from lambdapack.deploy.observed import (
    AliasSeen,
    BucketSeen,
    FunctionSeen,
    HttpApiSeen,
    Observed,
    RestApiSeen,
    RoleSeen,
    UrlSeen,
    VersionSeen,
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
    if spec is None:
        return None
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
        arch=(cfg.get("Architectures") or ["x86_64"])[0], ours=tags.get(STACK_TAG) == stack.name,
        snapstart=(cfg.get("SnapStart") or {}).get("ApplyOn") == "PublishedVersions")


def read_versions(aws: AwsClient, function_name: str) -> tuple[VersionSeen, ...]:
    """The function's published versions ($LATEST is not one)."""
    out: list[VersionSeen] = []
    marker: str | None = None
    while True:
        page = aws.call("lambda", "list_versions_by_function", FunctionName=function_name,
                        **({"Marker": marker} if marker else {}))
        out.extend(VersionSeen(str(v["Version"]), v.get("Description", ""), v["FunctionArn"])
                   for v in page.get("Versions", []) if v.get("Version") != "$LATEST")
        marker = page.get("NextMarker")
        if not marker:
            return tuple(out)


def read_alias(aws: AwsClient, function_name: str) -> AliasSeen | None:
    got = aws.call_or_none("lambda", "get_alias", FunctionName=function_name, Name=SNAPSTART_ALIAS)
    if got is None:
        return None
    return AliasSeen(str(got["Name"]), str(got["FunctionVersion"]), str(got["AliasArn"]))


def read_rest_integration(aws: AwsClient, api_id: str) -> str | None:
    """What the REST API's ``{proxy+}`` resource invokes (``None`` if it has no integration)."""
    resources = aws.call("apigateway", "get_resources", restApiId=api_id, limit=500).get("items", [])
    proxy = next((r for r in resources if r.get("path") == "/{proxy+}"), None)
    if proxy is None:
        return None
    got = aws.call_or_none("apigateway", "get_integration", restApiId=api_id, resourceId=proxy["id"],
                           httpMethod="ANY")
    return str(got["uri"]) if got and got.get("uri") else None


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


def read_permissions(aws: AwsClient, function_name: str, alias: bool) -> tuple[dict[str, str], dict[str, str]]:
    """Invoke permissions ``sid -> SourceArn`` on the function itself and on its alias.

    A statement's ``Resource`` says which it belongs to (``...:function:NAME:live`` for the
    alias), which holds whether the service keeps one policy per qualifier (AWS) or one for
    all of them (moto).
    """
    own: dict[str, str] = {}
    on_alias: dict[str, str] = {}
    reads = [aws.call_or_none("lambda", "get_policy", FunctionName=function_name)]
    if alias:
        reads.append(aws.call_or_none("lambda", "get_policy", FunctionName=function_name,
                                      Qualifier=SNAPSTART_ALIAS))
    for got in reads:
        for statement in json.loads(got["Policy"]).get("Statement", []) if got else []:
            condition = statement.get("Condition", {}).get("ArnLike", {})
            resource = str(statement.get("Resource", ""))
            into = on_alias if resource.endswith(f":function:{function_name}:{SNAPSTART_ALIAS}") else own
            into[statement.get("Sid", "")] = condition.get("AWS:SourceArn", "")
    return own, on_alias


def read_urls(aws: AwsClient, function_name: str, alias: bool) -> tuple[UrlSeen | None, UrlSeen | None]:
    """The function's own URL and its alias's URL."""
    def read(**qualifier: str) -> UrlSeen | None:
        got = aws.call_or_none("lambda", "get_function_url_config", FunctionName=function_name, **qualifier)
        return UrlSeen(got["FunctionUrl"], got["AuthType"]) if got is not None else None

    own = read()
    on_alias = read(Qualifier=SNAPSTART_ALIAS) if alias else None
    if own is not None and on_alias is not None and own.url == on_alias.url:
        # AWS gives each qualifier a URL of its own; one URL answering both reads is a
        # service that ignores the qualifier (moto), and the read that named the alias wins
        own = None
    return own, on_alias


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
        complete = bool(api.get("complete")) and rest_id == recorded_id
        uri = read_rest_integration(aws, rest_id) if complete else None
        rest_api = RestApiSeen(rest_id, complete=complete and uri is not None, integration_uri=uri)
    if function is None:
        return Observed(role=read_role(aws, stack), bucket=bucket, objects=objects,
                        layer_version_arn=read_layer(aws, stack), http_api=http_api, rest_api=rest_api)
    name = stack.function.name
    alias = read_alias(aws, name)
    url, alias_url = read_urls(aws, name, alias is not None)
    permissions, alias_permissions = read_permissions(aws, name, alias is not None)
    return Observed(
        role=read_role(aws, stack), bucket=bucket, objects=objects, layer_version_arn=read_layer(aws, stack),
        function=function, http_api=http_api, rest_api=rest_api, url=url, permissions=permissions,
        versions=read_versions(aws, name), alias=alias, alias_url=alias_url, alias_permissions=alias_permissions)
