"""Sections the bench renderers write (docs/benchmarks.md and others) equal their recorded runs."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import generated as gen
import pytest

SECTIONS = [s for path in gen.doc_paths() for s in gen.sections(path)]


def test_the_benchmark_figures_are_generated_sections() -> None:
    # every recorded run has its rendering in the docs
    commands = " ".join(s.command for s in SECTIONS)
    recorded = sorted(p.relative_to(gen.ROOT).as_posix() for p in (gen.ROOT / "docs" / "bench").glob("*.json"))
    assert "docs/bench/full-run.json" in recorded
    for json_file in recorded:
        assert json_file in commands


@pytest.mark.parametrize("section", SECTIONS, ids=[s.where for s in SECTIONS])
def test_the_section_is_what_its_command_prints(section: gen.Section) -> None:
    assert not gen.stale(section), (f"{section.where} differs from `{section.command}`; "
                                    "regenerate: python tests/docs/generated.py --update")


def test_a_stale_or_broken_section_is_reported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(gen, "ROOT", tmp_path)
    doc = tmp_path / "page.md"
    command = "python bench/run.py --from-json docs/bench/full-run.json"
    doc.write_text(f"Text.\n<!-- generated: {command} -->\n| old | table |\n<!-- end generated -->\n")
    [section] = gen.sections(doc)
    assert (section.command, section.body) == (command, ("| old | table |",))
    doc.write_text("<!-- generated: python bench/x.py -->\nno end\n")
    with pytest.raises(gen.GeneratedError, match="never closed"):
        gen.sections(doc)
    with pytest.raises(gen.GeneratedError, match="renderer under bench/"):
        gen.output_of("rm -rf /")


def test_update_rewrites_only_the_section(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bench = tmp_path / "bench"
    bench.mkdir()
    (bench / "say.py").write_text("print('| new |')\nprint('| table |')\n")
    monkeypatch.setattr(gen, "ROOT", tmp_path)
    doc = tmp_path / "page.md"
    doc.write_text("before\n<!-- generated: python bench/say.py -->\n| old |\n<!-- end generated -->\nafter\n")
    [section] = gen.sections(doc)
    assert gen.stale(section)
    assert gen.update(doc) == 1
    assert doc.read_text() == ("before\n<!-- generated: python bench/say.py -->\n| new |\n| table |\n"
                               "<!-- end generated -->\nafter\n")
    assert not gen.stale(gen.sections(doc)[0]) and gen.update(doc) == 0


# Runs a renderer the way generated.py does, then fails if it imported a plotting library.
NO_PLOTTING = """
import os, runpy, sys
sys.argv = sys.argv[1:]
sys.path[0] = os.path.dirname(os.path.abspath(sys.argv[0]))  # as `python SCRIPT` sets it
try:
    runpy.run_path(sys.argv[0], run_name="__main__")
except SystemExit as exc:
    if exc.code not in (0, None):
        raise
if "matplotlib" in sys.modules:
    sys.exit(sys.argv[0] + " imported matplotlib to render text")
"""
UNTRACKED_DIRS = {".git", ".venv", "__pycache__", ".pytest_cache", ".ruff_cache", ".hypothesis", "node_modules"}


def _files(root: Path) -> dict[str, tuple[int, int]]:
    """Every file of the checkout (caches and the venv aside): size and modification time."""
    found: dict[str, tuple[int, int]] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if d not in UNTRACKED_DIRS and not d.endswith(".egg-info")]
        for name in filenames:
            path = Path(dirpath) / name
            with_stat = path.lstat()
            found[path.relative_to(root).as_posix()] = (with_stat.st_size, with_stat.st_mtime_ns)
    return found


def _git_status() -> str | None:
    git = shutil.which("git")
    if git is None or not (gen.ROOT / ".git").exists():
        return None
    return subprocess.run([git, "status", "--porcelain"], cwd=gen.ROOT, capture_output=True, text=True,
                          check=True).stdout


def test_rendering_the_sections_writes_nothing_and_needs_no_plotting_library() -> None:
    """The check reads committed runs and prints text: it leaves the checkout as it found it (no file
    rewritten, even with the same bytes; a read-only checkout works) and never imports matplotlib."""
    status, before = _git_status(), _files(gen.ROOT)
    for section in SECTIONS:
        argv = shlex.split(section.command)
        done = subprocess.run([sys.executable, "-c", NO_PLOTTING, *argv[1:]], cwd=gen.ROOT, capture_output=True,
                              text=True, timeout=120, check=False)
        assert done.returncode == 0, f"`{section.command}`: {done.stderr.strip()[-500:]}"
        assert tuple(line.rstrip() for line in done.stdout.strip("\n").split("\n")) == tuple(
            line.rstrip() for line in section.body), section.where
    after = _files(gen.ROOT)
    changed = sorted(name for name in before.keys() | after.keys() if before.get(name) != after.get(name))
    assert not changed, f"rendering the generated sections wrote into the checkout: {changed}"
    assert _git_status() == status
