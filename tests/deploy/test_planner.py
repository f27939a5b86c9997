"""The planner is pure: desired stack + recorded state + read-backs → actions. No AWS here."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from lambdapack.deploy.destroy import plan_destroy
from lambdapack.deploy.models import (
    Action,
    ApiKind,
    ApiSpec,
    Artifact,
    BucketSpec,
    FunctionSpec,
    LayerSpec,
    Ref,
    RoleSpec,
    Stack,
    trust_policy_for,
)
from lambdapack.deploy.observed import (
    AliasSeen,
    FunctionSeen,
    HttpApiSeen,
    Observed,
    RestApiSeen,
    RoleSeen,
    UrlSeen,
    VersionSeen,
)
from lambdapack.deploy.plan_front import API_PERMISSION_SID
from lambdapack.deploy.planner import plan_deploy
from lambdapack.deploy.state import DeployState
from lambdapack.errors import DeployError

ACCOUNT = "123456789012"
BASIC = "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"
ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/lambdapack-iris-role"
LAYER_ARN = f"arn:aws:lambda:us-east-1:{ACCOUNT}:layer:iris-deps:1"
FUNCTION_ARN = f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:iris"


def artifact(sha: str, size: int = 1000) -> Artifact:
    return Artifact(Path(f"/tmp/{sha[:4]}.zip"), sha, size, size * 3)


def make_stack(api: ApiKind = ApiKind.HTTP, *, layer_sha: str = "a" * 64, function_sha: str = "b" * 64,
               memory: int = 512, via_s3: bool = False, url_auth: str = "NONE") -> Stack:
    return Stack(
        name="iris", region="us-east-1", account=ACCOUNT, partition="aws",
        role=RoleSpec("lambdapack-iris-role", trust_policy_for(), (BASIC,)),
        layer=LayerSpec("iris-deps", artifact(layer_sha), ("python3.12",), ("x86_64",), via_s3=via_s3),
        function=FunctionSpec("iris", artifact(function_sha), "python3.12", "x86_64", memory, 30, via_s3=False),
        api=ApiSpec(api, "iris-api", url_auth=url_auth),
        bucket=BucketSpec("lambdapack-123456789012-us-east-1-iris") if via_s3 else None,
    )


def converged(stack: Stack) -> Observed:
    """What AWS reports after a complete deploy of ``stack``."""
    api_id = "abc123"
    return Observed(
        role=RoleSeen(ROLE_ARN, trust_policy_for(), (BASIC,), ours=True),
        layer_version_arn=LAYER_ARN,
        function=FunctionSeen(FUNCTION_ARN, stack.function.artifact.code_sha256, "python3.12",
                              "lambda_function.lambda_handler", stack.function.memory, 30, (LAYER_ARN,), ROLE_ARN,
                              "x86_64", ours=True),
        http_api=HttpApiSeen(api_id, f"https://{api_id}.execute-api.us-east-1.amazonaws.com", "int1", FUNCTION_ARN,
                             "2.0", {r: f"r{i}" for i, r in enumerate(stack.api.routes)},
                             {r: "integrations/int1" for r in stack.api.routes}, stage=True, throttle=(50, 20.0)),
        permissions={API_PERMISSION_SID: stack.api_source_arn(api_id)},
    )


def ops(actions: tuple[Action, ...]) -> list[str]:
    return [a.op for a in actions]


def test_fresh_account_plans_every_resource_in_dependency_order() -> None:
    plan = plan_deploy(make_stack(), None, Observed())
    assert ops(plan.actions) == [
        "create_role", "attach_role_policy", "publish_layer_version", "create_function", "create_http_api",
        "create_integration", "create_route", "create_route", "create_route", "create_stage", "add_permission"]
    routes = [a.params["RouteKey"] for a in plan.actions if a.op == "create_route"]
    assert routes == ["POST /predict", "GET /predict", "GET /health"]
    create = next(a for a in plan.actions if a.op == "create_function")
    # values only an earlier step can know are references, resolved by the executor
    assert create.params["Role"] == Ref("role.arn")
    assert create.params["Layers"] == [Ref("layer.version_arn")]
    assert create.params["Handler"] == "lambda_function.lambda_handler"
    integration = next(a for a in plan.actions if a.op == "create_integration")
    assert integration.params["PayloadFormatVersion"] == "2.0"
    permission = next(a for a in plan.actions if a.op == "add_permission")
    assert permission.params["SourceArn"].render() == f"arn:aws:execute-api:us-east-1:{ACCOUNT}:${{api.id}}/*"
    assert plan.actions[0].params["AssumeRolePolicyDocument"] == trust_policy_for()


def test_nothing_changed_plans_nothing() -> None:
    stack = make_stack()
    plan = plan_deploy(stack, DeployState("iris", "us-east-1", ACCOUNT), converged(stack))
    assert plan.actions == ()
    assert not plan.changes
    # but what already exists is known to the state
    assert plan.record["function"]["arn"] == FUNCTION_ARN
    assert plan.record["layer"]["version_arn"] == LAYER_ARN


def test_new_function_code_updates_only_the_code() -> None:
    stack = make_stack()
    seen = converged(stack)
    plan = plan_deploy(make_stack(function_sha="c" * 64), None, seen)
    assert ops(plan.actions) == ["update_function_code"]
    assert plan.actions[0].params["sha256"] == "c" * 64


def test_new_memory_updates_only_the_configuration() -> None:
    seen = converged(make_stack())
    plan = plan_deploy(make_stack(memory=1024), None, seen)
    assert ops(plan.actions) == ["update_function_configuration"]
    assert plan.actions[0].params["MemorySize"] == 1024
    assert "MemorySize" in plan.actions[0].summary


def test_new_layer_content_publishes_a_version_and_repoints_the_function() -> None:
    seen = replace(converged(make_stack()), layer_version_arn=None)  # no version holds the new hash
    plan = plan_deploy(make_stack(layer_sha="d" * 64), None, seen)
    assert ops(plan.actions) == ["publish_layer_version", "update_function_configuration"]
    publish = plan.actions[0]
    assert publish.params["Description"] == f"lambdapack sha256:{'d' * 64}"
    assert publish.params["CompatibleRuntimes"] == ["python3.12"]
    assert publish.params["CompatibleArchitectures"] == ["x86_64"]
    assert plan.actions[1].params["Layers"] == [Ref("layer.version_arn")]


def test_a_big_layer_goes_through_a_private_encrypted_bucket() -> None:
    plan = plan_deploy(make_stack(via_s3=True), None, Observed())
    assert ops(plan.actions)[:6] == ["create_role", "attach_role_policy", "create_bucket", "block_public_access",
                                     "encrypt_bucket", "upload_object"]
    publish = next(a for a in plan.actions if a.op == "publish_layer_version")
    assert publish.params["content"] == {"S3Bucket": "lambdapack-123456789012-us-east-1-iris",
                                         "S3Key": f"layers/iris-deps/{'a' * 64}.zip"}


def test_a_role_lambdapack_did_not_create_is_refused() -> None:
    seen = Observed(role=RoleSeen("arn:aws:iam::1:role/x", trust_policy_for(), (BASIC,), ours=False))
    with pytest.raises(DeployError, match="did not create"):
        plan_deploy(make_stack(), None, seen)


def test_extra_policies_on_the_role_are_detached() -> None:
    stack = make_stack()
    admin = "arn:aws:iam::aws:policy/AdministratorAccess"
    seen = replace(converged(stack), role=RoleSeen(ROLE_ARN, trust_policy_for(), (BASIC, admin), ours=True))
    plan = plan_deploy(stack, None, seen)
    assert [(a.op, a.params["PolicyArn"]) for a in plan.actions] == [("detach_role_policy", admin)]


def test_a_half_built_http_api_gets_only_its_missing_parts() -> None:
    stack = make_stack()
    full = converged(stack)
    assert full.http_api is not None
    partial = replace(full.http_api, routes={"POST /predict": "r0"},
                      route_targets={"POST /predict": "integrations/int1"}, stage=False, throttle=None)
    plan = plan_deploy(stack, None, replace(full, http_api=partial, permissions={}))
    assert ops(plan.actions) == ["create_route", "create_route", "create_stage", "add_permission"]
    assert plan.actions[-1].params["SourceArn"] == stack.api_source_arn("abc123")


def test_changed_throttling_updates_the_stage() -> None:
    stack = make_stack()
    slow = replace(stack, api=replace(stack.api, throttle_burst=5, throttle_rate=1.0))
    plan = plan_deploy(slow, None, converged(stack))
    assert ops(plan.actions) == ["update_stage"]
    assert plan.actions[0].params["DefaultRouteSettings"] == {"ThrottlingBurstLimit": 5, "ThrottlingRateLimit": 1.0}


def test_a_permission_scoped_to_another_api_is_replaced() -> None:
    stack = make_stack()
    seen = replace(converged(stack), permissions={API_PERMISSION_SID: stack.api_source_arn("other")})
    plan = plan_deploy(stack, None, seen)
    assert ops(plan.actions) == ["remove_permission", "add_permission"]


def test_switching_to_a_function_url_removes_the_http_api_and_warns_about_auth_none() -> None:
    stack = make_stack()
    plan = plan_deploy(make_stack(ApiKind.URL), None, converged(stack))
    assert ops(plan.actions) == ["delete_http_api", "remove_permission", "create_function_url", "add_permission",
                                 "add_permission"]
    assert plan.actions[2].params["AuthType"] == "NONE"
    assert any("AuthType NONE" in note for note in plan.notes)


def test_function_url_with_iam_auth_needs_no_public_permission() -> None:
    plan = plan_deploy(make_stack(ApiKind.URL, url_auth="AWS_IAM"), None, Observed())
    assert "add_permission" not in ops(plan.actions)
    assert plan.notes == ()
    seen = replace(converged(make_stack()), http_api=None, permissions={},
                   url=UrlSeen("https://x.lambda-url.us-east-1.on.aws/", "NONE"))
    plan = plan_deploy(make_stack(ApiKind.URL, url_auth="AWS_IAM"), None, seen)
    assert ops(plan.actions) == ["update_function_url"]


def test_an_incomplete_rest_api_is_replaced_whole() -> None:
    seen = replace(converged(make_stack()), http_api=None, permissions={},
                   rest_api=RestApiSeen("rest1", complete=False))
    plan = plan_deploy(make_stack(ApiKind.REST), None, seen)
    assert ops(plan.actions) == ["delete_rest_api", "create_rest_api", "add_permission"]
    uri = plan.actions[1].params["uri"]
    assert uri == f"arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/{FUNCTION_ARN}/invocations"


def test_api_none_plans_no_front_and_removes_an_old_one() -> None:
    plan = plan_deploy(make_stack(ApiKind.NONE), None, converged(make_stack()))
    assert ops(plan.actions) == ["delete_http_api", "remove_permission"]


def test_destroy_plan_removes_dependents_first() -> None:
    state = DeployState("iris", "us-east-1", ACCOUNT, resources={
        "role": {"name": "lambdapack-iris-role", "arn": ROLE_ARN},
        "bucket": {"name": "b", "keys": ["layers/iris-deps/x.zip"]},
        "layer": {"name": "iris-deps", "versions": [LAYER_ARN, LAYER_ARN[:-1] + "2"]},
        "function": {"name": "iris", "arn": FUNCTION_ARN},
        "api": {"kind": "http", "id": "abc123"},
        "permissions": {API_PERMISSION_SID: "arn"},
    })
    plan = plan_destroy(state)
    assert ops(plan.actions) == ["remove_permission", "delete_http_api", "delete_function", "delete_layer_version",
                                 "delete_layer_version", "delete_object", "delete_bucket", "delete_role"]
    assert [a.params.get("VersionNumber") for a in plan.actions if a.op == "delete_layer_version"] == [1, 2]


def test_destroy_of_an_empty_state_plans_nothing() -> None:
    assert plan_destroy(DeployState("iris", "us-east-1", ACCOUNT)).actions == ()


def test_records_of_resources_removed_outside_lambdapack_are_forgotten() -> None:
    state = DeployState("iris", "us-east-1", ACCOUNT, resources={
        "function": {"name": "iris", "arn": FUNCTION_ARN}, "api": {"kind": "http", "id": "gone"},
        "url": {"url": "https://old/"}, "permissions": {API_PERMISSION_SID: "arn"}})
    plan = plan_deploy(make_stack(ApiKind.URL), state, Observed())
    assert plan.forget == ("api", "function", "permissions", "url")
    assert "create_function" in ops(plan.actions) and "create_function_url" in ops(plan.actions)
    # what is still there stays on record
    stack = make_stack()
    seen = converged(stack)
    kept = plan_deploy(stack, DeployState("iris", "us-east-1", ACCOUNT, resources={
        "api": {"kind": "http", "id": "abc123"}, "function": {"name": "iris"}}), seen)
    assert kept.forget == ()
    assert kept.record["permissions"] == {API_PERMISSION_SID: stack.api_source_arn("abc123")}


def snap_stack(api: ApiKind = ApiKind.HTTP, **kw: object) -> Stack:
    stack = make_stack(api, **kw)  # type: ignore[arg-type]
    return replace(stack, function=replace(stack.function, snapstart=True))


def snap_converged(stack: Stack) -> Observed:
    """What AWS reports after a complete SnapStart deploy of ``stack`` (version 1 behind the alias)."""
    seen = converged(stack)
    alias_arn = f"{FUNCTION_ARN}:live"
    assert seen.http_api is not None and seen.function is not None
    return replace(
        seen, function=replace(seen.function, snapstart=True),
        versions=(VersionSeen("1", stack.version_description, f"{FUNCTION_ARN}:1"),),
        alias=AliasSeen("live", "1", alias_arn), http_api=replace(seen.http_api, integration_uri=alias_arn),
        permissions={}, alias_permissions={API_PERMISSION_SID: stack.api_source_arn("abc123")})


def test_snapstart_fresh_plan_publishes_then_points_the_alias_and_the_api_at_it() -> None:
    stack = snap_stack()
    plan = plan_deploy(stack, None, Observed())
    assert ops(plan.actions) == [
        "create_role", "attach_role_policy", "publish_layer_version", "create_function", "publish_version",
        "create_alias", "create_http_api", "create_integration", "create_route", "create_route", "create_route",
        "create_stage", "add_permission"]
    by_op = {a.op: a for a in plan.actions}
    assert by_op["create_function"].params["SnapStart"] == {"ApplyOn": "PublishedVersions"}
    assert by_op["publish_version"].params["Description"] == stack.version_description
    assert by_op["create_alias"].params["FunctionVersion"] == Ref("version.number")
    assert by_op["create_integration"].params["IntegrationUri"] == Ref("function.arn", "{}:live")
    assert by_op["add_permission"].params["Qualifier"] == "live"
    assert "SnapStart" not in plan_deploy(make_stack(), None, Observed()).actions[3].params


def test_snapstart_converged_plans_nothing_even_when_aws_reports_snapstart_off() -> None:
    stack = snap_stack()
    seen = snap_converged(stack)
    assert plan_deploy(stack, None, seen).actions == ()
    assert seen.function is not None
    # moto's answer: SnapStart off on $LATEST; the version is what matters, and it holds this stack
    quiet = replace(seen, function=replace(seen.function, snapstart=False))
    plan = plan_deploy(stack, None, quiet)
    assert plan.actions == ()
    assert plan.record["version"] == {"number": "1", "arn": f"{FUNCTION_ARN}:1"}
    assert plan.record["alias"]["permissions"] == {API_PERMISSION_SID: stack.api_source_arn("abc123")}


def test_the_version_hash_covers_what_a_version_freezes() -> None:
    stack = snap_stack()
    changed = [snap_stack(function_sha="c" * 64), snap_stack(layer_sha="d" * 64), snap_stack(memory=1024),
               replace(stack, function=replace(stack.function, runtime="python3.13")),
               replace(stack, function=replace(stack.function, timeout=60)),
               replace(stack, function=replace(stack.function, arch="arm64")),
               replace(stack, layer=None)]
    descriptions = {s.version_description for s in changed}
    assert len(descriptions) == len(changed) and stack.version_description not in descriptions
    # the front is not frozen into a version: changing it publishes nothing
    assert snap_stack(ApiKind.REST).version_description == stack.version_description


def test_snapstart_new_code_updates_publishes_and_moves_the_alias() -> None:
    seen = snap_converged(snap_stack())
    plan = plan_deploy(snap_stack(function_sha="c" * 64), None, seen)
    assert ops(plan.actions) == ["update_function_code", "publish_version", "update_alias"]
    assert plan.actions[2].params["FunctionVersion"] == Ref("version.number")
    assert seen.function is not None
    off_in_aws = replace(seen, function=replace(seen.function, snapstart=False))
    plan = plan_deploy(snap_stack(function_sha="c" * 64), None, off_in_aws)
    # $LATEST reports SnapStart off: it is set again before the version is published from it
    assert ops(plan.actions) == ["update_function_code", "update_function_configuration", "publish_version",
                                 "update_alias"]
    assert plan.actions[1].params["SnapStart"] == {"ApplyOn": "PublishedVersions"}


def test_snapstart_reuses_a_version_that_already_holds_the_wanted_stack() -> None:
    stack = snap_stack()
    older = snap_stack(memory=1024)
    seen = replace(snap_converged(older), versions=(
        VersionSeen("1", stack.version_description, f"{FUNCTION_ARN}:1"),
        VersionSeen("2", older.version_description, f"{FUNCTION_ARN}:2")), alias=AliasSeen("live", "2", "a"))
    plan = plan_deploy(stack, None, seen)
    assert ops(plan.actions) == ["update_function_configuration", "update_alias"]
    assert plan.actions[1].params["FunctionVersion"] == "1"


def test_turning_snapstart_off_keeps_the_api_answering_while_it_moves() -> None:
    seen = snap_converged(snap_stack())
    plan = plan_deploy(make_stack(), None, seen)
    assert ops(plan.actions) == ["update_function_configuration", "add_permission", "update_integration",
                                 "remove_permission", "delete_alias"]
    configure, add, update, remove, delete = plan.actions
    assert configure.params["SnapStart"] == {"ApplyOn": "None"}  # AWS reported it on: the next version won't be
    assert "Qualifier" not in add.params
    assert update.params["IntegrationUri"] == FUNCTION_ARN
    assert remove.params == {"FunctionName": "iris", "StatementId": API_PERMISSION_SID, "Qualifier": "live"}
    assert delete.params == {"FunctionName": "iris", "Name": "live"}
    assert "version" not in plan.record


def test_turning_snapstart_off_on_a_function_url_moves_to_the_function_url() -> None:
    stack = snap_stack(ApiKind.URL)
    url = UrlSeen("https://alias.lambda-url.us-east-1.on.aws/", "NONE")
    seen = replace(snap_converged(stack), http_api=None, alias_url=url,
                   alias_permissions={"lambdapack-url": "", "lambdapack-url-invoke": ""})
    assert plan_deploy(stack, None, seen).actions == ()
    plan = plan_deploy(make_stack(ApiKind.URL), None, seen)
    assert ops(plan.actions) == ["update_function_configuration", "delete_function_url", "create_function_url",
                                 "add_permission", "add_permission", "remove_permission", "remove_permission",
                                 "delete_alias"]
    assert plan.actions[1].params == {"FunctionName": "iris", "Qualifier": "live"}
    assert "Qualifier" not in plan.actions[2].params


def test_no_layer_plans_no_layer_and_an_empty_layer_list() -> None:
    stack = replace(make_stack(), layer=None)
    plan = plan_deploy(stack, None, Observed())
    assert "publish_layer_version" not in ops(plan.actions)
    create = next(a for a in plan.actions if a.op == "create_function")
    assert create.params["Layers"] == []
    seen = converged(make_stack())
    dropped = plan_deploy(stack, None, seen)
    assert ops(dropped.actions) == ["update_function_configuration"]
    assert dropped.actions[0].params["Layers"] == []


def test_destroy_plan_of_a_snapstart_stack() -> None:
    state = DeployState("iris", "us-east-1", ACCOUNT, resources={
        "role": {"name": "lambdapack-iris-role", "arn": ROLE_ARN},
        "function": {"name": "iris", "arn": FUNCTION_ARN, "versions": ["1", "2"]},
        "alias": {"name": "live", "arn": f"{FUNCTION_ARN}:live", "version": "2",
                  "permissions": {"lambdapack-url": "", "lambdapack-url-invoke": ""}},
        "url": {"url": "https://x/", "auth": "NONE", "qualifier": "live"},
    })
    plan = plan_destroy(state)
    assert ops(plan.actions) == ["remove_permission", "remove_permission", "delete_function_url", "delete_alias",
                                 "delete_function", "delete_role"]
    assert {a.params.get("Qualifier") for a in plan.actions[:3]} == {"live"}
    assert plan.actions[4].summary == "function iris (and its published versions 1, 2)"
