"""Sections of README.md and docs/*.md that a command writes, kept equal to its output.

A generated section sits between two HTML comments, invisible on GitHub:

    <!-- generated: python bench/run.py --from-json docs/bench/full-run.json -->
    ...exactly what the command prints on stdout...
    <!-- end generated -->

Only renderers of recorded runs belong here: they read a JSON committed next to the doc and
measure nothing, so the check is fast and exact (no normalising). A figure in such a section
cannot drift from its recorded run, and a renderer change that alters a table fails the suite
until the doc is regenerated.

    python tests/docs/generated.py --check      # every section equals its command's output
    python tests/docs/generated.py --update     # rewrite every section from its command
"""

from __future__ import annotations

import argparse
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOC_FILES = ("README.md", "docs/*.md")
START = re.compile(r"^<!--\s*generated:\s*(?P<command>.+?)\s*-->\s*$")
END = re.compile(r"^<!--\s*end generated\s*-->\s*$")


class GeneratedError(Exception):
    pass


@dataclass(frozen=True)
class Section:
    path: Path
    start: int  # index of the opening comment's line
    end: int  # index of the closing comment's line
    command: str
    body: tuple[str, ...]

    @property
    def where(self) -> str:
        return f"{self.path.relative_to(ROOT)}:{self.start + 1}"


def doc_paths() -> list[Path]:
    return sorted({p for pattern in DOC_FILES for p in ROOT.glob(pattern)})


def sections(path: Path) -> list[Section]:
    lines = path.read_text(encoding="utf-8").split("\n")
    found: list[Section] = []
    open_at: int | None = None
    command = ""
    for index, line in enumerate(lines):
        if (match := START.match(line)) is not None:
            if open_at is not None:
                raise GeneratedError(f"{path.relative_to(ROOT)}:{index + 1}: a generated section inside another")
            open_at, command = index, match["command"]
        elif END.match(line):
            if open_at is None:
                raise GeneratedError(f"{path.relative_to(ROOT)}:{index + 1}: `end generated` without its start")
            found.append(Section(path, open_at, index, command, tuple(lines[open_at + 1:index])))
            open_at = None
    if open_at is not None:
        raise GeneratedError(f"{path.relative_to(ROOT)}:{open_at + 1}: a generated section is never closed")
    return found


def output_of(command: str) -> tuple[str, ...]:
    """The command's stdout as doc lines (``python`` is this interpreter; run from the repository root)."""
    argv = shlex.split(command)
    if argv[:1] != ["python"] or len(argv) < 2 or not argv[1].startswith("bench/"):
        raise GeneratedError(f"`{command}`: a generated section runs a renderer under bench/ (`python bench/…`)")
    done = subprocess.run([sys.executable, *argv[1:]], cwd=ROOT, capture_output=True, text=True, timeout=120,
                          check=False)
    if done.returncode != 0:
        raise GeneratedError(f"`{command}` failed (exit {done.returncode}): {done.stderr.strip()[-500:]}")
    return tuple(line.rstrip() for line in done.stdout.strip("\n").split("\n"))


def stale(section: Section) -> bool:
    return tuple(line.rstrip() for line in section.body) != output_of(section.command)


def update(path: Path) -> int:
    """Rewrite every section of ``path``; the number that changed."""
    lines = path.read_text(encoding="utf-8").split("\n")
    changed = 0
    for section in reversed(sections(path)):  # last first: earlier line numbers stay valid
        new = list(output_of(section.command))
        if new != list(section.body):
            lines[section.start + 1:section.end] = new
            changed += 1
    if changed:  # an unchanged page is not rewritten, not even with the same bytes
        path.write_text("\n".join(lines), encoding="utf-8")
    return changed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--check", action="store_true", help="compare every section with its command's output")
    mode.add_argument("--update", action="store_true", help="rewrite every section from its command")
    args = parser.parse_args(argv)
    try:
        if args.update:
            for path in doc_paths():
                if (n := update(path)):
                    print(f"{path.relative_to(ROOT)}: {n} section(s) rewritten")
            return 0
        bad = [s.where for path in doc_paths() for s in sections(path) if stale(s)]
    except GeneratedError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    for where in bad:
        print(f"stale: {where} (python tests/docs/generated.py --update)")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
