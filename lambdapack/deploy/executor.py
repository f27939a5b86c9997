"""Run a plan's actions through :class:`AwsClient`, recording the state file after each one.

Each operation (:class:`~lambdapack.deploy.models.Op`) has one handler method, found through
:attr:`Executor.HANDLERS`, that makes its calls and returns the state facts it created. The
executor merges them and writes the state file before the next action, so
a failure halfway leaves an accurate record: a rerun plans only what is missing, and
``destroy`` removes exactly what exists.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, ClassVar

from lambdapack.deploy.aws import NOT_FOUND_CODES, SNAPSHOT_WAIT_LIMIT, AwsCallError, AwsClient
from lambdapack.deploy.models import STACK_TAG, Action, Op, Plan, Ref
from lambdapack.deploy.state import DeployState, save_state
from lambdapack.errors import DeployError

Changes = dict[str, dict[str, Any] | None]


def resolve(value: Any, state: DeployState) -> Any:
    """Replace every :class:`Ref` in ``value`` by the recorded fact it names."""
    if isinstance(value, Ref):
        found = state.get(value.path)
        if found is None:
            raise DeployError(f"the plan needs {value.path}, which no earlier step recorded",
                              hint="this is a lambdapack bug; rerun deploy to re-plan from AWS")
        return value.template.format(found)
    if isinstance(value, Mapping):
        return {k: resolve(v, state) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [resolve(v, state) for v in value]
    return value


def _read_bytes(path: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise DeployError(f"cannot read {path}: {exc.strerror}", hint="check the path and rerun") from None


class Executor:
    def __init__(self, aws: AwsClient, state: DeployState, state_file: Path,
                 on_action: Callable[[Action], None] | None = None) -> None:
        self.aws = aws
        self.state = state
        self.state_file = state_file
        self._on_action = on_action or (lambda action: None)

    def execute(self, plan: Plan) -> DeployState:
        if plan.record or plan.forget:
            self.state.update({resource: None for resource in plan.forget})
            self.state.update(plan.record)
            save_state(self.state_file, self.state)
        for action in plan.actions:
            self._on_action(action)
            handler = self.HANDLERS.get(action.op)
            if handler is None:
                raise DeployError(f"unknown plan operation {action.op!r}", hint="this is a lambdapack bug")
            changes: Changes = handler(self, resolve(action.params, self.state))
            if changes:
                self.state.update(changes)
            # saved after every step, also those that record through state.replace (create_http_api):
            # a failure in the next step must find this one's resource on record
            save_state(self.state_file, self.state)
        return self.state

    # -- role ----------------------------------------------------------------------------

    def _do_create_role(self, p: dict[str, Any]) -> Changes:
        role = self.aws.call("iam", "create_role", Description="lambdapack execution role",
                             Tags=[{"Key": STACK_TAG, "Value": self.state.name}], **p)["Role"]
        # record before waiting: if the wait fails, destroy still knows the role exists
        self.state.update({"role": {"name": p["RoleName"], "arn": role["Arn"], "policies": []}})
        save_state(self.state_file, self.state)
        self.aws.wait("iam", "role_exists", RoleName=p["RoleName"])
        return {}

    def _do_attach_role_policy(self, p: dict[str, Any]) -> Changes:
        self.aws.call("iam", "attach_role_policy", **p)
        policies = list(self.state.get("role.policies") or [])
        return {"role": {"policies": sorted({*policies, p["PolicyArn"]})}}

    def _do_detach_role_policy(self, p: dict[str, Any]) -> Changes:
        self.aws.call("iam", "detach_role_policy", **p)
        policies = [arn for arn in self.state.get("role.policies") or [] if arn != p["PolicyArn"]]
        return {"role": {"policies": policies}}

    def _do_update_assume_role_policy(self, p: dict[str, Any]) -> Changes:
        self.aws.call("iam", "update_assume_role_policy", **p)
        return {}

    # -- bucket --------------------------------------------------------------------------

    def _do_create_bucket(self, p: dict[str, Any]) -> Changes:
        params: dict[str, Any] = {"Bucket": p["Bucket"]}
        # us-east-1 is the one region that refuses an explicit location constraint
        if self.aws.region != "us-east-1":
            params["CreateBucketConfiguration"] = {"LocationConstraint": self.aws.region}
        self.aws.call("s3", "create_bucket", ObjectOwnership="BucketOwnerEnforced", **params)
        return {"bucket": {"name": p["Bucket"], "keys": []}}

    def _do_block_public_access(self, p: dict[str, Any]) -> Changes:
        self.aws.call("s3", "put_public_access_block", Bucket=p["Bucket"], PublicAccessBlockConfiguration={
            "BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True,
            "RestrictPublicBuckets": True})
        return {}

    def _do_encrypt_bucket(self, p: dict[str, Any]) -> Changes:
        self.aws.call("s3", "put_bucket_encryption", Bucket=p["Bucket"], ServerSideEncryptionConfiguration={
            "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}, "BucketKeyEnabled": True}]})
        return {}

    def _do_upload_object(self, p: dict[str, Any]) -> Changes:
        try:
            with open(p["path"], "rb") as body:
                self.aws.call("s3", "put_object", Bucket=p["Bucket"], Key=p["Key"], Body=body,
                              ServerSideEncryption="AES256")
        except OSError as exc:
            raise DeployError(f"cannot read {p['path']}: {exc.strerror}", hint="check the path and rerun") from None
        keys = list(self.state.get("bucket.keys") or [])
        return {"bucket": {"keys": sorted({*keys, p["Key"]})}}

    # -- layer ---------------------------------------------------------------------------

    def _do_publish_layer_version(self, p: dict[str, Any]) -> Changes:
        source = p["content"]
        content = ({"ZipFile": _read_bytes(source["path"])} if "path" in source else
                   {"S3Bucket": source["S3Bucket"], "S3Key": source["S3Key"]})
        got = self.aws.call("lambda", "publish_layer_version", LayerName=p["LayerName"],
                            Description=p["Description"], Content=content,
                            CompatibleRuntimes=p["CompatibleRuntimes"],
                            CompatibleArchitectures=p["CompatibleArchitectures"])
        versions = list(self.state.get("layer.versions") or [])
        return {"layer": {"name": p["LayerName"], "arn": got["LayerArn"], "version_arn": got["LayerVersionArn"],
                          "sha256": p["sha256"], "versions": [*versions, got["LayerVersionArn"]]}}

    # -- function ------------------------------------------------------------------------

    @staticmethod
    def _code(code: dict[str, Any]) -> dict[str, Any]:
        if "path" in code:
            return {"ZipFile": _read_bytes(code["path"])}
        return {"S3Bucket": code["S3Bucket"], "S3Key": code["S3Key"]}

    def _do_create_function(self, p: dict[str, Any]) -> Changes:
        params = {k: v for k, v in p.items() if k not in ("code", "sha256")}
        got = self.aws.call("lambda", "create_function", Code=self._code(p["code"]), PackageType="Zip",
                            Description="lambdapack: scikit-learn prediction API",
                            Tags={STACK_TAG: self.state.name}, **params)
        self.state.update({"function": {"name": p["FunctionName"], "arn": got["FunctionArn"],
                                        "sha256": p["sha256"]}})
        save_state(self.state_file, self.state)
        self.aws.wait("lambda", "function_active_v2", FunctionName=p["FunctionName"])
        return {}

    def _do_update_function_code(self, p: dict[str, Any]) -> Changes:
        name = p["FunctionName"]
        # an update still in progress answers ResourceConflictException: wait first
        self.aws.wait("lambda", "function_updated_v2", FunctionName=name)
        self.aws.call("lambda", "update_function_code", FunctionName=name, Architectures=p["Architectures"],
                      **self._code(p["code"]))
        self.aws.wait("lambda", "function_updated_v2", FunctionName=name)
        return {"function": {"sha256": p["sha256"]}}

    def _do_update_function_configuration(self, p: dict[str, Any]) -> Changes:
        self.aws.wait("lambda", "function_updated_v2", FunctionName=p["FunctionName"])
        self.aws.call("lambda", "update_function_configuration", **p)
        self.aws.wait("lambda", "function_updated_v2", FunctionName=p["FunctionName"])
        return {}

    def _do_delete_function(self, p: dict[str, Any]) -> Changes:
        # its published versions and aliases go with it
        self._tolerate_gone("lambda", "delete_function", **p)
        return {"function": None, "version": None, "alias": None}

    # -- SnapStart: published version and alias ------------------------------------------

    def _do_publish_version(self, p: dict[str, Any]) -> Changes:
        name = p["FunctionName"]
        self.aws.wait("lambda", "function_updated_v2", FunctionName=name)
        # CodeSha256: Lambda refuses to publish if $LATEST holds other code than the zip planned
        got = self.aws.call("lambda", "publish_version", **p)
        number, arn = str(got["Version"]), str(got["FunctionArn"])
        versions = sorted({*(self.state.get("function.versions") or []), number}, key=int)
        self.state.update({"function": {"versions": versions}, "version": {"number": number, "arn": arn}})
        save_state(self.state_file, self.state)
        # the version is Pending while SnapStart initialises the function and takes its snapshot
        self.aws.wait("lambda", "function_active_v2", limit=SNAPSHOT_WAIT_LIMIT, FunctionName=name,
                      Qualifier=number)
        return {}

    def _do_create_alias(self, p: dict[str, Any]) -> Changes:
        got = self.aws.call("lambda", "create_alias", **p)
        return {"alias": {"name": p["Name"], "arn": got["AliasArn"], "version": p["FunctionVersion"],
                          "permissions": {}}}

    def _do_update_alias(self, p: dict[str, Any]) -> Changes:
        self.aws.call("lambda", "update_alias", **p)
        return {"alias": {"version": p["FunctionVersion"]}}

    def _do_delete_alias(self, p: dict[str, Any]) -> Changes:
        self._tolerate_gone("lambda", "delete_alias", **p)
        return {"alias": None, "version": None}

    # -- HTTP API ------------------------------------------------------------------------

    def _do_create_http_api(self, p: dict[str, Any]) -> Changes:
        got = self.aws.call("apigatewayv2", "create_api", Tags={STACK_TAG: self.state.name}, **p)
        # a new API: nothing recorded for an earlier one (deleted outside lambdapack) still applies
        self.state.replace("api", {"kind": "http", "id": got["ApiId"], "endpoint": got.get("ApiEndpoint", ""),
                                   "routes": {}})
        return {}

    def _do_create_integration(self, p: dict[str, Any]) -> Changes:
        got = self.aws.call("apigatewayv2", "create_integration", **p)
        return {"api": {"integration_id": got["IntegrationId"]}}

    def _do_update_integration(self, p: dict[str, Any]) -> Changes:
        self.aws.call("apigatewayv2", "update_integration", **p)
        return {}

    def _do_create_route(self, p: dict[str, Any]) -> Changes:
        got = self.aws.call("apigatewayv2", "create_route", **p)
        routes = dict(self.state.get("api.routes") or {})
        routes[p["RouteKey"]] = got["RouteId"]
        return {"api": {"routes": routes}}

    def _do_update_route(self, p: dict[str, Any]) -> Changes:
        self.aws.call("apigatewayv2", "update_route", **p)
        return {}

    def _do_create_stage(self, p: dict[str, Any]) -> Changes:
        self.aws.call("apigatewayv2", "create_stage", **p)
        return {"api": {"stage": p["StageName"]}}

    def _do_update_stage(self, p: dict[str, Any]) -> Changes:
        self.aws.call("apigatewayv2", "update_stage", **p)
        return {}

    def _do_delete_http_api(self, p: dict[str, Any]) -> Changes:
        self._tolerate_gone("apigatewayv2", "delete_api", **p)
        return {"api": None}

    # -- REST API ------------------------------------------------------------------------

    def _do_create_rest_api(self, p: dict[str, Any]) -> Changes:
        aws = self.aws
        api = aws.call("apigateway", "create_rest_api", name=p["name"], endpointConfiguration={"types": ["REGIONAL"]},
                       tags={STACK_TAG: self.state.name})
        api_id = api["id"]
        self.state.replace("api", {"kind": "rest", "id": api_id, "complete": False})
        save_state(self.state_file, self.state)
        root = next(r["id"] for r in aws.call("apigateway", "get_resources", restApiId=api_id)["items"]
                    if r["path"] == "/")
        proxy = aws.call("apigateway", "create_resource", restApiId=api_id, parentId=root, pathPart="{proxy+}")
        for resource_id in (root, proxy["id"]):
            aws.call("apigateway", "put_method", restApiId=api_id, resourceId=resource_id, httpMethod="ANY",
                     authorizationType="NONE")
            aws.call("apigateway", "put_integration", restApiId=api_id, resourceId=resource_id, httpMethod="ANY",
                     type="AWS_PROXY", integrationHttpMethod="POST", uri=p["uri"])
        aws.call("apigateway", "create_deployment", restApiId=api_id, stageName=p["stage"],
                 description="lambdapack")
        aws.call("apigateway", "update_stage", restApiId=api_id, stageName=p["stage"], patchOperations=[
            {"op": "replace", "path": "/*/*/throttling/burstLimit", "value": str(p["burst"])},
            {"op": "replace", "path": "/*/*/throttling/rateLimit", "value": str(p["rate"])},
        ])
        endpoint = (f"https://{api_id}.execute-api.{aws.region}.amazonaws.com/{p['stage']}")
        return {"api": {"complete": True, "stage": p["stage"], "endpoint": endpoint}}

    def _do_update_rest_integration(self, p: dict[str, Any]) -> Changes:
        aws = self.aws
        api_id = p["restApiId"]
        resources = aws.call("apigateway", "get_resources", restApiId=api_id, limit=500)["items"]
        for resource in resources:
            if resource["path"] in ("/", "/{proxy+}"):
                # PutIntegration replaces the method's integration; a deployment makes the stage use it
                aws.call("apigateway", "put_integration", restApiId=api_id, resourceId=resource["id"],
                         httpMethod="ANY", type="AWS_PROXY", integrationHttpMethod="POST", uri=p["uri"])
        aws.call("apigateway", "create_deployment", restApiId=api_id, stageName=p["stage"],
                 description="lambdapack")
        return {}

    def _do_delete_rest_api(self, p: dict[str, Any]) -> Changes:
        self._tolerate_gone("apigateway", "delete_rest_api", **p)
        return {"api": None}

    # -- function URL and permissions ----------------------------------------------------

    def _do_create_function_url(self, p: dict[str, Any]) -> Changes:
        got = self.aws.call("lambda", "create_function_url_config", **p)
        return {"url": {"url": got["FunctionUrl"], "auth": p["AuthType"], "qualifier": p.get("Qualifier")}}

    def _do_update_function_url(self, p: dict[str, Any]) -> Changes:
        self.aws.call("lambda", "update_function_url_config", **p)
        return {"url": {"auth": p["AuthType"]}}

    def _do_delete_function_url(self, p: dict[str, Any]) -> Changes:
        self._tolerate_gone("lambda", "delete_function_url_config", **p)
        return {"url": None}

    def _do_add_permission(self, p: dict[str, Any]) -> Changes:
        self.aws.call("lambda", "add_permission", **p)
        if p.get("Qualifier"):
            sids = dict(self.state.get("alias.permissions") or {})
            sids[p["StatementId"]] = p.get("SourceArn", "")
            return {"alias": {"permissions": sids}}
        sids = dict(self.state.resources.get("permissions", {}))
        sids[p["StatementId"]] = p.get("SourceArn", "")
        return {"permissions": sids}

    def _do_remove_permission(self, p: dict[str, Any]) -> Changes:
        self._tolerate_gone("lambda", "remove_permission", **p)
        if p.get("Qualifier"):
            kept = {k: v for k, v in (self.state.get("alias.permissions") or {}).items() if k != p["StatementId"]}
            return {"alias": {"permissions": kept}} if "alias" in self.state.resources else {}
        sids = {k: v for k, v in self.state.resources.get("permissions", {}).items() if k != p["StatementId"]}
        self.state.replace("permissions", sids)
        return {}

    # -- destroy-only operations ---------------------------------------------------------

    def _do_delete_layer_version(self, p: dict[str, Any]) -> Changes:
        self._tolerate_gone("lambda", "delete_layer_version", LayerName=p["LayerName"],
                            VersionNumber=p["VersionNumber"])
        versions = [v for v in self.state.get("layer.versions") or [] if v != p["arn"]]
        return {"layer": {"versions": versions}} if versions else {"layer": None}

    def _do_delete_object(self, p: dict[str, Any]) -> Changes:
        self._tolerate_gone("s3", "delete_object", **p)
        keys = [k for k in self.state.get("bucket.keys") or [] if k != p["Key"]]
        return {"bucket": {"keys": keys}}

    def _do_delete_bucket(self, p: dict[str, Any]) -> Changes:
        self._tolerate_gone("s3", "delete_bucket", **p)
        return {"bucket": None}

    def _do_delete_role(self, p: dict[str, Any]) -> Changes:
        name = p["RoleName"]
        attached = self.aws.call_or_none("iam", "list_attached_role_policies", RoleName=name)
        for policy in (attached or {}).get("AttachedPolicies", []):
            self._tolerate_gone("iam", "detach_role_policy", RoleName=name, PolicyArn=policy["PolicyArn"])
        self._tolerate_gone("iam", "delete_role", RoleName=name)
        return {"role": None}

    def _tolerate_gone(self, service: str, method: str, **params: Any) -> None:
        try:
            self.aws.call(service, method, **params)
        except AwsCallError as exc:
            if exc.code not in NOT_FOUND_CODES:
                raise

    # -- the dispatch table: one handler per operation ------------------------------------

    HANDLERS: ClassVar[Mapping[Op, Callable[[Executor, dict[str, Any]], Changes]]] = {
        Op.CREATE_ROLE: _do_create_role,
        Op.ATTACH_ROLE_POLICY: _do_attach_role_policy,
        Op.DETACH_ROLE_POLICY: _do_detach_role_policy,
        Op.UPDATE_ASSUME_ROLE_POLICY: _do_update_assume_role_policy,
        Op.CREATE_BUCKET: _do_create_bucket,
        Op.BLOCK_PUBLIC_ACCESS: _do_block_public_access,
        Op.ENCRYPT_BUCKET: _do_encrypt_bucket,
        Op.UPLOAD_OBJECT: _do_upload_object,
        Op.PUBLISH_LAYER_VERSION: _do_publish_layer_version,
        Op.CREATE_FUNCTION: _do_create_function,
        Op.UPDATE_FUNCTION_CODE: _do_update_function_code,
        Op.UPDATE_FUNCTION_CONFIGURATION: _do_update_function_configuration,
        Op.DELETE_FUNCTION: _do_delete_function,
        Op.PUBLISH_VERSION: _do_publish_version,
        Op.CREATE_ALIAS: _do_create_alias,
        Op.UPDATE_ALIAS: _do_update_alias,
        Op.DELETE_ALIAS: _do_delete_alias,
        Op.CREATE_HTTP_API: _do_create_http_api,
        Op.CREATE_INTEGRATION: _do_create_integration,
        Op.UPDATE_INTEGRATION: _do_update_integration,
        Op.CREATE_ROUTE: _do_create_route,
        Op.UPDATE_ROUTE: _do_update_route,
        Op.CREATE_STAGE: _do_create_stage,
        Op.UPDATE_STAGE: _do_update_stage,
        Op.DELETE_HTTP_API: _do_delete_http_api,
        Op.CREATE_REST_API: _do_create_rest_api,
        Op.UPDATE_REST_INTEGRATION: _do_update_rest_integration,
        Op.DELETE_REST_API: _do_delete_rest_api,
        Op.CREATE_FUNCTION_URL: _do_create_function_url,
        Op.UPDATE_FUNCTION_URL: _do_update_function_url,
        Op.DELETE_FUNCTION_URL: _do_delete_function_url,
        Op.ADD_PERMISSION: _do_add_permission,
        Op.REMOVE_PERMISSION: _do_remove_permission,
        Op.DELETE_LAYER_VERSION: _do_delete_layer_version,
        Op.DELETE_OBJECT: _do_delete_object,
        Op.DELETE_BUCKET: _do_delete_bucket,
        Op.DELETE_ROLE: _do_delete_role,
    }
