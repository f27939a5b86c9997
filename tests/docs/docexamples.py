"""Run the shell examples in README.md and docs/*.md, and rewrite or compare their output.

A fenced block is an *example* when it holds a lambdapack command: a ``$ lambdapack …`` line
(or ``$ env … lambdapack …``), or a bare ``lambdapack …`` line in a ``bash``/``sh`` block.
Every example is preceded by one of two HTML comments, invisible on GitHub:

    <!-- run: fixture=layer-function -->     run it in a scratch project made by that fixture
    <!-- exempt: arm64-import -->            not run; the reason is EXEMPT[key] in this file

A ``console`` block alternates ``$ command`` lines (``\\`` continues a command) and their
output (stdout and stderr merged, as a terminal shows them). ``--update`` runs it and writes
the output back; ``--check`` runs it and compares after :func:`normalise`. An abridged block
keeps its abridgement: a line that is only ``…`` (or ``...``) stands for any number of lines,
and ``…`` inside a line for any text on that line. A ``bash`` block of bare commands cannot
be run (it shows no output to compare): it is exempt, or rewritten as a console block.

    python tests/docs/docexamples.py --check                 # every marked block
    python tests/docs/docexamples.py --update docs/train.md  # regenerate one file
    python tests/docs/docexamples.py --list                  # what is run, what is exempt

Commands run with ``COLUMNS=120`` (a wide terminal), one lambdapack cache shared by every block,
and never the developer's AWS identity. The AWS examples run against a moto server on 127.0.0.1
started for the run (its own process, so resetting it between blocks touches nothing else);
those that show AWS's own endpoints run with the EC2 metadata service off and every proxy
variable at a closed loopback port, so nothing can reach AWS. PyPI is the only remote host
the examples use (the layer fixture and the build-layer and lock examples), and it is read as
it was when the outputs were written: ``UV_EXCLUDE_NEWER`` (:data:`RESOLVED_AS_OF`) keeps
every resolution to the releases the docs show, in a cache of the examples' own (a stored
resolution from a cache resolved later would not be), so a new numpy on PyPI does not turn
the check red. Move the date forward when you regenerate the outputs for new releases.
"""

from __future__ import annotations

import argparse
import contextlib
import difflib
import functools
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

ROOT = Path(__file__).resolve().parents[2]
# what the index looked like when the outputs were written: uv ignores files uploaded later
RESOLVED_AS_OF = "2026-11-29T09:00:00Z"
DOC_FILES = ("README.md", "docs/*.md")

# Examples not run, and why. A key here is used by an ``<!-- exempt: KEY -->`` marker; the
# test fails on a marker naming no key and on a key no marker uses.
EXEMPT: dict[str, str] = {
    "arm64-import": "builds an arm64 layer and shows its import check skipped: the import half needs an "
                    "aarch64 host, and the cross strip tool changes the sizes; the arm64 build is covered by "
                    "tests/layer/test_real_pypi.py",
    "python38-guide": "shows a cold build of the guide's 2021 stack for CPython 3.8 (wheels no other example "
                      "uses); with the suite's cache warm the command prints the cached path instead, so checking "
                      "it would need a full build each run, over this module's budget; the guide's flags are "
                      "built and checked by tests/layer/test_real_pypi.py",
    "glibcxx-layer": "the offending layer is compiled on the spot by tests/layer/test_manylinux_policy.py with "
                     "a C++ compiler newer than Amazon Linux 2023's; its exact figures depend on that compiler",
    "resolve-again": "commands only, no output shown: they resolve against the live index by design",
    "project-fixture": "needs the uv project svc/ (scikit-learn 1.7.2 locked by `uv lock` on the day) the section "
                       "describes, which the repository does not carry, and a cold compiled build; "
                       "tests/layer/test_project.py builds such projects",
    "hanging-endpoint": "waits out two 20 s read timeouts of an endpoint that never answers (41 s) by design; "
                        "tests/deploy/test_timeouts.py asserts the same message with injected short timeouts",
    "readme-tour": "builds the default, compiled layer (a cold build alone is ~75 s, over this module's budget) "
                   "and deploys to the reader's account; every step runs in docs/*.md: build-layer and "
                   "check-layer (build-layer.md), train --layer (train.md), package --layer and invoke --local "
                   "(function.md, emulator.md), deploy, invoke --name and destroy against moto (deploy.md)",
    "install": "installs lambdapack into the reader's environment; `lambdapack demo` itself runs in "
               "tests/emulator/test_real_layer.py (test_demo_end_to_end)",
    "serve-session": "an interactive server session (Ctrl-C, a second terminal's curl); the same requests "
                     "and answers go through serve in tests/emulator/test_real_layer.py "
                     "(test_serve_answers_the_guides_curl)",
    "serve-refusals": "a server session with hand-made requests (a non-UTF-8 body, 101 headers); the same "
                      "refusals are asserted by tests/emulator/test_gateway.py "
                      "(test_the_front_refuses_with_json_like_api_gateway)",
    "lock-tamper": "needs a wheel index serving changed bytes for one release; asserted by "
                   "tests/reliability/test_lock.py",
}

FENCE = re.compile(r"^(?P<fence>`{3,})(?P<info>[\w-]*)\s*$")
MARKER = re.compile(r"^<!--\s*(?P<kind>run|exempt):\s*(?P<args>.*?)\s*-->\s*$")
PROMPT = "$ "
# a lambdapack command, possibly after env assignments (continued over lines) or `env -u …`
COMMAND = re.compile(r"(?:^|[;&|]\s*)(?:env\b[^|;&]*?\s|[A-Za-z_]\w*=\S*(?:\s|\\)+)*lambdapack\s")
SHELL_INFOS = {"", "console", "shell", "sh", "bash", "shell-session"}
COMMAND_TIMEOUT = 600
# The moto address docs/deploy.md shows; commands and output use it whatever port the run got.
DOC_MOTO_URL = "http://127.0.0.1:5123"


# --------------------------------------------------------------------------- normalising

# What legitimately differs between two honest runs, each rule named and narrow. Anything not
# listed here is compared as written.
NORMALISATIONS: tuple[tuple[str, re.Pattern[str], str], ...] = (
    ("uuid", re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b"), "<uuid>"),
    ("sha256", re.compile(r"\b[0-9a-f]{64}\b"), "<sha256>"),
    ("sha256 prefix", re.compile(r"\b[0-9a-f]{12,16}(?=…|\.\.\.)"), "<sha256>"),
    ("timestamp", re.compile(r"\b\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z?"), "<time>"),
    ("milliseconds", re.compile(r"\b\d+(?:\.\d+)? ms\b"), "<ms>"),
    ("seconds", re.compile(r"\b\d+\.\d+ s\b"), "<s>"),
    ("demo's elapsed time", re.compile(r"(?<=locally )\(\d+ s\)"), "(<s>)"),
    ("json milliseconds", re.compile(r'("(?:latency_ms|init_ms)": )[\d.]+'), r"\1<ms>"),
    ("min/max of a run", re.compile(r"\(min [\d.]+, max [\d.]+;"), "(min <ms>, max <ms>;"),
    ("memory used", re.compile(r"\b(Max Memory Used: |max memory used |max memory )\d+"), r"\1<mb>"),
    ("temporary path", re.compile(r"/tmp(?:/[^\s/'\"]+)+"), "<tmp>"),
    ("interpreter path", re.compile(r"(?<![\w/])/\S*/bin/python3(?:\.\d+)?\b"), "<python>"),
    ("interpreter patch", re.compile(r"\b((?:C?Python|python) 3\.\d+)\.\d+\b"), r"\1.x"),
    ("moto api id", re.compile(r"\b(https://)[a-z0-9]{8,10}(\.execute-api\.)"), r"\1<api>\2"),
    ("moto api id in text", re.compile(r"(HTTP API |REST API |:)[a-z0-9]{8,10}(?=/\*| \(routes)"), r"\1<api>"),
    ("moto function url", re.compile(r"\b(https://)[a-z0-9]{32}(\.lambda-url\.)"), r"\1<url>\2"),
    ("trailing space", re.compile(r"[ \t]+$", re.M), ""),
)


def normalise(text: str) -> str:
    """``text`` with every varying part in NORMALISATIONS replaced by its placeholder."""
    for _name, pattern, replacement in NORMALISATIONS:
        text = pattern.sub(replacement, text)
    return text


def _line_pattern(expected: str) -> re.Pattern[str]:
    """One expected line as a regex: ``…`` inside it matches any text on the line."""
    return re.compile(".*?".join(re.escape(part) for part in expected.split("…")) + r"\Z")


def _is_gap(line: str) -> bool:
    return line.strip() in {"…", "..."}


def matches(expected: Sequence[str], actual: Sequence[str]) -> bool:
    """Do the normalised ``actual`` lines match the normalised ``expected`` ones (with gaps)?"""
    exp = [normalise(line) for line in expected]
    act = [normalise(line) for line in actual]

    @functools.cache
    def walk(i: int, j: int) -> bool:
        if i == len(exp):
            return j == len(act)
        if _is_gap(exp[i]):
            return any(walk(i + 1, k) for k in range(j, len(act) + 1))
        return j < len(act) and _line_pattern(exp[i]).match(act[j]) is not None and walk(i + 1, j + 1)

    return walk(0, 0)


# --------------------------------------------------------------------------- reading docs


@dataclass(frozen=True)
class Marker:
    kind: str  # "run" or "exempt"
    fixture: str = ""
    exempt: str = ""


@dataclass
class Step:
    command: list[str]  # the command's lines as written, without "$ "
    output: list[str] = field(default_factory=list)
    blank_after: bool = False  # a blank line separated this output from the next command


@dataclass
class Block:
    path: Path
    start: int  # index of the opening fence line
    end: int  # index of the closing fence line
    info: str
    body: list[str]
    marker: Marker | None

    @property
    def where(self) -> str:
        shown = self.path.relative_to(ROOT) if self.path.is_relative_to(ROOT) else self.path
        return f"{shown}:{self.start + 1}"

    @property
    def is_example(self) -> bool:
        if self.info not in SHELL_INFOS:
            return False
        prompted = [" ".join(step.command) for step in steps_of(self)]
        if prompted:
            return any(COMMAND.search(line) for line in prompted)
        return self.info in {"bash", "sh"} and any(COMMAND.search(line) for line in self.body)



def parse_marker(line: str, where: str) -> Marker | None:
    match = MARKER.match(line.strip())
    if not match:
        return None
    args = match["args"]
    if match["kind"] == "exempt":
        return Marker("exempt", exempt=args)
    options = dict(part.split("=", 1) for part in args.split() if "=" in part)
    if set(options) != {"fixture"}:
        raise DocError(f"{where}: a run marker takes fixture=NAME, got {args!r}")
    return Marker("run", fixture=options["fixture"])


class DocError(Exception):
    """A doc that cannot be checked as written (bad marker, unknown fixture, unmarked example)."""


def read_blocks(path: Path) -> list[Block]:
    lines = path.read_text(encoding="utf-8").split("\n")
    blocks: list[Block] = []
    i = 0
    while i < len(lines):
        opening = FENCE.match(lines[i])
        if not opening:
            i += 1
            continue
        fence = opening["fence"]
        j = i + 1
        while j < len(lines) and lines[j].rstrip() != fence:
            j += 1
        block = Block(path, i, j, opening["info"], lines[i + 1:j], None)
        block.marker = parse_marker(lines[i - 1], block.where) if i > 0 else None
        blocks.append(block)
        i = j + 1
    return blocks


def doc_paths(root: Path = ROOT) -> list[Path]:
    return [p for pattern in DOC_FILES for p in sorted(root.glob(pattern))]


def steps_of(block: Block) -> list[Step]:
    """The commands of a console block and the output shown after each."""
    steps: list[Step] = []
    continuing = False
    for line in block.body:
        if line.startswith(PROMPT) or continuing:
            if not continuing:
                steps.append(Step([line[len(PROMPT):]]))
            else:
                steps[-1].command.append(line)
            continuing = line.endswith("\\")
        elif steps:
            steps[-1].output.append(line)
    for step in steps:
        while step.output and not step.output[-1].strip():
            step.output.pop()
            step.blank_after = True
    if steps:
        steps[-1].blank_after = False
    return steps


def render(steps: Sequence[Step]) -> list[str]:
    lines: list[str] = []
    for step in steps:
        lines += [(PROMPT if n == 0 else "") + part for n, part in enumerate(step.command)]
        lines += step.output
        if step.blank_after:
            lines.append("")
    return lines


# --------------------------------------------------------------------------- fixtures


@dataclass
class Project:
    """A scratch project directory and the environment its commands run in."""

    path: Path
    env: dict[str, str]


class Fixtures:
    """Scratch projects by name. Each is built once as a template and copied for every block.

    ``cache`` is the lambdapack cache every command shares (wheels, resolutions, finished
    layers), except in the ``resolved`` projects: each gets a private copy of it (hard links)
    holding the stored resolution of the default inputs but no finished layer, so the build
    they show really runs; ``resolved-built`` has built the default layer into ``dist/`` first.
    """

    names: ClassVar[tuple[str, ...]] = (
        "empty", "pypi", "flowers", "empty-project", "hostile-suite", "host-model", "toy-function", "xgboost-file",
        "lightgbm",
        "layer", "layer-model", "layer-host-model", "layer-function",
        "aws", "aws-offline", "aws-deployed", "aws-snapstart", "resolved", "resolved-built")
    # fixtures that are the aws project plus a stack already deployed by these commands
    stacks: ClassVar[dict[str, tuple[str, ...]]] = {
        "aws-deployed": ("lambdapack deploy --name iris",),
        "aws-snapstart": ("lambdapack deploy --name iris --snapstart",
                          "lambdapack deploy --name iris --snapstart --memory 1024"),
    }

    def __init__(self, work: Path, cache: Path) -> None:
        self.work = work
        self.cache = cache  # the examples' own: see the module docstring
        self._templates: dict[str, Path] = {}
        self._moto: MotoServer | None = None
        self._count = 0

    def close(self) -> None:
        if self._moto:
            self._moto.stop()

    # the environment every command gets: this interpreter's scripts first, one shared cache,
    # plain output, and never the developer's AWS identity
    def base_env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("AWS_", "LAMBDAPACK_", "HTTP_PROXY", "HTTPS_PROXY", "http_proxy",
                                    "https_proxy", "NO_PROXY", "no_proxy"))}
        env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
        env.update(LAMBDAPACK_CACHE_DIR=str(self.cache), UV_EXCLUDE_NEWER=RESOLVED_AS_OF,
                   NO_COLOR="1", COLUMNS="120", PYTHONUNBUFFERED="1", TZ="UTC",
                   AWS_CONFIG_FILE="/dev/null", AWS_SHARED_CREDENTIALS_FILE="/dev/null",
                   # without credentials botocore would ask the EC2 metadata service, off loopback
                   AWS_EC2_METADATA_DISABLED="true")
        return env

    def project(self, name: str) -> Project:
        if name not in self.names:
            raise DocError(f"unknown fixture {name!r} (known: {', '.join(self.names)})")
        template = self._template(name)
        self._count += 1
        path = self.work / f"p{self._count}"
        shutil.copytree(template, path, symlinks=True)
        env = self.base_env()
        if name == "aws" or name in self.stacks:
            moto = self.moto()
            moto.reset()
            env.update(AWS_ENDPOINT_URL=moto.url, AWS_REGION="us-east-1", AWS_ACCESS_KEY_ID="testing",
                       AWS_SECRET_ACCESS_KEY="testing")
            for command in self.stacks.get(name, ()):
                _run_checked(["bash", "-c", command], path, env)
        if name == "aws-offline":
            # the examples that show AWS's own endpoints: any connection they tried would fail here
            # (a closed loopback port) instead of reaching AWS
            dead = f"http://127.0.0.1:{_closed_port()}"
            env.update(AWS_REGION="us-east-1", AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing",
                       HTTPS_PROXY=dead, HTTP_PROXY=dead, https_proxy=dead, http_proxy=dead)
        if name.startswith("resolved"):
            private = self.work / f"cache-p{self._count}"
            shutil.copytree(self.cache, private, copy_function=_link_or_copy, ignore=shutil.ignore_patterns("layers"))
            env["LAMBDAPACK_CACHE_DIR"] = str(private)
            if name == "resolved-built":
                _run_checked(["lambdapack", "build-layer"], path, env)
        return Project(path, env)

    def moto(self) -> MotoServer:
        if self._moto is None:
            self._moto = MotoServer.start()
        return self._moto

    def _template(self, name: str) -> Path:
        if name not in self._templates:
            path = self.work / "templates" / name
            path.mkdir(parents=True)
            getattr(self, "_make_" + name.replace("-", "_"), lambda p: None)(path)
            self._templates[name] = path
        return self._templates[name]

    def _copy_from(self, name: str, path: Path) -> None:
        shutil.copytree(self._template(name), path, dirs_exist_ok=True, symlinks=True)

    def _make_resolved(self, path: Path) -> None:
        self.real_layer()  # the default inputs resolved (the resolution is the same with or without pycs)

    _make_resolved_built = _make_resolved

    def _make_flowers(self, path: Path) -> None:
        # one iris flower of each species under the guide's short names, then a row with a typo
        (path / "flowers.csv").write_text("sl,sw,pl,pw,species\n5.1,3.5,1.4,0.2,setosa\n7.0,3.2,4.7,1.4,versicolor\n"
                                          "6.3,3.3,6.0,2.5,virginica\n4.9,x,1.4,0.2,setosa\n")

    def _make_empty_project(self, path: Path) -> None:
        # a project that declares no dependencies, as docs/build-layer.md's refusal names it
        (path / "empty").mkdir()
        (path / "empty" / "pyproject.toml").write_text('[project]\nname = "empty"\nversion = "0.1"\n')

    def _make_hostile_suite(self, path: Path) -> None:
        _run_checked([sys.executable, str(ROOT / "tests" / "reliability" / "hostile.py"), "suite"], path,
                     self.base_env())

    def _make_host_model(self, path: Path) -> None:
        from lambdapack.model.train import train

        train(out=path / "build" / "model")
        shutil.copytree(path / "build" / "model", path / "build" / "host")

    def real_layer(self) -> Path:
        """The default scikit-learn layer without pycs, resolved as of :data:`RESOLVED_AS_OF`."""
        out = self.work / "real-layer" / "layer-python3.12-x86_64.zip"
        if not out.exists():
            out.parent.mkdir(parents=True, exist_ok=True)
            _run_checked(["lambdapack", "build-layer", "--runtime", "python3.12", "--arch", "x86_64", "--no-compile",
                          "--no-check", "-o", str(out)], out.parent, self.base_env())
        return out

    def _make_layer(self, path: Path) -> None:
        (path / "dist").mkdir()
        shutil.copy(self.real_layer(), path / "dist" / "layer-python3.12-x86_64.zip")

    def _make_layer_model(self, path: Path) -> None:
        self._copy_from("layer", path)
        _run_checked(["lambdapack", "train", "--layer", "dist/layer-python3.12-x86_64.zip"], path, self.base_env())

    def _make_layer_host_model(self, path: Path) -> None:
        self._copy_from("layer", path)
        self._copy_from("host-model", path)

    def _make_layer_function(self, path: Path) -> None:
        self._copy_from("layer-model", path)
        _run_checked(["lambdapack", "package", "--layer", "dist/layer-python3.12-x86_64.zip"], path,
                     self.base_env())
        # the joblib-path function docs/function.md contrasts with the predictor one
        _run_checked(["lambdapack", "package", "--no-predictor", "--out", "dist/function-joblib.zip"], path,
                     self.base_env())

    def _make_aws(self, path: Path) -> None:
        self._copy_from("layer-function", path)
        _make_stand_ins(path)

    def _make_aws_offline(self, path: Path) -> None:
        self._copy_from("aws", path)

    def _make_aws_deployed(self, path: Path) -> None:
        self._copy_from("aws", path)

    def _make_aws_snapstart(self, path: Path) -> None:
        self._copy_from("aws", path)

    def _make_toy_function(self, path: Path) -> None:
        _make_toy_function(path)

    def _make_xgboost_file(self, path: Path) -> None:
        _make_xgboost_file(path)

    def _make_lightgbm(self, path: Path) -> None:
        # docs/function.md's churn model: LightGBM's own text model, fitted here, deterministically
        _run_checked([sys.executable, "-c", LIGHTGBM_CHURN], path, self.base_env())


def _link_or_copy(src: str, dst: str) -> None:
    try:
        os.link(src, dst)
    except OSError:  # another file system
        shutil.copy2(src, dst)


def _make_stand_ins(path: Path) -> None:
    """The small stand-ins deploy.md's refusals name: a python3.11 layer, a zip without function.json."""
    sys.path.insert(0, str(ROOT / "tests" / "deploy"))
    from stackfiles import write_function, write_layer

    write_layer(path / "dist" / "layer-python3.11-x86_64.zip", runtime="python3.11")
    write_function(path / "dist" / "old-function.zip")


# A LightGBM churn model fitted on a DataFrame (a pandas category input, missing values), saved as
# LightGBM's text model: one thread and `deterministic`, so every run writes the same file.
LIGHTGBM_CHURN = """
import lightgbm as lgb, numpy as np, pandas as pd
rng = np.random.default_rng(7)
n = 3000
data = pd.DataFrame({"tenure": rng.integers(0, 72, n).astype(float), "monthly": rng.normal(70, 25, n).round(2),
                     "plan": pd.Categorical(rng.choice(["basic", "plus", "pro", "family"], n)),
                     "calls": rng.poisson(1.5, n).astype(float)})
data.loc[rng.random(n) < 0.15, "tenure"] = np.nan
score = (data.calls - 2) / 2 - data.tenure.fillna(12) / 24 + data.plan.isin(["basic", "family"]) + rng.normal(0, 1, n)
params = {"objective": "binary", "num_leaves": 15, "learning_rate": 0.1, "verbose": -1, "num_threads": 1,
          "deterministic": True, "force_col_wise": True, "seed": 7}
lgb.train(params, lgb.Dataset(data, (score > 0).astype(int)), num_boost_round=100).save_model("churn.txt")
"""

# A function for the emulator's failure examples: it sleeps, allocates, or fails to import.
TOY_HANDLER = '''\
import time


def lambda_handler(event, context):
    print("hello from handler", event)
    time.sleep(event.get("sleep", 0))
    hold = bytearray(event.get("alloc", 0) * 1024 * 1024)
    return {"statusCode": 200, "body": str(len(hold))}
'''


def _make_toy_function(path: Path) -> None:
    import json

    from lambdapack.archive import ZipEntry, write_zip

    site = "python/lib/python3.12/site-packages"
    record = {"schema": "lambdapack.layer/1", "runtime": "python3.12", "arch": "x86_64", "python_version": "3.12",
              "site_packages": site, "packages": []}
    write_zip(path / "layer.zip", [ZipEntry("lambdapack-layer.json", json.dumps(record).encode()),
                                   ZipEntry(f"{site}/.keep", b"")])
    write_zip(path / "function.zip", [ZipEntry("lambda_function.py", TOY_HANDLER.encode())])
    write_zip(path / "bad.zip", [ZipEntry("lambda_function.py", b"import nonexistent_mod\n")])
    (path / "broken.json").write_text('{"sl": 6.9,\n}\n')


def _make_xgboost_file(path: Path) -> None:
    """docs/function.md's XGBoost model, saved in XGBoost's own format: churn.ubj (100 trees, NaNs, a category)."""
    import numpy as np
    import pandas as pd
    import xgboost

    rng = np.random.default_rng(0)
    n = 2000
    plans = ["basic", "fiber", "mobile", "family"]
    df = pd.DataFrame({"tenure": rng.normal(24, 12, n).round(1), "monthly": rng.normal(60, 20, n).round(2),
                       "plan": pd.Categorical(rng.choice(plans, n), categories=plans)})
    df.loc[rng.random(n) < 0.2, "monthly"] = np.nan
    df.loc[rng.random(n) < 0.1, "plan"] = np.nan
    score = -df.tenure / 12 + df.monthly.fillna(80) / 30 + (df.plan == "fiber") * 0.8 + rng.normal(0, 0.5, n)
    model = xgboost.XGBClassifier(n_estimators=100, max_depth=4, enable_categorical=True, random_state=0)
    model.fit(df, (score > 0.5).astype(int))
    model.get_booster().save_model(path / "churn.ubj")


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _run_checked(argv: list[str], cwd: Path, env: dict[str, str]) -> None:
    result = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=COMMAND_TIMEOUT,
                            check=False)
    if result.returncode != 0:
        raise DocError(f"fixture step {' '.join(argv)} failed ({result.returncode}):\n{result.stderr}")


@dataclass
class MotoServer:
    """A moto server in its own process on 127.0.0.1, so a reset clears only the docs' account."""

    process: subprocess.Popen[bytes]
    url: str

    @classmethod
    def start(cls) -> MotoServer:
        port = _closed_port()
        env = {**os.environ, "MOTO_IAM_LOAD_MANAGED_POLICIES": "true"}
        process = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                                   env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                   start_new_session=True)
        server = cls(process, f"http://127.0.0.1:{port}")
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError), urllib.request.urlopen(server.url + "/moto-api/", timeout=2):
                server.configure()
                return server
            if process.poll() is not None:
                break
            time.sleep(0.2)
        server.stop()
        raise DocError("the moto server did not start")

    def configure(self) -> None:
        # moto runs a function in docker when asked to invoke it; without docker it echoes the event
        self._post("/moto-api/config", b'{"lambda": {"use_docker": false}}')

    def _post(self, route: str, body: bytes) -> None:
        request = urllib.request.Request(self.url + route, data=body, method="POST",
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=60) as response:
            response.read()

    def reset(self) -> None:
        self._post("/moto-api/reset", b"")
        self.configure()

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout=30)


# --------------------------------------------------------------------------- running


def run_command(command: str, project: Project, previous_status: int = 0) -> tuple[int, list[str]]:
    """Run one shell command in the project; its exit status and merged output lines.

    Each command gets its own shell, started with the previous command's status so that a shown
    ``echo $?`` answers about the command before it.
    """
    moto = project.env.get("AWS_ENDPOINT_URL")
    if moto:
        command = command.replace(DOC_MOTO_URL, moto)
    result = subprocess.run(["bash", "-c", f"(exit {previous_status})\n{command}"],
                            cwd=project.path, env=project.env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, timeout=COMMAND_TIMEOUT, check=False)
    text = result.stdout.decode("utf-8", "replace").rstrip("\n")
    if moto:
        text = text.replace(moto, DOC_MOTO_URL)
    # trailing blanks (Lambda's REPORT line ends in a tab) are invisible and editors strip them
    return result.returncode, [line.rstrip() for line in text.split("\n")] if text else []


@dataclass(frozen=True)
class Outcome:
    block: Block
    ok: bool
    message: str = ""
    rendered: list[str] | None = None  # the block's new body (console blocks)


def run_console(block: Block, project: Project) -> Outcome:
    expected = steps_of(block)
    actual: list[Step] = []
    problems: list[str] = []
    status = 0
    for step in expected:
        command = "\n".join(step.command)
        status, output = run_command(command, project, status)
        actual.append(Step(step.command, output, step.blank_after))
        if not matches(step.output, output):
            diff = difflib.unified_diff([normalise(x) for x in step.output], [normalise(x) for x in output],
                                        "shown", "now", lineterm="", n=1)
            problems.append(f"$ {command}\n" + "\n".join(diff))
    # an abridged step that still matches keeps its abridgement; the rest are replaced whole
    merged = [old if matches(old.output, new.output) else new for old, new in zip(expected, actual, strict=True)]
    return Outcome(block, not problems, "\n".join(problems), render(merged))


def run_block(block: Block, fixtures: Fixtures) -> Outcome:
    assert block.marker and block.marker.kind == "run"
    project = fixtures.project(block.marker.fixture)
    try:
        return run_console(block, project)
    finally:
        shutil.rmtree(project.path, ignore_errors=True)


# --------------------------------------------------------------------------- the whole set


def problems_of_markers(blocks: Sequence[Block]) -> list[str]:
    """Unmarked examples, unknown exemptions and fixtures, and exemptions nothing uses."""
    problems: list[str] = []
    used: set[str] = set()
    for block in blocks:
        if block.marker is None:
            if block.is_example:
                problems.append(f"{block.where}: unmarked example: precede it with <!-- run: fixture=NAME --> "
                                "or <!-- exempt: KEY --> (see tests/docs/docexamples.py)")
            continue
        if not block.is_example:
            problems.append(f"{block.where}: a marker on a block that holds no lambdapack command")
        elif block.marker.kind == "exempt":
            used.add(block.marker.exempt)
            if block.marker.exempt not in EXEMPT:
                problems.append(f"{block.where}: exempt key {block.marker.exempt!r} is not in EXEMPT")
        elif block.marker.fixture not in Fixtures.names:
            problems.append(f"{block.where}: unknown fixture {block.marker.fixture!r}")
        elif not steps_of(block):
            problems.append(f"{block.where}: a run block shows its commands as `$ command` lines")
    problems += [f"EXEMPT[{key!r}] is used by no block" for key in sorted(set(EXEMPT) - used)]
    return problems


def all_blocks(paths: Sequence[Path]) -> list[Block]:
    return [block for path in paths for block in read_blocks(path)]


def write_back(path: Path, outcomes: Sequence[Outcome]) -> None:
    """Replace the bodies of the given blocks, last first so earlier line numbers stay valid."""
    lines = path.read_text(encoding="utf-8").split("\n")
    for outcome in sorted(outcomes, key=lambda o: o.block.start, reverse=True):
        if outcome.rendered is not None and outcome.block.body == lines[outcome.block.start + 1:outcome.block.end]:
            lines[outcome.block.start + 1:outcome.block.end] = outcome.rendered
    path.write_text("\n".join(lines), encoding="utf-8")


@contextlib.contextmanager
def fixtures_for_cli(cache: Path) -> Iterator[Fixtures]:
    with tempfile.TemporaryDirectory(prefix="lambdapack-docs-") as work:
        fixtures = Fixtures(Path(work), cache)
        try:
            yield fixtures
        finally:
            fixtures.close()


def default_cache() -> Path:
    """The examples' own cache (never your build cache: its stored resolutions are of another day)."""
    import platformdirs

    base = Path(os.environ.get("LAMBDAPACK_CACHE_DIR") or platformdirs.user_cache_dir("lambdapack"))
    return base / "doc-examples"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--check", action="store_true", help="run every marked block and compare its output")
    mode.add_argument("--update", action="store_true", help="run every marked block and rewrite its output")
    mode.add_argument("--list", action="store_true", help="list the examples, their fixture or exemption")
    parser.add_argument("paths", nargs="*", type=Path, help="docs to process (default: README.md, docs/*.md)")
    parser.add_argument("--fixture", help="only the blocks that use this fixture")
    args = parser.parse_args(argv)
    paths = [p.resolve() for p in args.paths] or doc_paths()
    blocks = all_blocks(paths)
    marker_problems = problems_of_markers(all_blocks(doc_paths()))
    if args.list:
        for block in blocks:
            if block.marker:
                kind = f"run {block.marker.fixture}" if block.marker.kind == "run" else f"exempt {block.marker.exempt}"
                print(f"{block.where}  {kind}")
        print("\n".join(marker_problems), file=sys.stderr)
        return 1 if marker_problems else 0
    runnable = [b for b in blocks if b.marker and b.marker.kind == "run"
                and (not args.fixture or b.marker.fixture == args.fixture)]
    failed = 0
    with fixtures_for_cli(default_cache()) as fixtures:
        outcomes: list[Outcome] = []
        for block in runnable:
            started = time.monotonic()
            outcome = run_block(block, fixtures)
            outcomes.append(outcome)
            print(f"{'ok  ' if outcome.ok else 'DIFF'} {block.where} ({time.monotonic() - started:.1f} s)",
                  file=sys.stderr)
            if not outcome.ok:
                failed += 1
                print(outcome.message, file=sys.stderr)
    if args.update:
        for path in paths:
            write_back(path, [o for o in outcomes if o.block.path == path and not o.ok])
    for problem in marker_problems:
        print(problem, file=sys.stderr)
    return 1 if (failed and args.check) or marker_problems else 0


if __name__ == "__main__":
    sys.exit(main())
