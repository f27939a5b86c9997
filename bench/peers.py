"""The tools a user would reach for instead of lambdapack, each driven the way its docs say.

Every peer builds the same requirement set for the same target into a layer zip and
returns what a user would get: the zip, or the error text they would read. Nothing here
measures; ``bench/measure.py`` judges every zip the same way.

Tools that need their own installation (AWS SAM CLI, Chalice) get a virtualenv under the bench
cache directory, outside the repository, created on first use. What every peer shares (PyPI
only, running a tool, zipping as the guides do, the :class:`Peer` interface) is
``bench/peer_tools.py``.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import zipfile
from pathlib import Path

from peer_tools import (
    REQUIREMENTS,
    Build,
    Peer,
    ToolEnv,
    clean_env,
    ensure_venv,
    pip_cmd,
    pip_version,
    run_tool,
    user_error,
    zip_tree,
)

from lambdapack.interpreters import find_python
from lambdapack.targets import Target


class Guide(Peer):
    """The guide's recipe: pip download wheels, unzip them, delete dist-info, zip."""

    def __init__(self, modern_tags: bool) -> None:
        self.modern_tags = modern_tags
        self.key = "guide-tags" if modern_tags else "guide"
        self.label = "guide, full tag list" if modern_tags else "guide (manylinux1)"
        self.command = ("pip download --python-version 312 --abi cp312 "
                        + ("--platform manylinux_2_34_x86_64 … manylinux1_x86_64 (every tag)" if modern_tags
                           else "--platform manylinux1_x86_64")
                        + " --only-binary=:all: --no-binary=:none:; unzip; rm -r *.dist-info; zip -r")

    def prepare(self, env: ToolEnv, target: Target, workdir: Path) -> str:
        return pip_version()

    def unsupported(self, target: Target) -> str | None:
        if not self.modern_tags and target.machine != "x86_64":
            return "manylinux1 exists only for x86"
        return None

    def _platforms(self, target: Target) -> list[str]:
        return list(target.platforms) if self.modern_tags else ["manylinux1_x86_64"]

    def _build(self, target: Target, workdir: Path, cache: Path) -> Build:
        wheels = workdir / "wheels"
        nodot = f"{target.python[0]}{target.python[1]}"
        cmd = [*pip_cmd(), "download", "--cache-dir", str(cache), "-d", str(wheels),
               "--python-version", nodot, "--abi", f"cp{nodot}"]
        for platform in self._platforms(target):
            cmd += ["--platform", platform]
        cmd += ["--only-binary=:all:", "--no-binary=:none:", *REQUIREMENTS]
        proc = run_tool(cmd)
        if proc.returncode != 0:
            return Build(ok=False, error=user_error(proc.stderr, proc.stdout))
        site = workdir / "layer" / target.site_packages
        site.mkdir(parents=True)
        names = tuple(sorted(p.name for p in wheels.glob("*.whl")))
        for name in names:
            with zipfile.ZipFile(wheels / name) as whl:
                whl.extractall(site)
        for dist_info in site.glob("*.dist-info"):
            shutil.rmtree(dist_info)
        return Build(ok=True, zip_path=zip_tree(workdir / "layer", workdir / "layer.zip"), wheel_names=names)


class PipTarget(Peer):
    """AWS's documented method: ``pip install --platform manylinux2014_<arch> --target``, then zip."""

    key = "pip-target"
    label = "pip --target (AWS docs)"
    command = ("pip install --platform manylinux2014_x86_64 --target python --implementation cp "
               "--python-version 3.12 --only-binary=:all: --upgrade; zip -r")

    def prepare(self, env: ToolEnv, target: Target, workdir: Path) -> str:
        return pip_version()

    def _build(self, target: Target, workdir: Path, cache: Path) -> Build:
        content = workdir / "layer" / "python"
        cmd = [*pip_cmd(), "install", "--cache-dir", str(cache), "--platform", f"manylinux2014_{target.machine}",
               "--target", str(content), "--implementation", "cp", "--python-version", target.python_version,
               "--only-binary=:all:", "--upgrade", *REQUIREMENTS]
        proc = run_tool(cmd)
        if proc.returncode != 0:
            return Build(ok=False, error=user_error(proc.stderr, proc.stdout))
        # pip --target writes console scripts into python/bin; the docs zip them along
        return Build(ok=True, zip_path=zip_tree(workdir / "layer", workdir / "layer.zip"))


_SAM_TEMPLATE = """\
AWSTemplateFormatVersion: '2010-09-09'
Transform: AWS::Serverless-2016-10-31
Resources:
  SklearnLayer:
    Type: AWS::Serverless::LayerVersion
    Properties:
      ContentUri: layer/
      CompatibleRuntimes: [{runtime}]
      CompatibleArchitectures: [{arch}]
    Metadata:
      BuildMethod: {runtime}
      BuildArchitecture: {arch}
"""


class Sam(Peer):
    """``sam build`` of a template holding one python layer; no container (no Docker daemon here)."""

    key = "sam"
    label = "AWS SAM CLI (sam build)"
    command = "sam build (AWS::Serverless::LayerVersion, BuildMethod python3.12, requirements.txt); zip"

    def __init__(self) -> None:
        self.bindir: Path | None = None

    def unsupported(self, target: Target) -> str | None:
        if find_python(target.python) is None:
            return f"sam needs python{target.python_version} on PATH; none here"
        return None

    rebuild_in_place = True

    def prepare(self, env: ToolEnv, target: Target, workdir: Path) -> str:
        python = find_python((3, 12))
        if python is None:
            raise RuntimeError("Python 3.12 is needed to run the AWS SAM CLI")
        self.bindir = ensure_venv(env, "aws-sam-cli-py312", python, ["aws-sam-cli"], "sam")
        version = run_tool([self.bindir / "sam", "--version"]).stdout.strip()
        default_path = self.probe_default_path(target, workdir)
        if default_path == "ok":
            return version
        return (f"{version}; with this machine's own PATH `sam build` fails: {default_path[:160]}…; "
                f"measured with python{target.python_version} first on PATH")

    def _project(self, target: Target, workdir: Path) -> Path:
        project = workdir / "sam-app"
        (project / "layer").mkdir(parents=True, exist_ok=True)
        (project / "layer" / "requirements.txt").write_text("\n".join(REQUIREMENTS) + "\n")
        (project / "template.yaml").write_text(_SAM_TEMPLATE.format(runtime=f"python{target.python_version}",
                                                                    arch=target.arch))
        return project

    def probe_default_path(self, target: Target, workdir: Path) -> str:
        """What ``sam build`` says with this machine's own PATH (pyenv shims, another global Python)."""
        assert self.bindir is not None
        project = self._project(target, workdir / "sam-probe")
        proc = run_tool([self.bindir / "sam", "build"], cwd=project, env=clean_env(), timeout=300)
        return "ok" if proc.returncode == 0 else user_error(proc.stderr, proc.stdout)

    def _build(self, target: Target, workdir: Path, cache: Path) -> Build:
        assert self.bindir is not None, "prepare() first"
        project = self._project(target, workdir)
        python = find_python(target.python)
        assert python is not None
        # sam looks for python3.X on PATH and validates it; a pyenv shim for another
        # global version fails that check, so the runtime's interpreter goes first
        env = clean_env(PATH=f"{python.parent}{os.pathsep}{os.environ.get('PATH', '')}", PIP_CACHE_DIR=str(cache))
        proc = run_tool([self.bindir / "sam", "build"], cwd=project, env=env)
        if proc.returncode != 0:
            return Build(ok=False, error=user_error(proc.stderr, proc.stdout))
        built = project / ".aws-sam" / "build" / "SklearnLayer"
        # sam deploy zips the build directory as it is (dist-info, requirements.txt and all)
        return Build(ok=True, zip_path=zip_tree(built, workdir / "layer.zip"))


_CHALICE_APP = '''\
from chalice import Chalice

app = Chalice(app_name="iris")


@app.lambda_function()
def predict(event, context):
    import sklearn.ensemble  # noqa: F401
    return {}
'''


def _chalice_warning(output: str) -> str:
    """Chalice's "Could not install dependencies" warning (it exits 0 and ships the layer without them)."""
    lines = [line.strip() for line in output.splitlines()]
    if "Could not install dependencies:" not in lines:
        return ""
    start = lines.index("Could not install dependencies:") + 1
    missing = []
    for line in lines[start:]:
        if not line or line.startswith("You will have to"):
            break
        missing.append(line)
    return f"chalice warned \"Could not install dependencies: {', '.join(missing)}\" and exited 0"


class Chalice(Peer):
    """``chalice package`` with ``automatic_layer``: the dependencies go into a managed layer zip."""

    key = "chalice"
    label = "Chalice (chalice package)"
    command = "chalice package out (automatic_layer: true, requirements.txt)"

    def __init__(self) -> None:
        self.bindirs: dict[tuple[int, int], Path] = {}

    def unsupported(self, target: Target) -> str | None:
        # chalice targets the runtime of the Python it runs under
        if find_python(target.python) is None:
            return f"chalice must run under Python {target.python_version}; none here"
        return None

    rebuild_in_place = True

    def prepare(self, env: ToolEnv, target: Target, workdir: Path) -> str:
        python = find_python(target.python)
        assert python is not None
        tag = f"py{target.python[0]}{target.python[1]}"
        self.bindirs[target.python] = ensure_venv(env, f"chalice-{tag}", python, ["chalice"], "chalice")
        return run_tool([self.bindirs[target.python] / "chalice", "--version"]).stdout.strip()

    def _build(self, target: Target, workdir: Path, cache: Path) -> Build:
        bindir = self.bindirs[target.python]
        project = workdir / "chalice-app"
        if not project.exists():
            (project / ".chalice").mkdir(parents=True)
            (project / "app.py").write_text(_CHALICE_APP)
            (project / "requirements.txt").write_text("\n".join(REQUIREMENTS) + "\n")
            config = {"version": "2.0", "app_name": "iris", "automatic_layer": True,
                      "lambda_architecture": target.arch, "stages": {"dev": {"api_gateway_stage": "api"}}}
            (project / ".chalice" / "config.json").write_text(json.dumps(config, indent=2))
        out = project / "out"
        shutil.rmtree(out, ignore_errors=True)
        # chalice package refuses to run without a region even though it calls no AWS API
        env = clean_env(AWS_DEFAULT_REGION="us-east-1", PIP_CACHE_DIR=str(cache))
        proc = run_tool([bindir / "chalice", "package", "out"], cwd=project, env=env)
        if proc.returncode != 0:
            return Build(ok=False, error=user_error(proc.stderr, proc.stdout))
        layer = out / "layer-deployment.zip"
        if not layer.is_file():
            return Build(ok=False, error="chalice produced no layer-deployment.zip")
        dest = workdir / "layer.zip"
        shutil.copyfile(layer, dest)
        return Build(ok=True, zip_path=dest, note=_chalice_warning(proc.stdout + "\n" + proc.stderr))


class UvRecipe(Peer):
    """uv's documented Lambda recipe: ``uv pip install --prefix`` for the target, then ``lib/`` under ``python/``."""

    key = "uv-recipe"
    label = "uv pip install --prefix (uv's guide)"
    command = ("uv pip install --no-installer-metadata --no-compile-bytecode --python-platform "
               "x86_64-manylinux2014 --python 3.12 --prefix packages; cp -r packages/lib python/; zip -r")

    def prepare(self, env: ToolEnv, target: Target, workdir: Path) -> str:
        from lambdapack.wheels.tools import uv_binary

        return run_tool([uv_binary(), "--version"]).stdout.strip()

    def _build(self, target: Target, workdir: Path, cache: Path) -> Build:
        from lambdapack.wheels.tools import uv_binary

        prefix = workdir / "packages"
        shutil.rmtree(prefix, ignore_errors=True)
        cmd = [uv_binary(), "pip", "install", "--no-installer-metadata", "--no-compile-bytecode",
               "--python-platform", f"{target.machine}-manylinux2014", "--python", target.python_version,
               "--prefix", str(prefix), "--cache-dir", str(cache), *REQUIREMENTS]
        # `--python 3.12` has to find a 3.12 interpreter: the runtime's goes first on PATH, as for
        # SAM; without one uv tries to download a Python, and the row shows what it says then
        python = find_python(target.python)
        path = f"{python.parent}{os.pathsep}{os.environ.get('PATH', '')}" if python else os.environ.get("PATH", "")
        proc = run_tool(cmd, env=clean_env(PATH=path))
        if proc.returncode != 0:
            return Build(ok=False, error=user_error(proc.stderr, proc.stdout))
        layer = workdir / "layer"
        shutil.rmtree(layer, ignore_errors=True)
        shutil.copytree(prefix / "lib", layer / "python" / "lib", symlinks=True)
        # the recipe has no --only-binary: a release without a manylinux2014 wheel (numpy >= 2.3)
        # is compiled from its sdist on this machine, against this machine's glibc
        built = sorted({line.split()[1] for line in (proc.stderr + proc.stdout).splitlines()
                        if line.strip().startswith("Built ") and len(line.split()) > 1})
        note = f"uv compiled from source on this machine: {', '.join(built)}" if built else ""
        return Build(ok=True, zip_path=zip_tree(layer, workdir / "layer.zip"), note=note)


class Lambdapack(Peer):
    """lambdapack's own build, with its defaults or without precompiled .pyc files."""

    def __init__(self, compile: bool) -> None:
        self.compile = compile
        self.key = "lambdapack" if self.compile else "lambdapack-no-compile"
        self.label = "lambdapack" if self.compile else "lambdapack --no-compile"
        self.command = "lambdapack build-layer scikit-learn joblib" + ("" if self.compile else " --no-compile")

    rebuild_in_place = True

    def unsupported(self, target: Target) -> str | None:
        from lambdapack.cli.main import COMMANDS

        if "build-layer" not in COMMANDS:
            return "lambdapack build-layer is not available yet"
        return None

    def prepare(self, env: ToolEnv, target: Target, workdir: Path) -> str:
        from lambdapack import __version__

        return f"lambdapack {__version__}"

    def _build(self, target: Target, workdir: Path, cache: Path) -> Build:
        out = workdir / "layer.zip"
        cmd = [sys.executable, "-m", "lambdapack", "build-layer", "--runtime", f"python{target.python_version}",
               "--arch", target.arch, "--out", str(out), "--cache-dir", str(cache), "--json", *REQUIREMENTS]
        if not self.compile:
            cmd.append("--no-compile")
        proc = run_tool(cmd)
        if proc.returncode != 0 or not out.is_file():
            return Build(ok=False, error=user_error(proc.stderr, proc.stdout))
        try:
            report = json.loads(proc.stdout)
            names = tuple(p["wheel"] for p in report.get("packages", []) if p.get("wheel"))
            phases = {k: float(v) for k, v in report.get("timings", {}).items()}
        except (ValueError, KeyError, TypeError, AttributeError):
            names, phases = (), {}
        return Build(ok=True, zip_path=out, wheel_names=names, phases=phases)


def all_peers() -> list[Peer]:
    return [Guide(modern_tags=False), Guide(modern_tags=True), PipTarget(), UvRecipe(), Sam(), Chalice(),
            Lambdapack(compile=True), Lambdapack(compile=False)]
