"""``lambdapack deploy``, ``destroy`` and ``export sam``: thin commands over lambdapack.deploy."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
from rich.console import Console
from rich.markup import escape

from lambdapack import defaults
from lambdapack.cli.main import json_option, runtime_option
from lambdapack.deploy.models import DEFAULT_THROTTLE_BURST, DEFAULT_THROTTLE_RATE, Change, Op, predict_url
from lambdapack.ui import console, emit, warn

if TYPE_CHECKING:
    from lambdapack.deploy.deployer import DeployResult, DestroyResult, Step
    from lambdapack.deploy.models import Action
    from lambdapack.deploy.sam import SamExport

_COLOURS = {Change.ADD: "green", Change.MODIFY: "yellow", Change.REMOVE: "red"}


def _mark(op: Op) -> str:
    change = Op(op).change
    return f"[{_COLOURS[change]}]{change.value}[/]"


def _line(step: Step | Action) -> str:
    return f"  {_mark(step.op)} {step.resource:<10} {step.summary}"


def _progress() -> Callable[[Action], None]:
    return lambda action: console.print(_line(action), soft_wrap=True)


def _phase(message: str) -> None:
    # each phase before the actions (credentials, read-back) says what it waits on
    console.print(f"[dim]… {escape(message)}[/]", soft_wrap=True, highlight=False)


def aws_options(func: Callable[..., Any]) -> Callable[..., Any]:
    for option in reversed([
        click.option("--region", default=None, help="AWS region (default: AWS_REGION / AWS_DEFAULT_REGION / profile)."),
        click.option("--profile", default=None, help="AWS profile (default: AWS_PROFILE)."),
        click.option("--endpoint-url", default=None,
                     help="Custom AWS endpoint, e.g. a local moto server (default: AWS_ENDPOINT_URL)."),
    ]):
        func = option(func)
    return func


def _render_deploy(result: DeployResult, out: Console) -> None:
    where = f"{result.region}, account {result.account}"
    if not result.compared_with_aws:
        out.print(f"[yellow]not compared with AWS[/] ({result.not_compared_reason}): "
                  "the plan below is for an account where nothing exists yet", soft_wrap=True)
    if result.dry_run:
        if not result.steps:
            out.print(f"[bold]{result.name}[/] ({where}) is up to date: the plan is empty")
        else:
            out.print(f"[bold]plan for {result.name}[/] ({where}): {len(result.steps)} action(s)")
            for step in result.steps:
                out.print(_line(step), soft_wrap=True)
        out.print("dry run: nothing was changed")
    elif not result.steps:
        out.print(f"[bold green]{result.name} is up to date[/] ({where}): nothing to change, no write made")
    else:
        out.print(f"[bold green]deployed {result.name}[/] ({where}): {len(result.steps)} action(s), "
                  f"{result.write_calls} write call(s)")
    for note in result.notes:
        warn(note)
    if result.function_arn:
        out.print(f"  function  {result.function_arn}")
    if result.alias_arn:
        out.print(f"  alias     {result.alias_arn} (version {result.version}, SnapStart)")
    if result.endpoint:
        out.print(f"  endpoint  {predict_url(result.endpoint, result.api)}")
    if not result.dry_run:
        out.print(f"  state     {result.state_file}")


@click.command("deploy")
@click.option("--name", required=True, help="Stack name: the function's name; the role, layer and API derive from it.")
@click.option("--layer", type=click.Path(path_type=Path), default=None,
              help=f"Layer zip (default: {defaults.layer_zip('<runtime>-<arch>')}).")
@click.option("--function", "function", type=click.Path(path_type=Path), default=None,
              help=f"Function zip (default: {defaults.FUNCTION_ZIP}).")
@click.option("--model", "model", type=click.Path(path_type=Path), default=None,
              help="Package this model directory on the fly instead of --function.")
@runtime_option("the layer's")
@click.option("--arch", type=click.Choice(["x86_64", "arm64"]), default=None,
              help="Architecture (default: the layer's).")
@click.option("--memory", type=int, default=defaults.MEMORY_MB, show_default=True, help="Memory in MB.")
@click.option("--timeout", type=int, default=defaults.TIMEOUT_S, show_default=True, help="Timeout in seconds.")
@click.option("--api", type=click.Choice(["http", "rest", "url", "none"]), default="http", show_default=True,
              help="Front: HTTP API, REST API, function URL, or none.")
@click.option("--url-auth", type=click.Choice(["NONE", "AWS_IAM"]), default="NONE", show_default=True,
              help="Auth type of the function URL (--api url).")
@click.option("--throttle-burst", type=int, default=DEFAULT_THROTTLE_BURST, show_default=True, help="API burst limit.")
@click.option("--throttle-rate", type=float, default=DEFAULT_THROTTLE_RATE, show_default=True,
              help="API steady rate limit (req/s).")
@click.option("--snapstart", is_flag=True,
              help="SnapStart (python3.12+): publish a version, point the alias 'live' and the API at it. "
                   "A deploy without it moves the API back to the function and removes the alias.")
@click.option("--no-layer", "no_layer", is_flag=True,
              help="Deploy the function alone, without the scikit-learn layer (its function.json must say "
                   "it needs none: a model the stdlib predictor serves).")
@aws_options
@click.option("--dry-run", is_flag=True, help="Print the plan; change nothing (without AWS access: as if nothing "
                                              "existed).")
@json_option
def deploy(name: str, layer: Path | None, function: Path | None, model: Path | None, runtime: str | None,
           arch: str | None, memory: int, timeout: int, api: str, url_auth: str, throttle_burst: int,
           throttle_rate: float, snapstart: bool, no_layer: bool, region: str | None, profile: str | None,
           endpoint_url: str | None, dry_run: bool, as_json: bool) -> None:
    """Deploy layer + function + API to AWS Lambda: plan, then apply; reruns change only what changed.

    Checks everything it can before any write (credentials, region, name, runtime/arch of the
    layer vs the function, model/layer versions, sizes). State goes to .lambdapack/NAME.json.

    \b
    Examples:
      lambdapack deploy --name iris --dry-run
      lambdapack deploy --name iris
      lambdapack deploy --name iris --snapstart
      lambdapack deploy --name iris --no-layer --api url
      lambdapack deploy --name iris --model build/model --api url --region eu-west-1
      AWS_ENDPOINT_URL=http://127.0.0.1:5000 lambdapack deploy --name iris --json
    """
    from lambdapack.deploy.deployer import DeployRequest
    from lambdapack.deploy.deployer import deploy as run_deploy
    from lambdapack.deploy.models import ApiKind

    request = DeployRequest(name=name, layer=layer, function=function, model=model, runtime=runtime, arch=arch,
                            memory=memory, timeout=timeout, api=ApiKind(api), url_auth=url_auth,
                            throttle_burst=throttle_burst, throttle_rate=throttle_rate, region=region,
                            profile=profile, endpoint_url=endpoint_url, snapstart=snapstart, no_layer=no_layer)
    emit(run_deploy(request, dry_run=dry_run, on_action=None if dry_run else _progress(), on_step=_phase),
         as_json, _render_deploy)


def _render_destroy(result: DestroyResult, out: Console) -> None:
    if result.dry_run:
        out.print(f"[bold]destroy plan for {result.name}[/] ({result.region}): {len(result.steps)} action(s)")
        for step in result.steps:
            out.print(_line(step), soft_wrap=True)
        out.print("dry run: nothing was changed")
    else:
        out.print(f"[bold green]destroyed {result.name}[/] ({result.region}): {len(result.steps)} action(s); "
                  f"{result.state_file} removed")


@click.command("destroy")
@click.option("--name", required=True, help="The stack to remove.")
@click.option("--yes", is_flag=True, help="Don't ask for confirmation.")
@click.option("--dry-run", is_flag=True, help="Print what would be removed; change nothing.")
@aws_options
@json_option
def destroy(name: str, yes: bool, dry_run: bool, region: str | None, profile: str | None,
            endpoint_url: str | None, as_json: bool) -> None:
    """Remove exactly what `deploy` created for a stack, dependents first, tolerating what is already gone.

    \b
    Examples:
      lambdapack destroy --name iris --dry-run
      lambdapack destroy --name iris --yes
    """
    from lambdapack.deploy.deployer import destroy as run_destroy

    if not dry_run and not yes:
        preview = run_destroy(name, region=region, profile=profile, endpoint_url=endpoint_url, dry_run=True)
        _render_destroy(preview, console)
        if not click.confirm(f"remove these {len(preview.steps)} resource(s)?", err=True, default=False):
            raise click.Abort()
    emit(run_destroy(name, region=region, profile=profile, endpoint_url=endpoint_url, dry_run=dry_run,
                     on_action=None if dry_run else _progress(), on_step=_phase), as_json, _render_destroy)


@click.group("export")
def export() -> None:
    """Export the stack for other deploy tools.

    \b
    Examples:
      lambdapack export sam --name iris --out template.yaml
    """


def _render_sam(result: SamExport, out: Console) -> None:
    out.print(f"[bold green]wrote[/] {result.path}: {', '.join(result.resources)} "
              f"({result.runtime}, {result.arch}{', SnapStart, alias live' if result.snapstart else ''})")
    out.print(f"  next: sam deploy --template-file {result.path} --guided")


@export.command("sam")
@click.option("--name", default="lambdapack", show_default=True, help="Function name in the template.")
@click.option("-o", "--out", type=click.Path(path_type=Path), default=Path("template.yaml"), show_default=True,
              help="Where to write the template.")
@click.option("--layer", type=click.Path(path_type=Path), default=None,
              help=f"Layer zip (default: {defaults.layer_zip('<runtime>-<arch>')}).")
@click.option("--function", "function", type=click.Path(path_type=Path), default=defaults.FUNCTION_ZIP,
              show_default=True, help="Function zip.")
@runtime_option("the layer's")
@click.option("--arch", type=click.Choice(["x86_64", "arm64"]), default=None,
              help="Architecture (default: the layer's).")
@click.option("--memory", type=int, default=defaults.MEMORY_MB, show_default=True, help="Memory in MB.")
@click.option("--timeout", type=int, default=defaults.TIMEOUT_S, show_default=True, help="Timeout in seconds.")
@click.option("--snapstart", is_flag=True,
              help="SnapStart on published versions, with AutoPublishAlias live (python3.12+).")
@json_option
def export_sam(name: str, out: Path, layer: Path | None, function: Path, runtime: str | None, arch: str | None,
               memory: int, timeout: int, snapstart: bool, as_json: bool) -> None:
    """Write a SAM/CloudFormation template (layer, function, HTTP API) for the same stack as `deploy`.

    \b
    Examples:
      lambdapack export sam
      lambdapack export sam --name iris --out infra/template.yaml --memory 1024
      lambdapack export sam --name iris --snapstart
    """
    from lambdapack.deploy.deployer import default_layer_path
    from lambdapack.deploy.sam import export_sam as run_export

    emit(run_export(name, out, layer or default_layer_path(runtime, arch), function, runtime=runtime, arch=arch,
                    memory=memory, timeout=timeout, snapstart=snapstart), as_json, _render_sam)
