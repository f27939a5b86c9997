"""The shell examples in README.md and docs/*.md, run and compared with what they show.

Each marked block runs in a scratch project (tests/docs/docexamples.py); blocks whose fixture
needs the real scikit-learn layer or the moto server are slow. Regenerate a doc's output with
``python tests/docs/docexamples.py --update docs/FILE.md`` and review the diff.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import docexamples as dx
import pytest

# fixtures that need no layer, no network and no moto server ("pypi" is an empty project whose
# commands resolve against PyPI)
FAST_FIXTURES = {"empty", "flowers", "empty-project", "hostile-suite", "host-model", "toy-function"}

BLOCKS = [b for b in dx.all_blocks(dx.doc_paths()) if b.marker and b.marker.kind == "run"]


def test_every_example_is_run_or_exempt_with_a_reason() -> None:
    assert dx.problems_of_markers(dx.all_blocks(dx.doc_paths())) == []


def test_an_unmarked_example_is_reported(tmp_path: Path) -> None:
    doc = tmp_path / "page.md"
    doc.write_text("Text.\n\n```console\n$ lambdapack train\nTesting accuracy: 0.98\n```\n\n"
                   "```bash\nlambdapack deploy --name iris\n```\n\n```console\n$ ls\n```\n\n"
                   "<!-- run: fixture=empty -->\n```console\n$ lambdapack train\n```\n\n"
                   "<!-- exempt: no-such-reason -->\n```console\n$ AWS_REGION=x lambdapack deploy --name a\n```\n\n"
                   "<!-- run: fixture=empty -->\n```bash\nlambdapack train   # prints the accuracy\n```\n\n"
                   "<!-- run: fixture=nowhere -->\n```console\n$ lambdapack train\n```\n")
    problems = dx.problems_of_markers(dx.read_blocks(doc))
    assert [p.split(": ", 1)[1].split(":")[0] for p in problems if "page.md" in p] == [
        "unmarked example", "unmarked example", "exempt key 'no-such-reason' is not in EXEMPT",
        "a run block shows its commands as `$ command` lines", "unknown fixture 'nowhere'"]


def test_console_blocks_split_into_commands_and_their_output() -> None:
    block = dx.Block(Path("x.md"), 0, 9, "console",
                     ["$ lambdapack a \\", "    --b", "out 1", "", "$ echo $?", "1"], None)
    steps = dx.steps_of(block)
    assert [(s.command, s.output, s.blank_after) for s in steps] == [
        (["lambdapack a \\", "    --b"], ["out 1"], True), (["echo $?"], ["1"], False)]
    assert dx.render(steps) == block.body


@pytest.mark.parametrize(("raw", "normalised"), [
    ("REPORT RequestId: 937ac2f0-e7e4-47f6-afd3-4f1025b8f3f6\tDuration: 4.45 ms\tBilled Duration: 5 ms",
     "REPORT RequestId: <uuid>\tDuration: <ms>\tBilled Duration: <ms>"),
    ("sha256 1875495b9aa53527bac214db9eb8756dae4eb6e9404d34a45103807fd329bd6a  (52.0 s, cached)",
     "sha256 <sha256>  (<s>, cached)"),
    ("wrote build/model/model.joblib (174.4 kB, sha256 ea26b14d2aa1…) and model.json",
     "wrote build/model/model.joblib (174.4 kB, sha256 <sha256>…) and model.json"),
    ("2026-11-25T16:29:11.440Z 937ac2f0-e7e4-47f6-afd3-4f1025b8f3f6 Task timed out after 1.00 seconds",
     "<time> <uuid> Task timed out after 1.00 seconds"),
    ("  state     /tmp/lambdapack-docs-x1/p7/.lambdapack/iris.json", "  state     <tmp>"),
    ("in /root/.pyenv/versions/3.12.1/bin/python3.12 (layer dist/layer.zip)", "in <python> (layer dist/layer.zip)"),
    ("CPython 3.12.1 imports all 7 top-level packages", "CPython 3.12.x imports all 7 top-level packages"),
    ("  max memory used 125 of 512 MB", "  max memory used <mb> of 512 MB"),
    ("lambdapack demo — the guide, locally (37 s)", "lambdapack demo — the guide, locally (<s>)"),
    ("  endpoint  https://jwdcooiz.execute-api.us-east-1.amazonaws.com/predict",
     "  endpoint  https://<api>.execute-api.us-east-1.amazonaws.com/predict"),
])
def test_the_normaliser_replaces_what_varies_between_runs(raw: str, normalised: str) -> None:
    assert dx.normalise(raw) == normalised


@pytest.mark.parametrize("kept", [
    "function iris (python3.12, x86_64, 512 MB, 30 s)",  # settings are not timings
    "python3.12 (Python 3.12.1), 512 MB, timeout 1 s",
    "zipped 50.7 MB — direct upload limit 52.4 MB: fits",  # sizes are compared
    "layer iris-deps (50,656,322 bytes, sha256 1875495b9aa5)",  # a prefix without … is compared
    "Testing accuracy: 0.98",
    "scikit-learn 1.9.1, numpy 2.5.5",  # library versions are compared
])
def test_the_normaliser_leaves_what_a_reader_relies_on(kept: str) -> None:
    assert dx.normalise(kept).replace("3.12.x", "3.12.1") == kept


def test_gaps_stand_for_lines_and_inline_ellipses_for_text() -> None:
    actual = ["• resolving", "• reusing", "dist/layer.zip  python3.12", "  layer OK"]
    assert dx.matches(["• resolving", "…", "  layer OK"], actual)
    assert dx.matches(["...", "dist/layer.zip  …"], actual[:3])
    assert not dx.matches(["• resolving", "  layer OK"], actual)
    assert not dx.matches(["• resolving", "…", "  layer FAILS"], actual)


@pytest.fixture(scope="session")
def doc_fixtures(tmp_path_factory: pytest.TempPathFactory, layer_download_cache: Path) -> Iterator[dx.Fixtures]:
    # the examples' own cache: its resolutions are pinned to the day the outputs were written
    fixtures = dx.Fixtures(tmp_path_factory.mktemp("docs"), layer_download_cache / "doc-examples")
    yield fixtures
    fixtures.close()


@pytest.mark.parametrize("block", [
    pytest.param(b, id=b.where, marks=() if b.marker.fixture in FAST_FIXTURES else pytest.mark.slow)
    for b in BLOCKS])
def test_the_example_shows_what_it_prints(block: dx.Block, doc_fixtures: dx.Fixtures) -> None:
    outcome = dx.run_block(block, doc_fixtures)
    assert outcome.ok, (f"{block.where} shows other output than it prints now:\n{outcome.message}\n"
                        f"regenerate: python tests/docs/docexamples.py --update {block.path.relative_to(dx.ROOT)}")
