"""Product text (code, CLI output, templates, docs) carries no internal process vocabulary.

Users read lambdapack's messages, docs and benchmark output; an issue number or a planning word
there points at a tracker they cannot see. The scan covers every text file that ships or is
published: the package, the templates, the benches, the docs, the examples, README and SECURITY.
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCANNED = ("lambdapack", "templates", "bench", "docs", "examples", "README.md", "SECURITY.md")
SUFFIXES = {".py", ".md", ".yaml", ".yml", ".json", ".txt", ".toml", ".sh", ".csv", ".cfg"}

# Each pattern is a phrase with no product meaning. Words that do have one here stay allowed:
# a Lambda "task" (LAMBDA_TASK_ROOT), a boto3 "session", a bench "round", a test "helper".
INTERNAL = {
    "issue number": re.compile(r"\b[Ii]ssues? ?#?\d+"),
    "tracker reference": re.compile(r"(?<![\w&#/'\"=-])#\d+\b(?![\w-])"),
    "role title": re.compile(r"\bCEO\b"),
    "planning round": re.compile(r"\b(?:[Rr]ound|[Ss]print|[Mm]ilestone) \d+\b"),
    "work session": re.compile(r"\b(?:work|working|review|coding|this) session\b"),
}

def product_files() -> list[Path]:
    files: list[Path] = []
    for name in SCANNED:
        path = ROOT / name
        files += [path] if path.is_file() else sorted(p for p in path.rglob("*")
                                                      if p.suffix in SUFFIXES and "__pycache__" not in p.parts)
    return files


def hits(text: str) -> list[str]:
    return [f"{what}: {m.group(0)!r}" for what, pattern in INTERNAL.items() for m in pattern.finditer(text)]


def test_the_patterns_catch_what_they_are_for_and_not_product_words() -> None:
    assert hits("### Issue 3 goals, from the rows above")
    assert hits("the layer goals of issue 3") and hits("see #42 for the plan") and hits("as the CEO asked")
    assert hits("round 2 of the work") and hits("in this session we")
    assert not hits("LAMBDA_TASK_ROOT=/var/task; Task timed out after 1.00 seconds")
    assert not hits("one boto3 session; paired by round; median over rounds; the archive's helpers")
    assert not hits('color="#868e96"; [formats](formats.md#model--layer-agreement); &#39; {"a": "#1"}')


def test_product_text_has_no_internal_vocabulary() -> None:
    found = [f"{path.relative_to(ROOT).as_posix()}:{n}: {hit}" for path in product_files()
             for n, line in enumerate(path.read_text("utf-8", "replace").splitlines(), 1) for hit in hits(line)]
    assert not found, "internal vocabulary in product text:\n" + "\n".join(found)
