"""The plan's operations are one enum: every member has one executor handler, and every plan renders.

The scenarios below drive the planner and the destroy planner through every operation they can
emit (a fresh account for each front, drift on every resource, switching fronts and SnapStart
off, a full destroy); each action must carry an :class:`Op`, render in the CLI with its mark,
and keep its name in the ``--json`` plan.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from dataclasses import replace

from test_planner import (
    ACCOUNT,
    FUNCTION_ARN,
    LAYER_ARN,
    ROLE_ARN,
    converged,
    make_stack,
    snap_converged,
    snap_stack,
)

from lambdapack.cli.deploy import _line
from lambdapack.deploy.deployer import Step
from lambdapack.deploy.destroy import plan_destroy
from lambdapack.deploy.executor import Executor
from lambdapack.deploy.models import Action, ApiKind, Change, Op, Stack
from lambdapack.deploy.observed import (
    AliasSeen,
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
from lambdapack.ui import to_jsonable

# the operation names of the --json plan and --dry-run, as users and scripts have seen them
NAMES = {
    "create_role", "attach_role_policy", "detach_role_policy", "update_assume_role_policy", "delete_role",
    "create_bucket", "block_public_access", "encrypt_bucket", "upload_object", "delete_object", "delete_bucket",
    "publish_layer_version", "delete_layer_version", "create_function", "update_function_code",
    "update_function_configuration", "delete_function", "publish_version", "create_alias", "update_alias",
    "delete_alias", "create_http_api", "create_integration", "update_integration", "create_route", "update_route",
    "create_stage", "update_stage", "delete_http_api", "create_rest_api", "update_rest_integration",
    "delete_rest_api", "create_function_url", "update_function_url", "delete_function_url", "add_permission",
    "remove_permission",
}


def test_the_operation_names_are_the_ones_plans_have_always_shown() -> None:
    assert {op.value for op in Op} == NAMES
    assert all(op == op.value and isinstance(op, str) for op in Op)


def test_every_operation_has_exactly_one_executor_handler() -> None:
    assert set(Executor.HANDLERS) == set(Op)
    methods = {member for name, member in inspect.getmembers(Executor, inspect.isfunction) if name.startswith("_do_")}
    assert set(Executor.HANDLERS.values()) == methods  # no handler the table leaves out
    assert len(set(Executor.HANDLERS.values())) == len(Op)


def test_each_operation_is_marked_by_what_it_does_to_its_resource() -> None:
    verbs = {"create": Change.ADD, "publish": Change.ADD, "add": Change.ADD, "upload": Change.ADD,
             "attach": Change.ADD, "delete": Change.REMOVE, "remove": Change.REMOVE, "detach": Change.REMOVE}
    for op in Op:
        assert op.change is verbs.get(op.value.split("_", 1)[0], Change.MODIFY), op


def _drifted(stack: Stack) -> Observed:
    """A converged stack where every setting the planner compares has drifted."""
    seen = converged(stack)
    assert seen.role is not None and seen.function is not None and seen.http_api is not None
    return replace(
        seen,
        role=RoleSeen(ROLE_ARN, '{"Statement": []}', ("arn:aws:iam::aws:policy/AdministratorAccess",), ours=True),
        function=replace(seen.function, code_sha256="changed", memory=1024),
        http_api=HttpApiSeen(seen.http_api.id, seen.http_api.endpoint, "int1", "arn:other", "1.0",
                             seen.http_api.routes, {r: "integrations/old" for r in seen.http_api.routes},
                             stage=True, throttle=(1, 1.0)),
    )


def _plans() -> Iterator[tuple[str, tuple[Action, ...]]]:
    for kind in ApiKind:
        for via_s3 in (False, True):
            yield f"fresh {kind.value} s3={via_s3}", plan_deploy(make_stack(kind, via_s3=via_s3), None,
                                                                  Observed()).actions
            yield f"fresh snapstart {kind.value}", plan_deploy(snap_stack(kind, via_s3=via_s3), None,
                                                               Observed()).actions
        yield f"switch http -> {kind.value}", plan_deploy(make_stack(kind), None, converged(make_stack())).actions
    stack = make_stack()
    yield "drift", plan_deploy(stack, None, _drifted(stack)).actions
    rest = make_stack(ApiKind.REST)
    yield "rest retarget", plan_deploy(rest, None, replace(converged(rest), http_api=None, rest_api=RestApiSeen(
        "rest1", complete=True, integration_uri="arn:other"))).actions
    yield "rest incomplete", plan_deploy(rest, None, replace(converged(rest), http_api=None, rest_api=RestApiSeen(
        "rest1", complete=False))).actions
    url = make_stack(ApiKind.URL, url_auth="AWS_IAM")
    yield "url auth", plan_deploy(url, None, replace(converged(url), http_api=None, permissions={}, url=UrlSeen(
        "https://x.lambda-url.us-east-1.on.aws/", "NONE"))).actions
    snap = snap_stack()
    moved = replace(snap_converged(snap), alias=AliasSeen("live", "1", f"{FUNCTION_ARN}:live"),
                    versions=(VersionSeen("2", snap.version_description, f"{FUNCTION_ARN}:2"),))
    yield "snapstart alias moves", plan_deploy(snap, None, moved).actions
    yield "snapstart off", plan_deploy(make_stack(), None, snap_converged(snap)).actions
    yield "destroy", plan_destroy(DeployState("iris", "us-east-1", ACCOUNT, resources={
        "role": {"name": "lambdapack-iris-role", "arn": ROLE_ARN},
        "bucket": {"name": "b", "keys": ["layers/iris-deps/x.zip"]},
        "layer": {"name": "iris-deps", "versions": [LAYER_ARN]},
        "function": {"name": "iris", "arn": FUNCTION_ARN, "versions": ["1"]},
        "alias": {"name": "live", "permissions": {API_PERMISSION_SID: "arn"}},
        "url": {"url": "https://x/", "qualifier": "live"},
        "api": {"kind": "rest", "id": "rest1"},
        "permissions": {API_PERMISSION_SID: "arn"},
    })).actions


def test_every_plan_the_planners_emit_renders_with_its_operations_mark() -> None:
    emitted: set[Op] = set()
    marks = {Change.ADD: "[green]+[/]", Change.MODIFY: "[yellow]~[/]", Change.REMOVE: "[red]-[/]"}
    for scenario, actions in _plans():
        for action in actions:
            assert isinstance(action.op, Op), (scenario, action)
            step = Step.of(action)
            assert _line(step) == f"  {marks[action.op.change]} {action.resource:<10} {action.summary}"
            assert to_jsonable(step)["op"] == action.op.value
            emitted.add(action.op)
    assert emitted == set(Op)  # the scenarios reach every operation: none is dead, none untested here
