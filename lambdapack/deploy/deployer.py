"""``deploy`` and ``destroy`` as library calls: pre-flight, read back, plan, execute.

The CLI calls :func:`deploy` / :func:`destroy` and renders the frozen result; tests call
them with their own :class:`AwsClient` (pointed at a moto server, with a recording log).
Every check that needs no AWS runs first (:func:`check_local`), so a refused request
(``--snapstart`` on python3.11, ``--no-layer`` for a function that needs its layer) changes
nothing. A ``--dry-run`` that cannot reach AWS (no region, no credentials, no network) still
prints the plan, as if nothing existed, marked as not compared with AWS.
"""

from __future__ import annotations

import contextlib
import hashlib
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from filelock import FileLock, Timeout

from lambdapack import defaults, targets
from lambdapack.deploy import preflight
from lambdapack.deploy.aws import AwsClient
from lambdapack.deploy.destroy import plan_destroy
from lambdapack.deploy.executor import Executor
from lambdapack.deploy.models import (
    BASIC_EXECUTION_POLICY,
    DEFAULT_MEMORY,
    DEFAULT_THROTTLE_BURST,
    DEFAULT_THROTTLE_RATE,
    DEFAULT_TIMEOUT,
    Action,
    ApiKind,
    ApiSpec,
    BucketSpec,
    FunctionSpec,
    LayerSpec,
    Op,
    Plan,
    RoleSpec,
    Stack,
    trust_policy_for,
)
from lambdapack.deploy.observe import read_back
from lambdapack.deploy.observed import Observed
from lambdapack.deploy.planner import plan_deploy
from lambdapack.deploy.state import DeployState, load_state, remove_state, save_state, state_path
from lambdapack.errors import DeployError

URL_AUTH_TYPES = ("NONE", "AWS_IAM")


@dataclass(frozen=True)
class DeployRequest:
    name: str
    layer: Path | None = None
    function: Path | None = None
    model: Path | None = None
    runtime: str | None = None
    arch: str | None = None
    memory: int = DEFAULT_MEMORY
    timeout: int = DEFAULT_TIMEOUT
    api: ApiKind = ApiKind.HTTP
    url_auth: str = "NONE"
    throttle_burst: int = DEFAULT_THROTTLE_BURST
    throttle_rate: float = DEFAULT_THROTTLE_RATE
    region: str | None = None
    profile: str | None = None
    endpoint_url: str | None = None
    root: Path | None = None  # where .lambdapack/ lives (default: the current directory)
    snapstart: bool = False  # publish a SnapStart version behind the alias "live"; the front calls the alias
    no_layer: bool = False  # the function alone (its function.json must say it needs no layer)


@dataclass(frozen=True)
class Step:
    """One planned (or performed) action, as shown to the user."""

    op: Op
    resource: str
    summary: str

    @classmethod
    def of(cls, action: Action) -> Step:
        return cls(action.op, action.resource, action.summary)


@dataclass(frozen=True)
class DeployResult:
    name: str
    region: str
    account: str
    api: str
    dry_run: bool
    steps: tuple[Step, ...]
    notes: tuple[str, ...]
    function_arn: str | None
    layer_version_arn: str | None
    endpoint: str | None
    state_file: str
    write_calls: int
    snapstart: bool = False
    version: str | None = None  # the published version the alias points at (SnapStart)
    alias_arn: str | None = None  # what the front invokes (SnapStart); else the function ARN
    compared_with_aws: bool = True
    not_compared_reason: str | None = None  # why a dry run planned as if nothing existed


@dataclass(frozen=True)
class DestroyResult:
    name: str
    region: str
    dry_run: bool
    steps: tuple[Step, ...]
    state_file: str
    write_calls: int


def bucket_name(account: str, region: str, name: str) -> str:
    """The stack's upload bucket: readable when the name allows it, else a stable hash."""
    readable = f"lambdapack-{account}-{region}-{name.lower()}"
    if len(readable) <= 63 and re.fullmatch(r"[a-z0-9-]+", readable) and name == name.lower():
        return readable
    return f"lambdapack-{account}-{region}-{hashlib.sha256(name.encode()).hexdigest()[:10]}"


def default_layer_path(runtime: str | None, arch: str | None) -> Path:
    return defaults.layer_zip(f"{runtime or targets.DEFAULT_RUNTIME}-{arch or targets.DEFAULT_ARCH}")


def _function_zip(request: DeployRequest, root: Path) -> Path:
    if request.function is not None and request.model is not None:
        raise DeployError("--function and --model are exclusive", hint="pass one of them")
    if request.model is None:
        return request.function or root / defaults.FUNCTION_ZIP
    return package_model(request.model, root, request.name)


def package_model(model_dir: Path, root: Path, name: str) -> Path:
    """Package ``model_dir`` with the handler into ``.lambdapack/build/NAME-function.zip``."""
    from lambdapack.function.package import package_function

    return package_function(Path(model_dir), root / ".lambdapack" / "build" / f"{name}-function.zip").path


def check_local(request: DeployRequest, root: Path) -> preflight.DeployInputs:
    """Every check that needs no AWS: name, limits, the zips, runtime/arch, versions, SnapStart, --no-layer."""
    preflight.check_name(request.name)
    preflight.check_limits(request.memory, request.timeout)
    if request.url_auth not in URL_AUTH_TYPES:
        raise DeployError(f"unknown function URL auth type {request.url_auth!r}",
                          hint="use NONE (public) or AWS_IAM (signed requests)")
    if request.no_layer:
        inputs = _function_only(request, root)
    else:
        layer_path = request.layer or root / default_layer_path(request.runtime, request.arch)
        layer = preflight.read_layer_zip(Path(layer_path))
        if request.snapstart and (request.runtime or layer.runtime):
            # the runtime decides before anything else does: no point packaging or comparing versions
            preflight.check_snapstart(str(request.runtime or layer.runtime))
        function = preflight.read_function_zip(Path(_function_zip(request, root)))
        inputs = preflight.check_inputs(layer, function, request.runtime, request.arch)
    if request.snapstart:
        preflight.check_snapstart(inputs.runtime)
    return inputs


def _function_only(request: DeployRequest, root: Path) -> preflight.DeployInputs:
    from lambdapack.function.manifest import read_function_manifest, require_layer_free

    if request.layer is not None:
        raise DeployError("--layer and --no-layer are exclusive", hint="drop one of them")
    path = Path(_function_zip(request, root))
    function = preflight.read_function_zip(path)
    manifest = read_function_manifest(path)
    require_layer_free(manifest, path)
    # the runtime the function was packaged for, unless --runtime says otherwise
    return preflight.check_function_only(function, request.runtime or manifest.runtime, request.arch)


def build_stack(request: DeployRequest, inputs: preflight.DeployInputs, region: str, account: str,
                partition: str) -> Stack:
    """The desired stack from checked inputs and the account."""
    name = request.name
    function = inputs.function
    function_s3 = function.artifact.size > targets.DIRECT_UPLOAD_LIMIT
    layer = None
    if inputs.layer is not None:
        layer = LayerSpec(f"{name}-deps", inputs.layer.artifact, (inputs.runtime,), (inputs.arch,),
                          via_s3=inputs.layer.artifact.size > targets.DIRECT_UPLOAD_LIMIT)
    return Stack(
        name=name, region=region, account=account, partition=partition,
        role=RoleSpec(f"lambdapack-{name}-role", trust_policy_for(),
                      (BASIC_EXECUTION_POLICY.format(partition=partition),)),
        layer=layer,
        function=FunctionSpec(name, function.artifact, inputs.runtime, inputs.arch, request.memory,
                              request.timeout, via_s3=function_s3, snapstart=request.snapstart),
        api=ApiSpec(request.api, f"{name}-api", throttle_burst=request.throttle_burst,
                    throttle_rate=request.throttle_rate, url_auth=request.url_auth,
                    stage="$default" if request.api is ApiKind.HTTP else "prod"),
        bucket=(BucketSpec(bucket_name(account, region, name))
                if function_s3 or (layer is not None and layer.via_s3) else None),
    )


def _check_state(state: DeployState | None, stack: Stack, path: Path) -> None:
    if state is None:
        return
    if (state.region, state.account) != (stack.region, stack.account):
        raise DeployError(
            f"{path} records stack {stack.name!r} in account {state.account}, {state.region}; "
            f"this deploy targets {stack.account}, {stack.region}",
            hint=f"pass --region {state.region} (and the matching profile), or destroy it first")


@contextlib.contextmanager
def stack_lock(path: Path) -> Iterator[None]:
    """One deploy or destroy of a stack at a time in this directory (they share the state file)."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    try:
        with FileLock(str(path) + ".lock", timeout=0):
            yield
    except Timeout:
        raise DeployError(f"another deploy or destroy of {path.stem!r} is running here",
                          hint="wait for it to finish, then rerun") from None


def endpoint_of(state: DeployState) -> str | None:
    api = state.resources.get("api") or {}
    if api.get("endpoint"):
        return str(api["endpoint"])
    url = state.resources.get("url") or {}
    return str(url["url"]) if url.get("url") else None


# What a dry run that could not read AWS shows for facts only AWS knows (no braces: the
# plan's references are str.format templates).
UNKNOWN_REGION = "<region>"
UNKNOWN_ACCOUNT = "<account>"


def deploy(request: DeployRequest, *, aws: AwsClient | None = None, dry_run: bool = False,
           on_action: Callable[[Action], None] | None = None,
           on_step: Callable[[str], None] | None = None) -> DeployResult:
    """Check, read back, plan and (unless ``dry_run``) apply; ``on_step`` hears each phase as it starts."""
    root = request.root or Path.cwd()
    step = on_step or (lambda message: None)
    inputs = check_local(request, root)
    aws = aws or AwsClient(request.region, request.profile, request.endpoint_url)
    step(f"checking the AWS region and credentials (sts GetCallerIdentity at {aws.endpoint('sts')})")
    offline: str | None = None
    try:
        region, account = aws.check_region(), aws.check_credentials()
    except DeployError as exc:
        offline = _offline_or_raise(exc, dry_run)
        region, account = aws.region or UNKNOWN_REGION, UNKNOWN_ACCOUNT
    stack = build_stack(request, inputs, region, account, aws.partition)
    path = state_path(stack.name, root)
    writes_before = len(aws.writes)
    # the lock covers reading the state too: a plan made from a record another run is changing is wrong
    with contextlib.nullcontext() if dry_run else stack_lock(path):
        state = load_state(path)
        seen = Observed()
        if offline is None:
            _check_state(state, stack, path)
            step(f"reading back what exists for {stack.name} in {region}")
            try:
                seen = read_back(aws, stack, state)
            except DeployError as exc:
                offline = _offline_or_raise(exc, dry_run)
        if offline is not None:
            state = None  # nothing could be read: the plan is the one for an empty account, and says so
        step(f"planning {stack.name}")
        plan = plan_deploy(stack, state, seen)
        final = state or DeployState(stack.name, stack.region, stack.account, api=stack.api.kind.value)
        if dry_run:
            final.update({resource: None for resource in plan.forget})
            final.update({k: dict(v) for k, v in plan.record.items()})
        else:
            final.api = stack.api.kind.value
            if not path.exists():
                save_state(path, final)
            final = Executor(aws, final, path, on_action).execute(plan)
            save_state(path, final)
    return DeployResult(
        name=stack.name, region=stack.region, account=stack.account, api=stack.api.kind.value, dry_run=dry_run,
        steps=tuple(Step.of(a) for a in plan.actions), notes=plan.notes,
        function_arn=final.get("function.arn"), layer_version_arn=final.get("layer.version_arn"),
        endpoint=endpoint_of(final), state_file=str(path), write_calls=len(aws.writes) - writes_before,
        snapstart=request.snapstart, version=final.get("version.number") if request.snapstart else None,
        alias_arn=final.get("alias.arn") if request.snapstart else None,
        compared_with_aws=offline is None, not_compared_reason=offline)


def _offline_or_raise(exc: DeployError, dry_run: bool) -> str:
    """A dry run plans without AWS when it cannot read it (the reason is shown); a deploy stops."""
    if not dry_run:
        raise exc
    return exc.message


def destroy(name: str, *, region: str | None = None, profile: str | None = None, endpoint_url: str | None = None,
            root: Path | None = None, aws: AwsClient | None = None, dry_run: bool = False,
            on_action: Callable[[Action], None] | None = None,
            on_step: Callable[[str], None] | None = None) -> DestroyResult:
    preflight.check_name(name)
    path = state_path(name, root)
    state = load_state(path)
    if state is None:
        raise DeployError(f"no deployment named {name!r} here ({path} does not exist)",
                          hint="run destroy from the directory you deployed from, or check --name")
    aws = aws or AwsClient(region or state.region, profile, endpoint_url)
    if aws.region != state.region:
        raise DeployError(f"stack {name!r} lives in {state.region}, not {aws.region}",
                          hint=f"pass --region {state.region}")
    plan: Plan = plan_destroy(state)
    writes_before = len(aws.writes)
    if not dry_run:
        if on_step is not None:
            on_step(f"checking the AWS region and credentials (sts GetCallerIdentity at {aws.endpoint('sts')})")
        aws.check_region()
        if aws.check_credentials() != state.account:
            raise DeployError(f"stack {name!r} lives in account {state.account}, not in the current one",
                              hint="use the profile of the account you deployed to (--profile)")
        with stack_lock(path):
            current = load_state(path)  # what the record says now, not before the lock
            if current is None:
                raise DeployError(f"{path} disappeared while destroy waited", hint="nothing left to destroy")
            plan = plan_destroy(current)
            Executor(aws, current, path, on_action).execute(plan)
            remove_state(path)
    return DestroyResult(name=name, region=state.region, dry_run=dry_run,
                         steps=tuple(Step.of(a) for a in plan.actions), state_file=str(path),
                         write_calls=len(aws.writes) - writes_before)

