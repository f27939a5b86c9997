"""The deploy, destroy, invoke --name and export sam commands, end to end through click."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import boto3
import pytest
from stackfiles import REGION

from lambdapack.deploy.remote import invoke_http

EVENTS = Path(__file__).resolve().parents[2] / "examples" / "events"


def lam():  # type: ignore[no-untyped-def]
    return boto3.client("lambda", region_name=REGION)


def test_dry_run_lists_every_action_and_changes_nothing(moto: str, name: str, artifacts, in_tmp: Path,
                                                        run_cli) -> None:
    artifacts()
    out = run_cli("deploy", "--name", name, "--dry-run", "--json")
    assert out.exit_code == 0, out.stderr
    doc = out.json()
    assert doc["dry_run"] is True
    assert [s["op"] for s in doc["steps"]] == [
        "create_role", "attach_role_policy", "publish_layer_version", "create_function", "create_http_api",
        "create_integration", "create_route", "create_route", "create_route", "create_stage", "add_permission"]
    assert doc["write_calls"] == 0
    assert not (in_tmp / ".lambdapack" / f"{name}.json").exists()
    with pytest.raises(lam().exceptions.ResourceNotFoundException):
        lam().get_function(FunctionName=name)

    human = run_cli("deploy", "--name", name, "--dry-run")
    assert f"plan for {name}" in human.stderr and "11 action(s)" in human.stderr
    assert "+ role       IAM role lambdapack-" in human.stderr
    assert "dry run: nothing was changed" in human.stderr
    assert human.stdout == ""


def test_deploy_redeploy_invoke_destroy(moto: str, name: str, artifacts, in_tmp: Path, run_cli) -> None:
    artifacts()
    first = run_cli("deploy", "--name", name, "--memory", "256")
    assert first.exit_code == 0, first.stderr
    assert f"deployed {name}" in first.stderr
    assert "endpoint  https://" in first.stderr and first.stderr.count("/predict") >= 1

    again = run_cli("deploy", "--name", name, "--memory", "256", "--json")
    assert again.exit_code == 0
    assert again.json()["steps"] == [] and again.json()["write_calls"] == 0
    assert f"{name} is up to date" not in again.stderr  # --json: the document only

    human_again = run_cli("deploy", "--name", name, "--memory", "256")
    assert f"{name} is up to date" in human_again.stderr

    # moto cannot run the code (no Docker); its Lambda answers with the request payload
    invoked = run_cli("invoke", "--name", name, "--event", "seed", "--json")
    assert invoked.exit_code == 0, invoked.stderr
    result = invoked.json()
    assert result["via"] == "lambda" and result["status_code"] == 200
    assert result["payload"] == json.loads((EVENTS / "seed-direct.json").read_text())

    declined = run_cli("destroy", "--name", name, input="n\n")
    assert declined.exit_code == 1
    assert "delete_function" not in declined.stderr and f"function {name}" in declined.stderr
    assert lam().get_function(FunctionName=name)

    dry = run_cli("destroy", "--name", name, "--dry-run", "--json")
    assert [s["op"] for s in dry.json()["steps"]] == ["remove_permission", "delete_http_api", "delete_function",
                                                      "delete_layer_version", "delete_role"]
    gone = run_cli("destroy", "--name", name, "--yes")
    assert gone.exit_code == 0, gone.stderr
    assert f"destroyed {name}" in gone.stderr
    with pytest.raises(lam().exceptions.ResourceNotFoundException):
        lam().get_function(FunctionName=name)
    again = run_cli("destroy", "--name", name, "--yes")
    assert again.exit_code == 1 and "no deployment named" in again.stderr


class _Echo(BaseHTTPRequestHandler):
    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode() if length else None
        status = 400 if body == "{}" else 200
        data = json.dumps({"method": self.command, "path": self.path, "body": body}).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = _answer

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def echo_api() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Echo)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_invoke_http_replays_api_events_and_posts_plain_features(echo_api: str) -> None:
    v2 = json.loads((EVENTS / "http-api-v2-post.json").read_text())
    sent = invoke_http("iris", v2, base_url=echo_api)
    assert sent.status_code == 200 and sent.url == f"{echo_api}/predict"
    assert sent.payload["method"] == "POST" and sent.payload["body"] == v2["body"]

    rest_get = json.loads((EVENTS / "rest-api-v1-get-query.json").read_text())
    got = invoke_http("iris", rest_get, base_url=echo_api + "/prod/")
    assert got.payload["method"] == "GET"
    assert got.payload["path"].startswith(f"/prod{rest_get['path']}?")

    plain = invoke_http("iris", {"sl": 6.9, "sw": 3.1, "pl": 5.1, "pw": 2.3}, base_url=echo_api)
    assert plain.payload["path"] == "/predict"
    assert json.loads(plain.payload["body"]) == {"sl": 6.9, "sw": 3.1, "pl": 5.1, "pw": 2.3}

    refused = invoke_http("iris", {}, base_url=echo_api)
    assert refused.status_code == 400  # an error answer is a result, not an exception


def test_export_sam_passes_cfn_lint(artifacts, in_tmp: Path, run_cli) -> None:
    artifacts()
    out = run_cli("export", "sam", "--name", "iris", "--out", "infra/template.yaml", "--memory", "1024", "--json")
    assert out.exit_code == 0, out.stderr
    assert out.json()["resources"] == ["DependenciesLayer", "PredictFunction", "HttpApi"]
    template = (in_tmp / "infra" / "template.yaml").read_text()
    assert 'CodeUri: "../dist/function.zip"' in template
    assert "MemorySize: 1024" in template and "{{" not in template
    assert "      SnapStart:" not in template and "      AutoPublishAlias:" not in template

    snap = run_cli("export", "sam", "--name", "iris", "--out", "infra/snapstart.yaml", "--snapstart", "--json")
    assert snap.exit_code == 0, snap.stderr
    assert snap.json()["snapstart"] is True
    snap_template = (in_tmp / "infra" / "snapstart.yaml").read_text()
    function = snap_template[snap_template.index("  PredictFunction:"):snap_template.index("      Events:")]
    assert "      SnapStart:\n        ApplyOn: PublishedVersions\n      AutoPublishAlias: live\n" in function
    assert "Value: !Ref PredictFunction.Alias" in snap_template

    # a deliberately broken copy proves the linter is live; the exported ones must be clean
    broken = in_tmp / "infra" / "broken.yaml"
    broken.write_text(template.replace("MemorySize: 1024", "MemorySize: 99999"))
    broken_snap = in_tmp / "infra" / "broken-snapstart.yaml"
    broken_snap.write_text(snap_template.replace("ApplyOn: PublishedVersions", "ApplyOn: Always"))
    cfn_lint = shutil.which("cfn-lint", path=str(Path(sys.executable).parent)) or "cfn-lint"
    done = subprocess.run([cfn_lint, "--format", "parseable", "infra/template.yaml", "infra/snapstart.yaml",
                           "infra/broken.yaml", "infra/broken-snapstart.yaml"],
                          capture_output=True, text=True, check=False, timeout=300)
    assert done.returncode != 0
    problems = [line for line in done.stdout.splitlines() if line.strip()]
    flagged = {line.split(":", 1)[0] for line in problems}
    assert flagged == {"infra/broken.yaml", "infra/broken-snapstart.yaml"}, done.stdout


def sam_transform(template: Path, monkeypatch: pytest.MonkeyPatch) -> dict:  # type: ignore[type-arg]
    """The CloudFormation SAM's own translator makes of ``template`` (after ``sam package`` put the zips on S3)."""
    from samtranslator.translator.transform import transform
    from samtranslator.yaml_helper import yaml_parse

    class NoManagedPolicies:
        def load(self) -> dict[str, str]:
            return {}

    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)  # the translator fills in the pseudo parameters
    document = yaml_parse(template.read_text())
    document["Resources"]["PredictFunction"]["Properties"]["CodeUri"] = "s3://bucket/function.zip"
    document["Resources"]["DependenciesLayer"]["Properties"]["ContentUri"] = "s3://bucket/layer.zip"
    return dict(transform(document, {}, NoManagedPolicies()))


def test_sam_routes_the_api_to_the_snapstart_alias(artifacts, in_tmp: Path, run_cli,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    artifacts()
    assert run_cli("export", "sam", "--name", "iris", "--snapstart").exit_code == 0
    resources = sam_transform(in_tmp / "template.yaml", monkeypatch)["Resources"]
    (alias_id,) = [k for k, v in resources.items() if v["Type"] == "AWS::Lambda::Alias"]
    assert resources[alias_id]["Properties"]["Name"] == "live"
    assert resources["PredictFunction"]["Properties"]["SnapStart"] == {"ApplyOn": "PublishedVersions"}
    paths = resources["HttpApi"]["Properties"]["Body"]["paths"]
    for path, method in (("/predict", "post"), ("/predict", "get"), ("/health", "get")):
        uri = paths[path][method]["x-amazon-apigateway-integration"]["uri"]["Fn::Sub"]
        assert f"/functions/${{{alias_id}}}/invocations" in uri
    permissions = [v["Properties"] for v in resources.values() if v["Type"] == "AWS::Lambda::Permission"]
    assert len(permissions) == 3 and all(p["FunctionName"] == {"Ref": alias_id} for p in permissions)

    assert run_cli("export", "sam", "--name", "iris").exit_code == 0
    plain = sam_transform(in_tmp / "template.yaml", monkeypatch)["Resources"]
    assert not [k for k, v in plain.items() if v["Type"] == "AWS::Lambda::Alias"]
    uri = plain["HttpApi"]["Properties"]["Body"]["paths"]["/predict"]["post"]["x-amazon-apigateway-integration"]
    assert "${PredictFunction.Arn}" in uri["uri"]["Fn::Sub"]


def test_export_sam_snapstart_is_refused_on_python_3_11(in_tmp: Path, run_cli) -> None:
    from stackfiles import write_function, write_layer

    write_layer(in_tmp / "dist" / "layer-python3.11-x86_64.zip", runtime="python3.11")
    write_function(in_tmp / "dist" / "function.zip")
    out = run_cli("export", "sam", "--runtime", "python3.11", "--snapstart")
    assert out.exit_code == 1
    assert "error: --snapstart needs python3.12 or newer; this function runs on python3.11" in out.stderr
    assert "hint: " in out.stderr
    assert not (in_tmp / "template.yaml").exists()


def test_dry_run_with_snapstart_shows_the_publish_and_the_alias(moto: str, name: str, artifacts, in_tmp: Path,
                                                                run_cli) -> None:
    artifacts()
    out = run_cli("deploy", "--name", name, "--snapstart", "--dry-run", "--json")
    assert out.exit_code == 0, out.stderr
    doc = out.json()
    assert [s["op"] for s in doc["steps"]] == [
        "create_role", "attach_role_policy", "publish_layer_version", "create_function", "publish_version",
        "create_alias", "create_http_api", "create_integration", "create_route", "create_route", "create_route",
        "create_stage", "add_permission"]
    assert doc["snapstart"] is True and doc["compared_with_aws"] is True and doc["write_calls"] == 0
    human = run_cli("deploy", "--name", name, "--snapstart", "--dry-run")
    assert "SnapStart)" in human.stderr  # on the create_function line
    assert "+ version    publish a version of" in human.stderr
    assert "+ alias      alias live → version ${version.number}" in human.stderr
    assert f"allow API Gateway to invoke {name}:live from" in human.stderr
    with pytest.raises(lam().exceptions.ResourceNotFoundException):
        lam().get_function(FunctionName=name)


def test_snapstart_on_python_3_11_is_refused_through_the_cli(moto: str, name: str, in_tmp: Path, run_cli) -> None:
    from stackfiles import write_function, write_layer

    write_layer(in_tmp / "dist" / "layer-python3.11-x86_64.zip", runtime="python3.11")
    write_function(in_tmp / "dist" / "function.zip")
    out = run_cli("deploy", "--name", name, "--runtime", "python3.11", "--snapstart")
    assert out.exit_code == 1
    assert out.stderr.splitlines()[-2:] == [
        "error: --snapstart needs python3.12 or newer; this function runs on python3.11",
        "hint: deploy without --snapstart, or rebuild the layer and the package for python3.12 "
        "(lambdapack build-layer --runtime python3.12)"]
    assert not (in_tmp / ".lambdapack" / f"{name}.json").exists()
    with pytest.raises(lam().exceptions.ResourceNotFoundException):
        lam().get_function(FunctionName=name)
    roles = boto3.client("iam", region_name=REGION).list_roles()["Roles"]
    assert f"lambdapack-{name}-role" not in [r["RoleName"] for r in roles]


def test_deploy_prints_a_progress_line_per_phase(moto: str, name: str, artifacts, in_tmp: Path, run_cli) -> None:
    artifacts()
    out = run_cli("deploy", "--name", name, "--api", "none", "--json")
    assert out.exit_code == 0, out.stderr
    lines = out.stderr.splitlines()
    assert lines[0] == f"… checking the AWS region and credentials (sts GetCallerIdentity at {moto})"
    assert lines[1] == f"… reading back what exists for {name} in {REGION}"
    assert lines[2] == f"… planning {name}"
    assert lines[3].startswith("  + role       IAM role")
    assert out.json()["write_calls"] == 4


def test_export_sam_refuses_what_deploy_would_refuse(in_tmp: Path, run_cli) -> None:
    from stackfiles import VERSIONS, write_function, write_layer

    write_layer(in_tmp / "dist" / "layer-python3.12-x86_64.zip")
    write_function(in_tmp / "dist" / "function.zip", versions={**VERSIONS, "numpy": "1.26.4"})
    out = run_cli("export", "sam")
    assert out.exit_code == 1
    assert "numpy 1.26.4 (model)" in out.stderr
    assert not (in_tmp / "template.yaml").exists()


def test_deploy_packages_a_model_directory_on_the_fly(moto: str, name: str, iris_model: Path, in_tmp: Path,
                                                      run_cli) -> None:
    from stackfiles import write_layer

    manifest = json.loads((iris_model / "model.json").read_text())
    pinned = {k: v for k, v in manifest["versions"].items() if k != "python"}
    write_layer(in_tmp / "dist" / "layer-python3.12-x86_64.zip", versions=pinned)
    out = run_cli("deploy", "--name", name, "--model", str(iris_model), "--dry-run", "--json")
    assert out.exit_code == 0, out.stderr
    assert "create_function" in [s["op"] for s in out.json()["steps"]]
    built = in_tmp / ".lambdapack" / "build" / f"{name}-function.zip"
    import zipfile
    with zipfile.ZipFile(built) as zf:
        # what `package` adds beside these (function.json, a predictor, pycs) is its own business
        assert {"lambda_function.py", "model.joblib", "model.json"} <= set(zf.namelist())


def test_invoke_name_http_uses_the_recorded_endpoint(echo_api: str, in_tmp: Path, run_cli) -> None:
    state = in_tmp / ".lambdapack" / "iris.json"
    state.parent.mkdir()
    state.write_text(json.dumps({"schema": "lambdapack.deploy/1", "name": "iris", "region": REGION,
                                 "account": "123456789012", "api": "http",
                                 "resources": {"api": {"kind": "http", "id": "x", "endpoint": echo_api}}}))
    out = run_cli("invoke", "--name", "iris", "--http", "--event", "seed")
    assert out.exit_code == 0, out.stderr
    answer = json.loads(out.stdout)
    assert answer["method"] == "POST" and answer["path"] == "/predict"
    assert json.loads(answer["body"]) == json.loads((EVENTS / "seed-direct.json").read_text())
    assert f"status 200 through {echo_api}/predict" in out.stderr


def test_invoke_logs_are_decoded_and_function_errors_reported(moto: str, name: str, artifacts, tmp_path: Path) -> None:
    import base64
    import io

    from botocore.awsrequest import AWSResponse
    from botocore.response import StreamingBody

    from lambdapack.deploy.aws import AwsClient
    from lambdapack.deploy.remote import invoke_lambda

    # moto returns no log tail; answer the Invoke call the way Lambda does for a failing handler
    tail = "START RequestId: 1\n[ERROR] ValueError: boom\nEND RequestId: 1\n"
    body = b'{"errorMessage": "boom", "errorType": "ValueError"}'

    def handler(**kwargs: object) -> tuple[AWSResponse, dict[str, object]]:
        return AWSResponse("http://127.0.0.1/", 200, {}, None), {
            "StatusCode": 200, "FunctionError": "Unhandled", "LogResult": base64.b64encode(tail.encode()).decode(),
            "Payload": StreamingBody(io.BytesIO(body), len(body)), "ResponseMetadata": {"HTTPStatusCode": 200}}

    aws = AwsClient(sleep=lambda s: None)
    aws.client("lambda").meta.events.register("before-call.lambda.Invoke", handler)
    result = invoke_lambda(name, {"sl": 1}, logs=True, root=tmp_path, aws=aws)
    assert result.function_error == "Unhandled"
    assert result.logs == tail
    assert result.payload == {"errorMessage": "boom", "errorType": "ValueError"}
    assert aws.writes == []
