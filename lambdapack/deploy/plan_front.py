"""Planning the front: the HTTP API, the REST API or the function URL, and their invoke permissions.

With SnapStart the front (HTTP API integration, REST integration, function URL) and its
invoke permission name the alias ``live``; without it, the function itself. Switching
either way adds the new permission before the front moves, and retires the old one (and
the alias) after, so the API keeps answering while it changes. A front of another kind
recorded by an earlier deploy is removed first.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lambdapack.deploy.models import SNAPSTART_ALIAS, Action, ApiKind, Op, Ref, Stack
from lambdapack.deploy.observed import Observed

API_PERMISSION_SID = "lambdapack-api"
URL_PERMISSION_SID = "lambdapack-url"
URL_INVOKE_PERMISSION_SID = "lambdapack-url-invoke"
OUR_SIDS = (API_PERMISSION_SID, URL_PERMISSION_SID, URL_INVOKE_PERMISSION_SID)


def qualified(arn: Any, alias: str | None) -> Any:
    """The ARN the front invokes: the function's, or its alias's (``ARN:alias``), also for a :class:`Ref`."""
    if alias is None:
        return arn
    if isinstance(arn, Ref):
        return Ref(arn.path, arn.template + f":{alias}")
    return f"{arn}:{alias}"


def _qualifier(alias: str | None) -> dict[str, str]:
    return {"Qualifier": alias} if alias else {}


def plan_front(stack: Stack, seen: Observed, recorded: Mapping[str, Any], actions: list[Action],
               record: dict[str, dict[str, Any]], notes: list[str]) -> None:
    """The front ``stack.api`` asks for, after removing a front of another kind and its permissions."""
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


def retire_old_target(stack: Stack, seen: Observed, actions: list[Action]) -> None:
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
