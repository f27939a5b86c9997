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

# Each pattern is a phrase with no product meaning, named by its kind: the planning around the
# work, or how and where the product was made (its history, its makers, their machine and files).
# Words that do have a product meaning here stay allowed: a Lambda "task" (LAMBDA_TASK_ROOT), a boto3
# "session", a bench "round", a test "helper", "this machine" (the one running lambdapack), "commit"
# as a verb, "nothing was changed" (a dry run).
INTERNAL = {
    "issue number": re.compile(r"\b[Ii]ssues? ?#?\d+"),
    "tracker reference": re.compile(r"(?<![\w&#/'\"=-])#\d+\b(?![\w-])"),
    "role title": re.compile(r"\bCEO\b"),
    "planning round": re.compile(r"\b(?:[Rr]ound|[Ss]print|[Mm]ilestone) \d+\b"),
    "work session": re.compile(r"\b(?:work|working|review|coding|this) session\b"),
    "the makers' machine": re.compile(r"\b(?:the|our|this project's) (?:development|dev) machine\b", re.I),
    "the makers": re.compile(r"\b(?:other|fellow) (?:engineers|developers|teams)\b|\bengineers' (?:test )?suites\b",
                             re.I),
    "change history": re.compile(r"\bbefore (?:these|this|the|our) (?:changes?|fix(?:es)?|rewrite)\b", re.I),
    "commit as history": re.compile(r"\b[Cc]ommits? [0-9a-f]{7,40}\b"),
    "design file outside the repository": re.compile(r"\b(?:DESIGN|STYLE|BRIEF)\.md\b"),
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
    # how and where the product was made
    assert hits("Every example below was run on this project's development machine")
    assert hits("on the development machine with nothing else running") and hits("our dev machine")
    assert hits("shared with other engineers' test suites") and hits("not quiet: other engineers' suites were")
    assert hits("22.4 s in the last recorded run before these changes") and hits("before the fix it hung")
    assert hits("as of commit 1338c40") and hits("see DESIGN.md") and hits("day, DESIGN.md).")
    assert not hits("this machine is x86_64; the machine was shared with other work; Debian 12 x86_64 machine")
    assert not hits("dry run: nothing was changed; commit the lock file; sha256 c0c6e738e1357b70")
    assert not hits("the layer's design; docs/architecture.md; SECURITY.md; a change of runtime")


def test_product_text_has_no_internal_vocabulary() -> None:
    found = [f"{path.relative_to(ROOT).as_posix()}:{n}: {hit}" for path in product_files()
             for n, line in enumerate(path.read_text("utf-8", "replace").splitlines(), 1) for hit in hits(line)]
    assert not found, "internal vocabulary in product text:\n" + "\n".join(found)
